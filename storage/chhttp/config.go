package chhttp

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is the ClickHouse HTTP interface's configuration: the
// `clickhouse-http:` section.
type Config struct {
	// Listen is the address (default 127.0.0.1:8123, ClickHouse's HTTP
	// port); empty turns the interface off. A non-loopback address needs
	// the analyst's password.
	Listen string `yaml:"listen"`
	// Writer lets the migrations' writer user (sluice_writer, password from
	// SLUICE_WRITER_PASSWORD) run writes and DDL: off by default, for a
	// sluice that plays a ClickHouse server for another one.
	Writer bool `yaml:"writer"`
	// MaxConcurrentQueries is how many queries run at once (default 1):
	// the engine runs one statement at a time, inserts included, so more
	// would only queue inside it.
	MaxConcurrentQueries int `yaml:"max-concurrent-queries"`
	// MaxQueuedQueries is how many more may wait for their turn (default
	// 16); beyond, a query is refused at once (TOO_MANY_SIMULTANEOUS_QUERIES).
	MaxQueuedQueries int `yaml:"max-queued-queries"`
	// QueueTimeout is how long a query waits for its turn (default 10s).
	QueueTimeout time.Duration `yaml:"queue-timeout"`
	// MaxBodyBytes bounds a request's body: a query, or a writer's insert
	// data (default 64 MiB).
	MaxBodyBytes int64 `yaml:"max-body-bytes"`

	// AnalystPassword is the password of the read-only users
	// (sluice_analyst, and default, ClickHouse's usual user name, which is
	// the same account). Empty means no password, allowed only on a
	// loopback address. From the environment, never the file.
	AnalystPassword string `yaml:"-"`
	// WriterPassword is sluice_writer's, needed when Writer is set.
	WriterPassword string `yaml:"-"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen:               "127.0.0.1:8123",
		MaxConcurrentQueries: 1,
		MaxQueuedQueries:     16,
		QueueTimeout:         10 * time.Second,
		MaxBodyBytes:         64 << 20,
	}
}

// Validate checks the configuration; errors name the key.
func (c Config) Validate() error {
	var errs []error
	if c.MaxConcurrentQueries < 1 {
		errs = append(errs, errors.New("max-concurrent-queries: must be at least 1"))
	}
	if c.MaxQueuedQueries < 0 {
		errs = append(errs, errors.New("max-queued-queries: must not be negative"))
	}
	if c.QueueTimeout <= 0 {
		errs = append(errs, errors.New("queue-timeout: must be positive"))
	}
	if c.MaxBodyBytes < 1 {
		errs = append(errs, errors.New("max-body-bytes: must be positive"))
	}
	if c.Listen == "" {
		return errors.Join(errs...)
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("listen: %w", err))
	} else if c.AnalystPassword == "" && !isLoopback(host) {
		errs = append(errs, fmt.Errorf("listen: %s is not a loopback address, so the analyst user needs a password: set SLUICE_ANALYST_PASSWORD (or SLUICE_ANALYST_PASSWORD_FILE)", c.Listen))
	}
	if c.Writer && c.WriterPassword == "" {
		errs = append(errs, errors.New("writer: the writer user needs a password: set SLUICE_WRITER_PASSWORD (or SLUICE_WRITER_PASSWORD_FILE)"))
	}
	return errors.Join(errs...)
}

// isLoopback says whether a listen host reaches only this machine: a
// loopback IP, or the name localhost, which Start listens on as
// 127.0.0.1 without asking the resolver (/etc/hosts may map it elsewhere).
// An empty host (":8123") listens everywhere.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenAddress is the address to bind: localhost as 127.0.0.1, never
// resolved.
func listenAddress(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || host != "localhost" {
		return listen
	}
	return net.JoinHostPort("127.0.0.1", port)
}
