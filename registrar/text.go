package registrar

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on registrar text that regsync records and logs. A registrar can
// answer anything, and PostgreSQL rejects a NUL byte or invalid UTF-8 in a
// text column, which would fail the whole write that records the answer.
const (
	// MaxRawBytes bounds a raw status.
	MaxRawBytes = 256
	// MaxIDBytes bounds request ids and sponsor ids.
	MaxIDBytes = 128
	// MaxMessageBytes bounds error messages and descriptions.
	MaxMessageBytes = 1024
)

// CleanText returns s made safe to store and log: each invalid UTF-8 byte
// and each control character other than tab becomes U+FFFD, and the result
// is cut at a character boundary to at most limit bytes, ending in "…"
// when it was cut. Clean text short enough comes back as it is.
func CleanText(s string, limit int) string {
	if len(s) <= limit && utf8.ValidString(s) && !strings.ContainsFunc(s, isUnsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // an invalid byte ranges as utf8.RuneError
		if isUnsafe(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		if b.Len() > limit {
			break
		}
	}
	out := b.String()
	if len(out) <= limit {
		return out
	}
	const ellipsis = "…"
	cut := max(limit-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis
}

// isUnsafe reports whether r must not reach a record or a log line.
func isUnsafe(r rune) bool { return r != '\t' && unicode.IsControl(r) }

// Clean returns r with the text the registrar supplied cleaned and
// bounded by [CleanText]. Adapters' readings pass through it before the
// worker records them.
func (r StatusReading) Clean() StatusReading {
	r.Raw = CleanText(r.Raw, MaxRawBytes)
	r.RequestID = CleanText(r.RequestID, MaxIDBytes)
	r.Sponsor = CleanText(r.Sponsor, MaxIDBytes)
	return r
}

// Clean returns s with the text the registrar supplied cleaned and
// bounded by [CleanText].
func (s TransferStatus) Clean() TransferStatus {
	s.Description = CleanText(s.Description, MaxMessageBytes)
	s.RequestID = CleanText(s.RequestID, MaxIDBytes)
	return s
}

// CleanError returns err with a message cleaned and bounded by
// [CleanText], for errors that quote what a registrar sent. errors.Is and
// errors.As see through it to err; the registrar's fields on an
// [*APIError] in the chain are cleaned in place.
func CleanError(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Code = CleanText(apiErr.Code, MaxIDBytes)
		apiErr.Detail = CleanText(apiErr.Detail, MaxMessageBytes)
		apiErr.RequestID = CleanText(apiErr.RequestID, MaxIDBytes)
		for i, f := range apiErr.FieldErrors {
			apiErr.FieldErrors[i] = FieldError{
				Pointer: CleanText(f.Pointer, MaxIDBytes),
				Detail:  CleanText(f.Detail, MaxMessageBytes),
				Code:    CleanText(f.Code, MaxIDBytes),
			}
		}
	}
	msg := err.Error()
	clean := CleanText(msg, MaxMessageBytes)
	if clean == msg {
		return err
	}
	return &cleanError{msg: clean, err: err}
}

// cleanError is an error whose message was cleaned.
type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }
