package epp

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

func TestSentinel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		code     int
		sentinel error
	}{
		{1000, nil}, {1001, nil}, {1300, nil}, {1301, nil}, {1500, nil},
		{2000, registrar.ErrInvalidRequest},
		{2001, registrar.ErrInvalidRequest},
		{2002, registrar.ErrInvalidRequest},
		{2003, registrar.ErrInvalidRequest},
		{2004, registrar.ErrInvalidRequest},
		{2005, registrar.ErrInvalidRequest},
		{2100, registrar.ErrInvalidRequest},
		{2101, registrar.ErrInvalidRequest},
		{2102, registrar.ErrInvalidRequest},
		{2103, registrar.ErrInvalidRequest},
		{2104, registrar.ErrConflict},
		{2105, registrar.ErrConflict},
		{2106, registrar.ErrConflict},
		{2200, registrar.ErrUnauthorized},
		{2201, registrar.ErrForbidden},
		{2202, registrar.ErrInvalidRequest},
		{2300, registrar.ErrConflict},
		{2301, registrar.ErrNotFound},
		{2302, registrar.ErrConflict},
		{2303, registrar.ErrNotFound},
		{2304, registrar.ErrConflict},
		{2305, registrar.ErrConflict},
		{2306, registrar.ErrInvalidRequest},
		{2307, registrar.ErrInvalidRequest},
		{2308, registrar.ErrInvalidRequest},
		{2400, registrar.ErrUnavailable},
		{2500, registrar.ErrUnavailable},
		{2501, registrar.ErrUnauthorized},
		{2502, registrar.ErrRateLimited},
		// Codes RFC 5730 does not define map by their range.
		{2050, registrar.ErrInvalidRequest},
		{2150, registrar.ErrInvalidRequest},
		{2250, registrar.ErrForbidden},
		{2350, registrar.ErrConflict},
		{2450, registrar.ErrUnavailable},
		{2550, registrar.ErrUnavailable},
		{2600, registrar.ErrBadResponse},
		{999, registrar.ErrBadResponse},
		{3418, registrar.ErrBadResponse},
	}
	for _, tt := range tests {
		if tt.sentinel == nil {
			require.NoError(t, Sentinel(tt.code), "code %d", tt.code)
			continue
		}
		require.ErrorIs(t, Sentinel(tt.code), tt.sentinel, "code %d", tt.code)
	}
	require.True(t, closesSession(2500))
	require.True(t, closesSession(2502))
	require.False(t, closesSession(2400))
}

func TestResultError(t *testing.T) {
	t.Parallel()

	err := error(&ResultError{
		Registrar: "epp-nic", Op: `read status of "example.com"`, Code: 2303,
		Message: "Object does not exist", Reason: "no such domain", ClTRID: "c-1", SvTRID: "s-1",
	})
	require.Equal(t, `epp-nic: read status of "example.com": EPP result 2303 "Object does not exist" (reason "no such domain") (svTRID s-1)`, err.Error())
	require.ErrorIs(t, err, registrar.ErrNotFound)
	require.True(t, registrar.IsPermanent(err))

	limited := &ResultError{Registrar: "epp", Code: 2502, RetryAfter: time.Minute}
	require.ErrorIs(t, limited, registrar.ErrRateLimited)
	require.False(t, registrar.IsPermanent(limited))
	var re *ResultError
	require.ErrorAs(t, error(limited), &re)
	require.Equal(t, time.Minute, re.RetryAfter)

	unauthorized := &ResultError{Registrar: "epp", Code: 2200}
	require.ErrorIs(t, unauthorized, registrar.ErrUnauthorized)
	require.False(t, registrar.IsPermanent(unauthorized), "refused credentials are the operator's problem")
}
