package registrar_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

// FuzzMapHostup checks that MapHostup returns a valid status, never fraud,
// the same on every call, and the raw value itself exactly when that is a
// status a registrar may report.
func FuzzMapHostup(f *testing.F) {
	for _, s := range registrar.Statuses {
		f.Add(string(s))
	}
	f.Add("")
	f.Add("Active")
	f.Add("ok")

	f.Fuzz(func(t *testing.T, raw string) {
		got := registrar.MapHostup(raw)
		require.True(t, got.Valid(), "invalid status %q", got)
		require.NotEqual(t, registrar.StatusFraud, got)
		require.Equal(t, got, registrar.MapHostup(raw), "not deterministic")

		reportable := registrar.Status(raw).Valid() && raw != string(registrar.StatusFraud)
		if reportable {
			require.Equal(t, registrar.Status(raw), got)
		} else {
			require.Equal(t, registrar.StatusUnknown, got)
		}
	})
}
