package registrar_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    registrar.Status
		wantErr bool
	}{
		{in: "pending", want: registrar.StatusPending},
		{in: "active", want: registrar.StatusActive},
		{in: "suspended", want: registrar.StatusSuspended},
		{in: "terminated", want: registrar.StatusTerminated},
		{in: "cancelled", want: registrar.StatusCancelled},
		{in: "expired", want: registrar.StatusExpired},
		{in: "fraud", want: registrar.StatusFraud},
		{in: "unknown", want: registrar.StatusUnknown},
		{in: "", wantErr: true},
		{in: "Active", wantErr: true},
		{in: " active", wantErr: true},
		{in: "active\n", wantErr: true},
		{in: "canceled", wantErr: true},
		{in: "ok", wantErr: true},
	}
	var accepted []registrar.Status
	for _, tt := range tests {
		if !tt.wantErr {
			accepted = append(accepted, tt.want)
		}
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := registrar.ParseStatus(tt.in)
			if tt.wantErr {
				require.ErrorContains(t, err, fmt.Sprintf("%q", tt.in))
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.ElementsMatch(t, registrar.Statuses, accepted)
}

// FuzzParseStatus checks that ParseStatus accepts exactly the values of
// [registrar.Statuses], spelled exactly, and names any other value it rejects.
func FuzzParseStatus(f *testing.F) {
	for _, s := range registrar.Statuses {
		f.Add(string(s))
	}
	f.Add("")
	f.Add("ACTIVE")
	f.Add("active ")
	f.Add("\xff")

	f.Fuzz(func(t *testing.T, in string) {
		got, err := registrar.ParseStatus(in)
		if !slices.Contains(registrar.Statuses, registrar.Status(in)) {
			require.ErrorContains(t, err, fmt.Sprintf("%q", in))
			require.Empty(t, got)
			return
		}
		require.NoError(t, err)
		require.Equal(t, registrar.Status(in), got)
		require.True(t, got.Valid())
	})
}
