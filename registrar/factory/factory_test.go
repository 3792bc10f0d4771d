package factory

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) Getenv {
	return func(key string) string { return vars[key] }
}

func TestNew(t *testing.T) {
	t.Parallel()
	adapters, err := New([]string{"hostup", "sim"}, env(map[string]string{
		"REGSYNC_HOSTUP_URL":     "https://cloud.hostup.example",
		"REGSYNC_HOSTUP_TOKEN":   "tok",
		"REGSYNC_SIM_LATENCY":    "5ms",
		"REGSYNC_SIM_FAULT_RATE": "0.1",
	}))
	require.NoError(t, err)
	require.Equal(t, "hostup", adapters["hostup"].Name())
	require.Equal(t, "sim", adapters["sim"].Name())

	_, err = New([]string{"nope"}, env(nil))
	require.ErrorContains(t, err, `unknown registrar adapter "nope": want one of hostup, sim`)
	_, err = New([]string{"hostup"}, env(map[string]string{"REGSYNC_HOSTUP_URL": "https://x.example"}))
	require.ErrorContains(t, err, "REGSYNC_HOSTUP_TOKEN is not set")
	_, err = New([]string{"sim"}, env(map[string]string{"REGSYNC_SIM_LATENCY": "soon"}))
	require.ErrorContains(t, err, "REGSYNC_SIM_LATENCY")
	_, err = New([]string{"sim"}, env(map[string]string{"REGSYNC_SIM_FAULT_RATE": "2"}))
	require.ErrorContains(t, err, "fault rate")
}

func TestSecret(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte("s3cret\n"), 0o600))

	got, err := Secret(env(map[string]string{"K_FILE": file}), "K")
	require.NoError(t, err)
	require.Equal(t, "s3cret", got)
	got, err = Secret(env(map[string]string{"K": "direct"}), "K")
	require.NoError(t, err)
	require.Equal(t, "direct", got)

	_, err = Secret(env(map[string]string{"K": "direct", "K_FILE": file}), "K")
	require.ErrorContains(t, err, "not both")
	require.NotContains(t, err.Error(), "direct")
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	_, err = Secret(env(map[string]string{"K_FILE": empty}), "K")
	require.ErrorContains(t, err, "is empty")
	_, err = Secret(env(map[string]string{"K_FILE": "/nonexistent"}), "K")
	require.ErrorContains(t, err, "K_FILE")
}

func TestDuration(t *testing.T) {
	t.Parallel()
	d, err := duration(env(nil), "D", time.Second)
	require.NoError(t, err)
	require.Equal(t, time.Second, d)
}
