package kafka

import (
	"fmt"
	"os"
	"strings"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"sluice/internal/tlsclient"
)

// TLSConfig is `kafka.tls`.
type TLSConfig = tlsclient.Config

// SASLConfig is `kafka.sasl`. The password never sits in the configuration
// file: it is read from PasswordFile, or else from the environment variable
// SLUICE_KAFKA_SASL_PASSWORD.
type SASLConfig struct {
	// Mechanism: none, plain, scram-sha-256 or scram-sha-512. PLAIN sends
	// the password as is: use it with TLS only.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// PasswordFile holds the password (one line; a final newline is
	// ignored).
	PasswordFile string `yaml:"password-file"`
}

// PasswordEnv is the environment variable read for the SASL password when
// no password file is configured.
const PasswordEnv = "SLUICE_KAFKA_SASL_PASSWORD"

func (c SASLConfig) validate() error {
	_, err := c.build()
	return err
}

// build returns the SASL mechanism, nil for none.
func (c SASLConfig) build() (sasl.Mechanism, error) {
	if c.Mechanism == "" || c.Mechanism == "none" {
		return nil, nil
	}
	var algo scram.Algorithm
	switch c.Mechanism {
	case "plain":
	case "scram-sha-256":
		algo = scram.SHA256
	case "scram-sha-512":
		algo = scram.SHA512
	default:
		return nil, fmt.Errorf("mechanism: want none, plain, scram-sha-256 or scram-sha-512, got %q", c.Mechanism)
	}
	if c.Username == "" {
		return nil, fmt.Errorf("username: must be set for mechanism %s", c.Mechanism)
	}
	password, err := c.password()
	if err != nil {
		return nil, err
	}
	if algo == nil {
		return plain.Mechanism{Username: c.Username, Password: password}, nil
	}
	m, err := scram.Mechanism(algo, c.Username, password)
	if err != nil {
		return nil, fmt.Errorf("mechanism: %w", err)
	}
	return m, nil
}

func (c SASLConfig) password() (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("password-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p, ok := os.LookupEnv(PasswordEnv); ok && p != "" {
		return p, nil
	}
	return "", fmt.Errorf("password-file: no password: set password-file or %s", PasswordEnv)
}

// transport is the producer's and admin client's connection settings. The
// configuration was validated, so building TLS and SASL cannot fail here.
func (c Config) transport() *kafkago.Transport {
	tlsConfig, _ := c.TLS.Build("tls")
	mechanism, _ := c.SASL.build()
	return &kafkago.Transport{
		ClientID:    c.ClientID,
		DialTimeout: c.DialTimeout,
		TLS:         tlsConfig,
		SASL:        mechanism,
	}
}

// dialer is the consumer's connection settings.
func (c Config) dialer() *kafkago.Dialer {
	tlsConfig, _ := c.TLS.Build("tls")
	mechanism, _ := c.SASL.build()
	return &kafkago.Dialer{
		ClientID:      c.ClientID,
		Timeout:       c.DialTimeout,
		DualStack:     true,
		TLS:           tlsConfig,
		SASLMechanism: mechanism,
	}
}
