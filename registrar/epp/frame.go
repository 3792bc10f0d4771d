package epp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// headerBytes is the size of an RFC 5734 data unit header: the total length
// of the data unit, header included, as a 32-bit big-endian integer.
const headerBytes = 4

// ErrFrameTooLarge is wrapped by [ReadFrame]'s error when a data unit's
// header announces more than the allowed payload. Its payload is not read:
// the connection it came from cannot be used any more.
var ErrFrameTooLarge = errors.New("EPP data unit exceeds the size limit")

// ErrBadFrameHeader is wrapped by [ReadFrame]'s error when a data unit's
// header announces a total length below the 4 header bytes themselves.
var ErrBadFrameHeader = errors.New("EPP data unit header announces less than its own 4 bytes")

// ReadFrame reads one RFC 5734 data unit from r and returns its payload,
// the XML instance. It allocates the payload only after checking that the
// header announces at most maxPayload bytes, so a hostile peer cannot make
// it allocate more; a header over the limit gives an error wrapping
// [ErrFrameTooLarge] and one under 4 an error wrapping [ErrBadFrameHeader].
// A stream that ends before the header is complete gives [io.EOF] when it
// ended cleanly between data units and [io.ErrUnexpectedEOF] otherwise; r's
// other errors are returned as they are.
func ReadFrame(r io.Reader, maxPayload int64) ([]byte, error) {
	var header [headerBytes]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	total := int64(binary.BigEndian.Uint32(header[:]))
	switch {
	case total < headerBytes:
		return nil, fmt.Errorf("%w: total length %d", ErrBadFrameHeader, total)
	case total-headerBytes > maxPayload:
		return nil, fmt.Errorf("%w: %d bytes announced, at most %d allowed", ErrFrameTooLarge, total-headerBytes, maxPayload)
	}
	payload := make([]byte, total-headerBytes)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the header promised more
		}
		return nil, err
	}
	return payload, nil
}

// WriteFrame writes payload to w as one RFC 5734 data unit, in a single
// Write call so that concurrent writers of whole frames cannot interleave.
func WriteFrame(w io.Writer, payload []byte) error {
	if int64(len(payload)) > math.MaxUint32-headerBytes {
		return fmt.Errorf("%w: %d bytes cannot be framed", ErrFrameTooLarge, len(payload))
	}
	buf := make([]byte, headerBytes+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(headerBytes+len(payload))) //nolint:gosec // G115: bounded by the check above
	copy(buf[headerBytes:], payload)
	_, err := w.Write(buf)
	return err
}
