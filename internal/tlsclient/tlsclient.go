// Package tlsclient builds the TLS configuration of sluice as a client (of
// Kafka brokers, of a ClickHouse server) from the PEM files an operator
// names in a `tls:` section.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config is a `tls:` section.
type Config struct {
	// Enabled turns TLS on; the other keys only matter then.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates; empty: the system's roots.
	CAFile string `yaml:"ca-file"`
	// CertFile and KeyFile are sluice's certificate and key (PEM), for
	// servers that require client certificates (mutual TLS).
	CertFile string `yaml:"cert-file"`
	KeyFile  string `yaml:"key-file"`
	// ServerName overrides the name checked in the servers' certificates.
	ServerName string `yaml:"server-name"`
	// InsecureSkipVerify accepts any server certificate: for tests only.
	InsecureSkipVerify bool `yaml:"insecure-skip-verify"`
}

// Build reads the files and returns the configuration, nil when TLS is
// off. Each error names its key below section (the section's own key in
// the configuration file, such as "tls"): "tls.ca-file: …".
func (c Config) Build(section string) (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	var errs []error
	fail := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: "+format, append([]any{section, key}, args...)...))
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			fail("ca-file", "%w", err)
		} else {
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				fail("ca-file", "no PEM certificate in %s", c.CAFile)
			}
		}
	}
	switch {
	case c.CertFile != "" && c.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			fail("cert-file", "%w", err)
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	case c.CertFile != "" || c.KeyFile != "":
		fail("cert-file", "cert-file and key-file go together")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}
