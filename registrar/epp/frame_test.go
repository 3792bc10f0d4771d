package epp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// frame returns payload as an RFC 5734 data unit, built by hand.
func frame(payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(payload)))
	return append(b, payload...)
}

func TestFrameRoundTrip(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	payloads := []string{"<epp/>", "", "<greeting>åäö</greeting>"}
	for _, p := range payloads {
		require.NoError(t, WriteFrame(&buf, []byte(p)))
	}
	require.Equal(t, frame("<epp/>"), buf.Bytes()[:10], "the length counts the 4 header bytes")
	for _, p := range payloads {
		got, err := ReadFrame(&buf, 64)
		require.NoError(t, err)
		require.Equal(t, p, string(got))
	}
	_, err := ReadFrame(&buf, 64)
	require.ErrorIs(t, err, io.EOF, "a stream ending between frames ends cleanly")
}

func TestReadFrameLimits(t *testing.T) {
	t.Parallel()

	t.Run("at the limit", func(t *testing.T) {
		t.Parallel()
		got, err := ReadFrame(bytes.NewReader(frame("12345678")), 8)
		require.NoError(t, err)
		require.Equal(t, "12345678", string(got))
	})
	t.Run("over the limit", func(t *testing.T) {
		t.Parallel()
		_, err := ReadFrame(bytes.NewReader(frame("123456789")), 8)
		require.ErrorIs(t, err, ErrFrameTooLarge)
	})
	t.Run("huge header reads nothing more", func(t *testing.T) {
		t.Parallel()
		// A header announcing 4 GiB in front of an endless stream: the
		// reader must refuse on the header alone, before allocating or
		// reading the payload.
		r := &countingReader{r: io.MultiReader(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), zeros{})}
		_, err := ReadFrame(r, 1<<20)
		require.ErrorIs(t, err, ErrFrameTooLarge)
		require.Equal(t, 4, r.n)
	})
	for _, total := range []uint32{0, 1, 3} {
		t.Run("header below 4", func(t *testing.T) {
			t.Parallel()
			_, err := ReadFrame(bytes.NewReader(binary.BigEndian.AppendUint32(nil, total)), 8)
			require.ErrorIs(t, err, ErrBadFrameHeader)
		})
	}
	t.Run("truncated header", func(t *testing.T) {
		t.Parallel()
		_, err := ReadFrame(bytes.NewReader([]byte{0, 0}), 8)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("truncated payload", func(t *testing.T) {
		t.Parallel()
		_, err := ReadFrame(bytes.NewReader(frame("12345678")[:8]), 8)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// FuzzReadFrame checks that the frame reader never panics, never returns
// more than the limit, and that what it returns is exactly what the header
// announced.
func FuzzReadFrame(f *testing.F) {
	f.Add(frame("<epp/>"), uint16(16))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(16))
	f.Add([]byte{0, 0, 0, 3}, uint16(16))
	f.Add([]byte{0, 0, 0, 4}, uint16(0))
	f.Add(append(frame("a"), frame("bc")...), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		r := bytes.NewReader(data)
		for {
			got, err := ReadFrame(r, int64(limit))
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrBadFrameHeader) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(got) > int(limit) {
				t.Fatalf("payload of %d bytes over the limit %d", len(got), limit)
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, got); err != nil {
				t.Fatal(err)
			}
			again, err := ReadFrame(&buf, int64(limit))
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("round trip of %q: %q, %v", got, again, err)
			}
		}
	})
}
