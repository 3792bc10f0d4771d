// Package factory builds registrar adapters by name from configuration.
// The map of constructors is explicit: an adapter is available when it is
// listed here, not when its package happens to be imported.
package factory

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/regsync/regsync/internal/envconfig"
	"github.com/regsync/regsync/registrar"
	"github.com/regsync/regsync/registrar/epp"
	"github.com/regsync/regsync/registrar/hostup"
	"github.com/regsync/regsync/registrar/hostway"
	"github.com/regsync/regsync/registrar/rdap"
	"github.com/regsync/regsync/registrar/sim"
)

var constructors = map[string]func(envconfig.Getenv) (registrar.Named, error){
	"epp":     newEPP,
	"hostup":  newHostup,
	"hostway": newHostway,
	"rdap":    newRDAP,
	"sim":     newSim,
}

// Names lists the adapters the factory can build.
func Names() []string { return []string{"epp", "hostup", "hostway", "rdap", "sim"} }

// New builds the named adapters, each configured from its
// REGSYNC_<NAME>_* variables. What an adapter can do, callers find by type
// assertion on the capability interfaces: the hostway adapter, for
// example, is a [registrar.TransferResetter] and a
// [registrar.TransferStatusReader] but reads no domain statuses.
func New(names []string, getenv envconfig.Getenv) ([]registrar.Named, error) {
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
func newHostup(getenv envconfig.Getenv) (registrar.Named, error) {
	cfg := hostup.DefaultConfig()
	cfg.BaseURL = getenv("REGSYNC_HOSTUP_URL")
	token, err := envconfig.Secret(getenv, "REGSYNC_HOSTUP_TOKEN")
	if err != nil {
		return nil, err
	}
	cfg.Token = token
	if cfg.Timeout, err = envconfig.Duration(getenv, "REGSYNC_HOSTUP_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	return hostup.New(cfg)
}

// newHostway reads REGSYNC_HOSTWAY_URL, REGSYNC_HOSTWAY_TOKEN or
// REGSYNC_HOSTWAY_TOKEN_FILE, and REGSYNC_HOSTWAY_TIMEOUT.
func newHostway(getenv envconfig.Getenv) (registrar.Named, error) {
	cfg := hostway.DefaultConfig()
	cfg.BaseURL = getenv("REGSYNC_HOSTWAY_URL")
	token, err := envconfig.Secret(getenv, "REGSYNC_HOSTWAY_TOKEN")
	if err != nil {
		return nil, err
	}
	cfg.Token = token
	if cfg.Timeout, err = envconfig.Duration(getenv, "REGSYNC_HOSTWAY_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	return hostway.New(cfg)
}

// newSim reads REGSYNC_SIM_LATENCY, REGSYNC_SIM_FAULT_RATE and
// REGSYNC_SIM_SEED. An in-process simulator has no scripts, so every
// domain is unknown to it; scripts come from the demo or tests.
func newSim(getenv envconfig.Getenv) (registrar.Named, error) {
	cfg := sim.DefaultConfig()
	var err error
	if cfg.Latency, err = envconfig.Duration(getenv, "REGSYNC_SIM_LATENCY", cfg.Latency); err != nil {
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

// newEPP reads REGSYNC_EPP_ADDR, REGSYNC_EPP_CLIENT_ID,
// REGSYNC_EPP_PASSWORD or REGSYNC_EPP_PASSWORD_FILE, optionally
// REGSYNC_EPP_NEW_PASSWORD or _FILE (a password change at the next
// login), REGSYNC_EPP_CA_FILE, REGSYNC_EPP_CERT_FILE and
// REGSYNC_EPP_KEY_FILE (PEM), REGSYNC_EPP_SERVER_NAME,
// REGSYNC_EPP_SESSIONS, REGSYNC_EPP_TIMEOUT and REGSYNC_EPP_KEEPALIVE.
// The client holds sessions open: close it with [Close].
func newEPP(getenv envconfig.Getenv) (registrar.Named, error) {
	cfg := epp.DefaultConfig()
	cfg.Addr, cfg.ClientID = getenv("REGSYNC_EPP_ADDR"), getenv("REGSYNC_EPP_CLIENT_ID")
	var err error
	if cfg.Password, err = envconfig.Secret(getenv, "REGSYNC_EPP_PASSWORD"); err != nil {
		return nil, err
	}
	if cfg.NewPassword, err = envconfig.OptionalSecret(getenv, "REGSYNC_EPP_NEW_PASSWORD"); err != nil {
		return nil, err
	}
	caFile, certFile, keyFile := getenv("REGSYNC_EPP_CA_FILE"), getenv("REGSYNC_EPP_CERT_FILE"), getenv("REGSYNC_EPP_KEY_FILE")
	if caFile != "" || certFile != "" || keyFile != "" {
		if cfg.TLS, err = epp.TLSConfigFromFiles(caFile, certFile, keyFile); err != nil {
			return nil, fmt.Errorf("REGSYNC_EPP_CA_FILE, _CERT_FILE, _KEY_FILE: %w", err)
		}
	}
	if name := getenv("REGSYNC_EPP_SERVER_NAME"); name != "" {
		if cfg.TLS == nil {
			cfg.TLS = &tls.Config{}
		}
		cfg.TLS.ServerName = name
	}
	if cfg.Sessions, err = envconfig.Int(getenv, "REGSYNC_EPP_SESSIONS", cfg.Sessions); err != nil {
		return nil, err
	}
	if cfg.Timeout, err = envconfig.Duration(getenv, "REGSYNC_EPP_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	if cfg.KeepAlive, err = envconfig.Duration(getenv, "REGSYNC_EPP_KEEPALIVE", cfg.KeepAlive); err != nil {
		return nil, err
	}
	return epp.New(cfg)
}

// newRDAP reads REGSYNC_RDAP_BOOTSTRAP (empty: the embedded snapshot of
// IANA's registry; an https URL or a file is reloaded every
// REGSYNC_RDAP_BOOTSTRAP_REFRESH, a failed reload retried after
// REGSYNC_RDAP_BOOTSTRAP_RETRY), REGSYNC_RDAP_OVERRIDES
// (TLD=URL,...) and REGSYNC_RDAP_TIMEOUT. RDAP needs no account.
func newRDAP(getenv envconfig.Getenv) (registrar.Named, error) {
	cfg := rdap.DefaultConfig()
	cfg.Bootstrap = getenv("REGSYNC_RDAP_BOOTSTRAP")
	var err error
	if cfg.BootstrapRefresh, err = envconfig.Duration(getenv, "REGSYNC_RDAP_BOOTSTRAP_REFRESH", cfg.BootstrapRefresh); err != nil {
		return nil, err
	}
	if cfg.BootstrapRetry, err = envconfig.Duration(getenv, "REGSYNC_RDAP_BOOTSTRAP_RETRY", cfg.BootstrapRetry); err != nil {
		return nil, err
	}
	if cfg.Overrides, err = rdap.ParseOverrides(getenv("REGSYNC_RDAP_OVERRIDES")); err != nil {
		return nil, fmt.Errorf("REGSYNC_RDAP_OVERRIDES: %w", err)
	}
	if cfg.Timeout, err = envconfig.Duration(getenv, "REGSYNC_RDAP_TIMEOUT", cfg.Timeout); err != nil {
		return nil, err
	}
	return rdap.New(cfg)
}

// Close releases what the adapters hold open, such as EPP sessions.
func Close(adapters []registrar.Named) error {
	var errs []error
	for _, a := range adapters {
		if c, ok := a.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
