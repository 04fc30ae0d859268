package hec

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"sluice/internal/tlsclient"
)

// Config is a Splunk HEC transport's section (`transport: hec`).
type Config struct {
	// URL is the HEC's base URL, scheme, host and port (8088 by default in
	// Splunk): the transport posts to <url>/services/collector/event.
	URL string `yaml:"url"`
	// TokenFile holds the HEC token (one line; a final newline is
	// ignored); empty: the environment variable SLUICE_HEC_TOKEN.
	TokenFile string `yaml:"token-file"`
	// TLS checks the HEC's certificate (an https URL uses TLS whether or
	// not tls.enabled is set; the section adds a CA, a client certificate).
	TLS tlsclient.Config `yaml:"tls"`
	// Index, Source and Sourcetype are the events' metadata; empty index:
	// the token's default index; empty sourcetype: sluice:alert and
	// sluice:flow by the event's kind.
	Index      string `yaml:"index"`
	Source     string `yaml:"source"`
	Sourcetype string `yaml:"sourcetype"`
	// Host is the events' host field; empty: this host's name.
	Host string `yaml:"host"`
	// Gzip compresses each request (Content-Encoding: gzip).
	Gzip bool `yaml:"gzip"`
	// Ack waits for indexer acknowledgement (the token must have it
	// enabled): Send returns only once Splunk indexed every event. Off, an
	// HTTP 200 is taken as delivery, and events in an indexer's queue when
	// it fails are lost.
	Ack bool `yaml:"ack"`
	// Channel is the X-Splunk-Request-Channel, a UUID; empty: a random one
	// per start.
	Channel string `yaml:"channel"`
	// MaxRequestBytes caps one request's body before compression; a batch
	// is split into as many requests as needed (Splunk's
	// max_content_length is far above the default).
	MaxRequestBytes int `yaml:"max-request-bytes"`
	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration `yaml:"request-timeout"`
	// MaxAttempts is how many times one request is tried on a busy (503),
	// throttled (429) or failing (5xx, network) HEC before Send fails.
	MaxAttempts int `yaml:"max-attempts"`
	// RetryBackoff is the wait after a failed attempt, doubled at each
	// failure up to RetryBackoffMax.
	RetryBackoff    time.Duration `yaml:"retry-backoff"`
	RetryBackoffMax time.Duration `yaml:"retry-backoff-max"`
	// AckPollInterval is how often the ack endpoint is asked about the
	// pending acknowledgements; AckTimeout is how long Send waits for them
	// all before it fails (and the batch is sent again).
	AckPollInterval time.Duration `yaml:"ack-poll-interval"`
	AckTimeout      time.Duration `yaml:"ack-timeout"`
}

// TokenEnv is the environment variable read for the token when no token
// file is configured.
const TokenEnv = "SLUICE_HEC_TOKEN"

// DefaultConfig posts gzip-compressed requests of up to 1 MiB to a local
// HEC and waits for indexer acknowledgement.
func DefaultConfig() Config {
	return Config{
		URL:             "https://127.0.0.1:8088",
		Source:          "sluice",
		Gzip:            true,
		Ack:             true,
		MaxRequestBytes: 1 << 20,
		RequestTimeout:  30 * time.Second,
		MaxAttempts:     5,
		RetryBackoff:    200 * time.Millisecond,
		RetryBackoffMax: 30 * time.Second,
		AckPollInterval: time.Second,
		AckTimeout:      5 * time.Minute,
	}
}

// Validate reports every invalid key, by its name in the section. It
// reads the token, so that `sluice config check` finds a missing one.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
		}
	}
	u, err := url.Parse(c.URL)
	check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == "",
		"url", "want http(s)://host:port with no path, got %q", c.URL)
	if _, err := c.token(); err != nil {
		errs = append(errs, err)
	}
	check(c.Channel == "" || validUUID(c.Channel), "channel", "want a UUID (8-4-4-4-12 hexadecimal digits), got %q", c.Channel)
	check(c.MaxRequestBytes >= 1024, "max-request-bytes", "must be at least 1024, got %d", c.MaxRequestBytes)
	check(c.RequestTimeout > 0, "request-timeout", "must be positive, got %s", c.RequestTimeout)
	check(c.MaxAttempts >= 1, "max-attempts", "must be at least 1, got %d", c.MaxAttempts)
	check(c.RetryBackoff > 0, "retry-backoff", "must be positive, got %s", c.RetryBackoff)
	check(c.RetryBackoffMax >= c.RetryBackoff, "retry-backoff-max", "must be at least retry-backoff (%s), got %s", c.RetryBackoff, c.RetryBackoffMax)
	if c.Ack {
		check(c.AckPollInterval > 0, "ack-poll-interval", "must be positive, got %s", c.AckPollInterval)
		check(c.AckTimeout >= c.AckPollInterval, "ack-timeout", "must be at least ack-poll-interval (%s), got %s", c.AckPollInterval, c.AckTimeout)
	}
	if _, err := c.TLS.Build("tls"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) token() (string, error) {
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("token-file: %w", err)
		}
		if t := strings.TrimRight(string(b), "\r\n"); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("token-file: %s is empty", c.TokenFile)
	}
	if t := os.Getenv(TokenEnv); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("token-file: no token: set token-file or %s", TokenEnv)
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
