// Package factory builds registrar adapters by name from configuration.
// The map of constructors is explicit: an adapter is available when it is
// listed here, not when its package happens to be imported.
package factory

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/hostup"
	"github.com/regsync/regsync/registrar/hostway"
	"github.com/regsync/regsync/registrar/sim"
)

// Getenv reads a configuration variable; os.Getenv in production.
type Getenv func(key string) string

var constructors = map[string]func(Getenv) (registrar.Named, error){
	"hostup":  newHostup,
	"hostway": newHostway,
	"sim":     newSim,
}

// Names lists the adapters the factory can build.
func Names() []string { return []string{"hostup", "hostway", "sim"} }

// New builds the named adapters, each configured from its
// REGSYNC_<NAME>_* variables. What an adapter can do, callers find by type
// assertion on the capability interfaces: the hostway adapter, for
// example, is a [registrar.TransferResetter] and a
// [registrar.TransferStatusReader] but reads no domain statuses.
func New(names []string, getenv Getenv) ([]registrar.Named, error) {
	adapters := make([]registrar.Named, 0, len(names))
	for _, name := range names {
		newAdapter, ok := constructors[name]
		if !ok {
			return nil, fmt.Errorf("unknown registrar adapter %q: want one of %s", name, strings.Join(Names(), ", "))
		}
		adapter, err := newAdapter(getenv)
		if err != nil {
			return nil, err
		}
		adapters = append(adapters, adapter)
	}
	return adapters, nil
}

// newHostup reads REGSYNC_HOSTUP_URL, REGSYNC_HOSTUP_TOKEN or
// REGSYNC_HOSTUP_TOKEN_FILE, and REGSYNC_HOSTUP_TIMEOUT.
func newHostup(getenv Getenv) (registrar.Named, error) {
	cfg := hostup.DefaultConfig()
	cfg.BaseURL = getenv("REGSYNC_HOSTUP_URL")
	token, err := Secret(getenv, "REGSYNC_HOSTUP_TOKEN")
	if err != nil {
		return nil, err
	}
	cfg.Token = token
	if cfg.Timeout, err = duration(getenv, "REGSYNC_HOSTUP_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	return hostup.New(cfg)
}

// newHostway reads REGSYNC_HOSTWAY_URL, REGSYNC_HOSTWAY_TOKEN or
// REGSYNC_HOSTWAY_TOKEN_FILE, and REGSYNC_HOSTWAY_TIMEOUT.
func newHostway(getenv Getenv) (registrar.Named, error) {
	cfg := hostway.DefaultConfig()
	cfg.BaseURL = getenv("REGSYNC_HOSTWAY_URL")
	token, err := Secret(getenv, "REGSYNC_HOSTWAY_TOKEN")
	if err != nil {
		return nil, err
	}
	cfg.Token = token
	if cfg.Timeout, err = duration(getenv, "REGSYNC_HOSTWAY_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	return hostway.New(cfg)
}

// newSim reads REGSYNC_SIM_LATENCY, REGSYNC_SIM_FAULT_RATE and
// REGSYNC_SIM_SEED. An in-process simulator has no scripts, so every
// domain is unknown to it; scripts come from the demo or tests.
func newSim(getenv Getenv) (registrar.Named, error) {
	cfg := sim.DefaultConfig()
	var err error
	if cfg.Latency, err = duration(getenv, "REGSYNC_SIM_LATENCY", cfg.Latency); err != nil {
		return nil, err
	}
	if v := getenv("REGSYNC_SIM_FAULT_RATE"); v != "" {
		if cfg.FaultRate, err = strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("REGSYNC_SIM_FAULT_RATE: %w", err)
		}
	}
	if v := getenv("REGSYNC_SIM_SEED"); v != "" {
		if cfg.Seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("REGSYNC_SIM_SEED: %w", err)
		}
	}
	return sim.New(cfg)
}

// Secret reads a secret from the variable key, or from the file named by
// key_FILE (trailing newlines trimmed). Setting both is an error. The
// secret itself never appears in an error.
func Secret(getenv Getenv, key string) (string, error) {
	value, file := getenv(key), getenv(key+"_FILE")
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("set %s or %s_FILE, not both", key, key)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", key, err)
		}
		secret := strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			return "", fmt.Errorf("%s_FILE: file %s is empty", key, file)
		}
		return secret, nil
	case value != "":
		return value, nil
	default:
		return "", errors.New(key + " is not set")
	}
}

func duration(getenv Getenv, key string, fallback time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}
