package factory

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/registrar"
)

func env(vars map[string]string) Getenv {
	return func(key string) string { return vars[key] }
}

func TestNew(t *testing.T) {
	t.Parallel()
	adapters, err := New([]string{"hostup", "hostway", "sim"}, env(map[string]string{
		"REGSYNC_HOSTUP_URL":     "https://cloud.hostup.example",
		"REGSYNC_HOSTUP_TOKEN":   "tok",
		"REGSYNC_HOSTWAY_URL":    "https://api.hostway.example",
		"REGSYNC_HOSTWAY_TOKEN":  "hw-tok",
		"REGSYNC_SIM_LATENCY":    "5ms",
		"REGSYNC_SIM_FAULT_RATE": "0.1",
	}))
	require.NoError(t, err)
	require.Len(t, adapters, 3)
	for i, name := range []string{"hostup", "hostway", "sim"} {
		require.Equal(t, name, adapters[i].Name())
	}

	_, err = New([]string{"nope"}, env(nil))
	require.ErrorContains(t, err, `unknown registrar adapter "nope": want one of hostup, hostway, sim`)
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

func TestCapabilities(t *testing.T) {
	t.Parallel()
	adapters, err := New(Names(), env(map[string]string{
		"REGSYNC_HOSTUP_URL":    "https://cloud.hostup.example",
		"REGSYNC_HOSTUP_TOKEN":  "tok",
		"REGSYNC_HOSTWAY_URL":   "https://api.hostway.example",
		"REGSYNC_HOSTWAY_TOKEN": "hw-tok",
	}))
	require.NoError(t, err)

	tests := []struct {
		name           string
		readsStatus    bool
		resetsTransfer bool
		readsTransfer  bool
	}{
		{"hostup", true, false, false},
		{"hostway", false, true, true},
		{"sim", true, true, true},
	}
	for i, tt := range tests {
		require.Equal(t, tt.name, adapters[i].Name())
		_, ok := adapters[i].(registrar.Registrar)
		require.Equal(t, tt.readsStatus, ok, tt.name)
		_, ok = adapters[i].(registrar.TransferResetter)
		require.Equal(t, tt.resetsTransfer, ok, tt.name)
		_, ok = adapters[i].(registrar.TransferStatusReader)
		require.Equal(t, tt.readsTransfer, ok, tt.name)
	}
}

func TestNewHostway(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("hw-file-tok\n"), 0o600))

	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string
	}{
		{"token", map[string]string{"REGSYNC_HOSTWAY_URL": "https://api.hostway.example", "REGSYNC_HOSTWAY_TOKEN": "hw-tok", "REGSYNC_HOSTWAY_TIMEOUT": "3s"}, ""},
		{"token file", map[string]string{"REGSYNC_HOSTWAY_URL": "https://api.hostway.example", "REGSYNC_HOSTWAY_TOKEN_FILE": tokenFile}, ""},
		{"no token", map[string]string{"REGSYNC_HOSTWAY_URL": "https://api.hostway.example"}, "REGSYNC_HOSTWAY_TOKEN is not set"},
		{"bad url", map[string]string{"REGSYNC_HOSTWAY_URL": "api.hostway.example", "REGSYNC_HOSTWAY_TOKEN": "hw-tok"}, "hostway: base url"},
		{"bad timeout", map[string]string{"REGSYNC_HOSTWAY_URL": "https://api.hostway.example", "REGSYNC_HOSTWAY_TOKEN": "hw-tok", "REGSYNC_HOSTWAY_TIMEOUT": "soon"}, "REGSYNC_HOSTWAY_TIMEOUT"},
		{"zero timeout", map[string]string{"REGSYNC_HOSTWAY_URL": "https://api.hostway.example", "REGSYNC_HOSTWAY_TOKEN": "hw-tok", "REGSYNC_HOSTWAY_TIMEOUT": "0s"}, "hostway: timeout 0s is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			adapters, err := New([]string{"hostway"}, env(tt.vars))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "hw-tok")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "hostway", adapters[0].Name())
		})
	}
}
