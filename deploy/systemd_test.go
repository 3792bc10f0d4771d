package deploy_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitPath = "systemd/regsync.service"

// unitSettings returns the unit file's settings as "Section.Key" to values.
func unitSettings(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	settings := map[string][]string{}
	var section string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: cannot read %q", unitPath, line)
			}
			settings[section+"."+key] = append(settings[section+"."+key], value)
		}
	}
	return settings
}

func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	data := readFile(t, unitPath)
	s := unitSettings(t, data)
	first := func(key string) string {
		if v := s[key]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	if first("Service.ExecStart") != "/usr/local/bin/regsync serve" {
		t.Errorf("ExecStart %q", first("Service.ExecStart"))
	}
	if first("Service.ExecStartPre") != "/usr/local/bin/regsync migrate" {
		t.Errorf("ExecStartPre %q, want the migrations", first("Service.ExecStartPre"))
	}
	if first("Service.EnvironmentFile") == "" {
		t.Errorf("no EnvironmentFile")
	}
	if first("Service.DynamicUser") != "yes" && first("Service.User") == "" {
		t.Errorf("the service must not run as root: want DynamicUser=yes or User=")
	}
	for key, want := range map[string]string{
		"Service.NoNewPrivileges":       "yes",
		"Service.ProtectSystem":         "strict",
		"Service.ProtectHome":           "yes",
		"Service.PrivateTmp":            "yes",
		"Service.PrivateDevices":        "yes",
		"Service.CapabilityBoundingSet": "",
		"Service.RestrictNamespaces":    "yes",
		"Service.SystemCallFilter":      "@system-service",
	} {
		if !containsString(s[key], want) {
			t.Errorf("%s=%q, want %q", key, s[key], want)
		}
	}
	if d, err := time.ParseDuration(first("Service.TimeoutStopSec")); err != nil || d <= 40*time.Second {
		t.Errorf("TimeoutStopSec %q: want more than the 40 s serve may take to stop", first("Service.TimeoutStopSec"))
	}
	// Secrets come as credentials through the *_FILE variables.
	var names []string
	for _, e := range s["Service.Environment"] {
		name, value, _ := strings.Cut(e, "=")
		names = append(names, name)
		if !strings.HasSuffix(name, "_FILE") || !strings.HasPrefix(value, "%d/") {
			t.Errorf("Environment=%s: put settings in the EnvironmentFile and secrets in credentials", e)
		}
	}
	checkEnvNames(t, unitPath, names)
	checkEnvNames(t, "systemd/regsync.env.example", envFileNames(readFile(t, "systemd/regsync.env.example")))
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on the unit, with
// the regsync binary path pointed at a stub because verify wants it to
// exist. Any output on stderr fails: verify warns there about unknown keys
// and bad values yet exits 0.
func TestSystemdAnalyzeVerify(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("SKIP: systemd-analyze not found; the unit is not verified (apt-get install systemd)")
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "regsync")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := bytes.ReplaceAll(readFile(t, unitPath), []byte("/usr/local/bin/regsync"), []byte(stub))
	if err := os.WriteFile(filepath.Join(dir, "regsync.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		unit    []byte
		wantErr bool
	}{
		{unit, false},
		// The check itself: a misspelled key must be reported.
		{bytes.Replace(unit, []byte("NoNewPrivileges="), []byte("NoNewPrivilege="), 1), true},
	} {
		path := filepath.Join(dir, "regsync.service")
		if err := os.WriteFile(path, tc.unit, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		failed := err != nil || stderr.Len() > 0
		if failed != tc.wantErr {
			t.Errorf("systemd-analyze verify: err %v, stderr:\n%s(want failure: %v)", err, stderr.String(), tc.wantErr)
		}
	}
}

func containsString(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}
