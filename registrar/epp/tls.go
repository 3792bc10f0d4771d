package epp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfigFromFiles returns a TLS configuration for [Config.TLS] from PEM
// files: caFile, when not empty, holds the certificates that may sign the
// server's certificate, in place of the system roots; certFile and keyFile,
// both or neither, hold the client certificate (with its chain) and key
// that a registry may require. The server name is left to the host of
// [Config.Addr]. Errors name the files, never their contents.
func TLSConfigFromFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("epp: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("epp: CA file %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "" || keyFile == "":
		return nil, errors.New("epp: set both the client certificate file and its key file, or neither")
	default:
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			// LoadX509KeyPair's errors describe the PEM blocks, not the key.
			return nil, fmt.Errorf("epp: client certificate %s with key %s: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
