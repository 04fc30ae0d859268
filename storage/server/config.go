package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"sluice/internal/tlsclient"
)

// Config is how to reach the server (`storage.server:`).
type Config struct {
	// Addrs are host:port of the protocol (native: 9000, or 9440 with TLS;
	// http: 8123, or 8443); clickhouse-go fails over between them.
	Addrs []string `yaml:"addrs"`
	// Protocol is native (default) or http, ClickHouse's HTTP interface.
	Protocol string `yaml:"protocol"`
	// HTTPAddress is host:port of the server's HTTP interface, which
	// sluice's SQL endpoint (and so `sluice sql` and `sluice query`) reads
	// through, since it returns any ClickHouse format as the server writes
	// it. Default: the first of Addrs with protocol http, else its host
	// on 8123 (8443 with TLS).
	HTTPAddress string `yaml:"http-address"`
	// Database is the database queries run in. Default sluice, where the
	// migrations create the tables (they name it, so the connection names
	// none: a new server has no database sluice yet).
	Database string `yaml:"database"`
	// Username and Password authenticate; PasswordFile, when set, is read
	// instead of Password, so the secret stays out of the configuration;
	// with neither, $SLUICE_CLICKHOUSE_PASSWORD is the password.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password-file"`
	// TLS secures the connection.
	TLS TLSConfig `yaml:"tls"`
	// DialTimeout bounds connecting. Default 10 s.
	DialTimeout time.Duration `yaml:"dial-timeout"`
}

// The protocols of Protocol.
const (
	ProtocolNative = "native"
	ProtocolHTTP   = "http"
)

// PasswordEnv is the password when the configuration has none.
const PasswordEnv = "SLUICE_CLICKHOUSE_PASSWORD"

// TLSConfig is the `tls:` section.
type TLSConfig = tlsclient.Config

// DefaultConfig has no address: a server must be named to be used.
func DefaultConfig() Config {
	return Config{Protocol: ProtocolNative, Database: "sluice", Username: "default", DialTimeout: 10 * time.Second}
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
	if c.Protocol != ProtocolNative && c.Protocol != ProtocolHTTP {
		errs = append(errs, fmt.Errorf("protocol: %q is not native or http", c.Protocol))
	}
	if c.HTTPAddress != "" && !strings.Contains(c.HTTPAddress, ":") {
		errs = append(errs, fmt.Errorf("http-address: %q is not host:port", c.HTTPAddress))
	}
	if c.Database == "" {
		errs = append(errs, errors.New("database: must not be empty"))
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

// httpAddress is where sluice's reads go: HTTPAddress, else the first
// address when it speaks HTTP, else its host on ClickHouse's HTTP port.
func (c Config) httpAddress() string {
	if c.HTTPAddress != "" {
		return c.HTTPAddress
	}
	if len(c.Addrs) == 0 {
		return ""
	}
	if c.Protocol == ProtocolHTTP {
		return c.Addrs[0]
	}
	host, _, err := net.SplitHostPort(c.Addrs[0])
	if err != nil {
		return ""
	}
	port := "8123"
	if c.TLS.Enabled {
		port = "8443"
	}
	return net.JoinHostPort(host, port)
}
