package registrar

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"active", 10, "active"},
		{"tab\there", 20, "tab\there"},
		{"nul\x00byte", 20, "nul\ufffdbyte"},
		{"bad\xff\xfeutf8", 20, "bad\ufffd\ufffdutf8"},
		{"line\r\nbreak", 20, "line\ufffd\ufffdbreak"},
		{"a real \ufffd stays", 30, "a real \ufffd stays"},
		{strings.Repeat("x", 20), 10, "xxxxxxx…"},
		{"ééééé", 8, "éé…"}, // cut at a character boundary: 2+2+3 bytes
		{"", 5, ""},
	}
	for _, tt := range tests {
		got := CleanText(tt.in, tt.limit)
		require.Equal(t, tt.want, got, "CleanText(%q, %d)", tt.in, tt.limit)
		require.LessOrEqual(t, len(got), tt.limit)
	}
}

func FuzzCleanText(f *testing.F) {
	f.Add("active", 16)
	f.Add("\x00\xff\xfe", 4)
	f.Add(strings.Repeat("é", 100), 7)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = 4 + abs(limit)%2048
		got := CleanText(s, limit)
		if len(got) > limit {
			t.Fatalf("CleanText(%q, %d) = %d bytes", s, limit, len(got))
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, isUnsafe) {
			t.Fatalf("CleanText(%q, %d) = %q is not clean", s, limit, got)
		}
		if CleanText(got, limit) != got {
			t.Fatalf("CleanText is not idempotent on %q", got)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestCleanErrorKeepsTheChain(t *testing.T) {
	t.Parallel()
	apiErr := &APIError{Registrar: "hostup", Status: 503, Code: "bad\x00code", Detail: "down\xff", RequestID: strings.Repeat("r", 500)}
	err := CleanError(fmt.Errorf("hostup: read status: %w", apiErr))
	require.ErrorIs(t, err, ErrUnavailable)
	var got *APIError
	require.ErrorAs(t, err, &got)
	require.Equal(t, "bad\ufffdcode", got.Code)
	require.Equal(t, "down\ufffd", got.Detail)
	require.Len(t, got.RequestID, MaxIDBytes)
	require.True(t, utf8.ValidString(err.Error()))
	require.NotContains(t, err.Error(), "\x00")

	plain := errors.New("plain")
	require.Same(t, plain, CleanError(plain), "a clean error comes back as it is")
	require.NoError(t, CleanError(nil))
}
