package syslog

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"sluice/internal/tlsclient"
)

// Config is a syslog transport's section (`transport: syslog`).
type Config struct {
	// Address is the receiver, host:port. 6514 is syslog over TLS's port
	// (RFC 5425); plain TCP receivers usually listen on 514 or 601.
	Address string `yaml:"address"`
	// TLS encrypts the connection (`tls.enabled: true`), checking the
	// receiver's certificate against ca-file (or the system's roots).
	TLS tlsclient.Config `yaml:"tls"`
	// Facility is the syslog facility of every message: kern, user, mail,
	// daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp,
	// security, console, solaris-cron, or local0 to local7.
	Facility string `yaml:"facility"`
	// AlertSeverity and FlowSeverity are the syslog severity of alerts and
	// of flows: emerg, alert, crit, err, warning, notice, info or debug.
	AlertSeverity string `yaml:"alert-severity"`
	FlowSeverity  string `yaml:"flow-severity"`
	// Hostname fills the HOSTNAME header field; empty: this host's name.
	Hostname string `yaml:"hostname"`
	// DialTimeout bounds connecting, TLS handshake included.
	DialTimeout time.Duration `yaml:"dial-timeout"`
	// WriteTimeout bounds writing one batch's chunk to the connection: a
	// receiver that stops reading fails the send rather than hang it.
	WriteTimeout time.Duration `yaml:"write-timeout"`
	// MaxAttempts is how many connections one Send tries before it
	// returns the error (the sink then waits or spools, as configured).
	MaxAttempts int `yaml:"max-attempts"`
	// ReconnectBackoff is the wait before a new connection after a
	// failure, doubled at each failure up to ReconnectBackoffMax.
	ReconnectBackoff    time.Duration `yaml:"reconnect-backoff"`
	ReconnectBackoffMax time.Duration `yaml:"reconnect-backoff-max"`
}

// DefaultConfig sends to a local receiver on syslog-over-TLS's port, as
// local0, alerts at warning and flows at info.
func DefaultConfig() Config {
	return Config{
		Address:             "127.0.0.1:6514",
		Facility:            "local0",
		AlertSeverity:       "warning",
		FlowSeverity:        "info",
		DialTimeout:         10 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxAttempts:         3,
		ReconnectBackoff:    100 * time.Millisecond,
		ReconnectBackoffMax: 30 * time.Second,
	}
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

var severities = map[string]int{
	"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7,
}

// maxHostname is RFC 5424's limit on HOSTNAME.
const maxHostname = 255

// Validate reports every invalid key, by its name in the section.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
		}
	}
	host, port, err := net.SplitHostPort(c.Address)
	check(err == nil && host != "" && port != "", "address", "want host:port, got %q", c.Address)
	_, ok := facilities[c.Facility]
	check(ok, "facility", "want kern, user, …, local0 to local7, got %q", c.Facility)
	_, ok = severities[c.AlertSeverity]
	check(ok, "alert-severity", "want emerg, alert, crit, err, warning, notice, info or debug, got %q", c.AlertSeverity)
	_, ok = severities[c.FlowSeverity]
	check(ok, "flow-severity", "want emerg, alert, crit, err, warning, notice, info or debug, got %q", c.FlowSeverity)
	check(c.Hostname == "" || validHeaderField(c.Hostname, maxHostname), "hostname", "want 1 to %d printable ASCII characters without spaces, got %q", maxHostname, c.Hostname)
	check(c.DialTimeout > 0, "dial-timeout", "must be positive, got %s", c.DialTimeout)
	check(c.WriteTimeout > 0, "write-timeout", "must be positive, got %s", c.WriteTimeout)
	check(c.MaxAttempts >= 1, "max-attempts", "must be at least 1, got %d", c.MaxAttempts)
	check(c.ReconnectBackoff > 0, "reconnect-backoff", "must be positive, got %s", c.ReconnectBackoff)
	check(c.ReconnectBackoffMax >= c.ReconnectBackoff, "reconnect-backoff-max", "must be at least reconnect-backoff (%s), got %s", c.ReconnectBackoff, c.ReconnectBackoffMax)
	if _, err := c.TLS.Build("tls"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validHeaderField reports whether s is a valid RFC 5424 header field:
// 1 to max characters of PRINTUSASCII (33-126).
func validHeaderField(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// headerHostname is Hostname, or this host's name made a valid field.
func (c Config) headerHostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	h, err := os.Hostname()
	if err != nil || !validHeaderField(h, maxHostname) {
		return "-" // RFC 5424's NILVALUE
	}
	return h
}
