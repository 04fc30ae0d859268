package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"sluice/internal/tlsclient"
)

// Config is how to reach the server (`storage.server:`).
type Config struct {
	// Addrs are host:port of the native protocol (9000, or 9440 with TLS);
	// clickhouse-go fails over between them.
	Addrs []string `yaml:"addrs"`
	// Database is the default database. Default sluice.
	Database string `yaml:"database"`
	// Username and Password authenticate; PasswordFile, when set, is read
	// instead of Password, so the secret stays out of the configuration.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password-file"`
	// TLS secures the connection.
	TLS TLSConfig `yaml:"tls"`
	// DialTimeout bounds connecting. Default 10 s.
	DialTimeout time.Duration `yaml:"dial-timeout"`
}

// TLSConfig is the `tls:` section.
type TLSConfig = tlsclient.Config

// DefaultConfig has no address: a server must be named to be used.
func DefaultConfig() Config {
	return Config{Database: "sluice", Username: "default", DialTimeout: 10 * time.Second}
}

// Validate names each bad key.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("addrs: name at least one server (host:port)"))
	}
	for _, a := range c.Addrs {
		if !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("addrs: %q is not host:port", a))
		}
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("password-file: set password or password-file, not both"))
	}
	if _, err := c.TLS.Build("tls"); err != nil {
		errs = append(errs, err)
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dial-timeout: must be positive, got %s", c.DialTimeout))
	}
	return errors.Join(errs...)
}

// tlsConfig builds the TLS configuration, or nil when TLS is off.
func (c Config) tlsConfig() (*tls.Config, error) { return c.TLS.Build("tls") }
