package factory

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/regsync/regsync/internal/envconfig"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp/epptest"
	"github.com/regsync/regsync/registrar/sim"
)

func env(vars map[string]string) envconfig.Getenv {
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
	require.ErrorContains(t, err, `unknown registrar adapter "nope": want one of epp, hostup, hostway, rdap, sim`)
	_, err = New([]string{"hostup"}, env(map[string]string{"REGSYNC_HOSTUP_URL": "https://x.example"}))
	require.ErrorContains(t, err, "REGSYNC_HOSTUP_TOKEN is not set")
	_, err = New([]string{"sim"}, env(map[string]string{"REGSYNC_SIM_LATENCY": "soon"}))
	require.ErrorContains(t, err, "REGSYNC_SIM_LATENCY")
	_, err = New([]string{"sim"}, env(map[string]string{"REGSYNC_SIM_FAULT_RATE": "2"}))
	require.ErrorContains(t, err, "fault rate")
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	adapters, err := New(Names(), env(map[string]string{
		"REGSYNC_EPP_ADDR":      "epp.registry.example:700",
		"REGSYNC_EPP_CLIENT_ID": "regsync",
		"REGSYNC_EPP_PASSWORD":  "epp-Pass1",
		"REGSYNC_HOSTUP_URL":    "https://cloud.hostup.example",
		"REGSYNC_HOSTUP_TOKEN":  "tok",
		"REGSYNC_HOSTWAY_URL":   "https://api.hostway.example",
		"REGSYNC_HOSTWAY_TOKEN": "hw-tok",
	}))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, Close(adapters)) })

	tests := []struct {
		name           string
		readsStatus    bool
		resetsTransfer bool
		readsTransfer  bool
	}{
		{"epp", true, true, true},
		{"hostup", true, false, false},
		{"hostway", false, true, true},
		{"rdap", true, false, false},
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

// TestNewEPP configures the EPP adapter from the environment alone, PEM
// files and password file included, and reads a status through it from a
// test server that demands the client certificate.
func TestNewEPP(t *testing.T) {
	t.Parallel()
	backend, err := sim.New(sim.DefaultConfig())
	require.NoError(t, err)
	domain := registrar.Domain{ID: "dom_1", Name: "example.se"}
	require.NoError(t, backend.Script(domain.ID, domain.Name, []string{"active"}, false))
	srv, err := epptest.NewServer(epptest.Config{Backend: backend, ClientID: "ClientX", Password: "epp-Pass1", RequireClientCert: true})
	require.NoError(t, err)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	cert, key := srv.ClientCertPEM()
	vars := map[string]string{
		"REGSYNC_EPP_ADDR":          srv.Addr(),
		"REGSYNC_EPP_CLIENT_ID":     "ClientX",
		"REGSYNC_EPP_PASSWORD_FILE": write("password", []byte("epp-Pass1\n")),
		"REGSYNC_EPP_CA_FILE":       write("ca.pem", srv.CAPEM()),
		"REGSYNC_EPP_CERT_FILE":     write("cert.pem", cert),
		"REGSYNC_EPP_KEY_FILE":      write("key.pem", key),
		"REGSYNC_EPP_SERVER_NAME":   "localhost",
		"REGSYNC_EPP_SESSIONS":      "1",
		"REGSYNC_EPP_TIMEOUT":       "5s",
		"REGSYNC_EPP_KEEPALIVE":     "1m",
	}
	adapters, err := New([]string{"epp"}, env(vars))
	require.NoError(t, err)
	reading, err := adapters[0].(registrar.Registrar).ReadStatus(t.Context(), domain)
	require.NoError(t, err)
	require.Equal(t, registrar.StatusActive, reading.Status)
	require.NoError(t, Close(adapters))
	require.Equal(t, 1, srv.Stats().Logouts, "Close logs the session out")

	for _, tt := range []struct{ name, key, value, wantErr string }{
		{"no password", "REGSYNC_EPP_PASSWORD_FILE", "", "REGSYNC_EPP_PASSWORD is not set"},
		{"no address", "REGSYNC_EPP_ADDR", "", `epp: address "" is not host:port`},
		{"bad sessions", "REGSYNC_EPP_SESSIONS", "two", "REGSYNC_EPP_SESSIONS"},
		{"no sessions", "REGSYNC_EPP_SESSIONS", "0", "epp: sessions 0 is not positive"},
		{"bad timeout", "REGSYNC_EPP_TIMEOUT", "soon", "REGSYNC_EPP_TIMEOUT"},
		{"missing key file", "REGSYNC_EPP_KEY_FILE", "", "REGSYNC_EPP_CA_FILE, _CERT_FILE, _KEY_FILE"},
		{"new password is the password", "REGSYNC_EPP_NEW_PASSWORD", "epp-Pass1", "epp: new password is the password"},
	} {
		bad := maps.Clone(vars)
		bad[tt.key] = tt.value
		_, err := New([]string{"epp"}, env(bad))
		require.ErrorContains(t, err, tt.wantErr, tt.name)
		require.NotContains(t, err.Error(), "epp-Pass1", tt.name)
	}
}

func TestNewRDAP(t *testing.T) {
	t.Parallel()
	adapters, err := New([]string{"rdap"}, env(map[string]string{
		"REGSYNC_RDAP_OVERRIDES":         "se=https://rdap.example.se/",
		"REGSYNC_RDAP_BOOTSTRAP_REFRESH": "12h",
		"REGSYNC_RDAP_TIMEOUT":           "3s",
	}))
	require.NoError(t, err)
	require.Equal(t, "rdap", adapters[0].Name())

	for _, tt := range []struct{ key, value, wantErr string }{
		{"REGSYNC_RDAP_OVERRIDES", "se", "REGSYNC_RDAP_OVERRIDES"},
		{"REGSYNC_RDAP_OVERRIDES", "se=http://rdap.example.se/", "REGSYNC_RDAP_OVERRIDES"},
		{"REGSYNC_RDAP_BOOTSTRAP_RETRY", "later", "REGSYNC_RDAP_BOOTSTRAP_RETRY"},
		{"REGSYNC_RDAP_TIMEOUT", "0s", "rdap: timeout 0s is not positive"},
	} {
		_, err := New([]string{"rdap"}, env(map[string]string{tt.key: tt.value}))
		require.ErrorContains(t, err, tt.wantErr, tt.key+"="+tt.value)
	}
}
