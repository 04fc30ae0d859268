package kafka

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go/sasl/plain"

	"sluice/internal/tlsclient/tlsclienttest"
)

// TestTLSConfig checks that kafka.tls reaches the producer and the
// consumer, and that its errors are configuration errors (tlsclient tests
// every case).
func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := tlsclienttest.WriteSelfSigned(t, dir, "client")

	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{Enabled: true, CAFile: certFile, CertFile: certFile, KeyFile: keyFile, ServerName: "kafka.example.net"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]*tls.Config{"producer": cfg.transport().TLS, "consumer": cfg.dialer().TLS} {
		if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.example.net" {
			t.Errorf("%s: TLS %+v", name, tc)
		}
	}

	cfg.TLS.CAFile = keyFile
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "tls.ca-file: no PEM certificate") {
		t.Errorf("a key as CA: %v", err)
	}

	// Disabled, the other keys are not looked at.
	c := DefaultConfig()
	c.TLS = TLSConfig{CAFile: "/nonexistent"}
	if err := c.Validate(); err != nil || c.transport().TLS != nil || c.dialer().TLS != nil {
		t.Fatalf("disabled TLS: %v", err)
	}
}

func TestSASLConfig(t *testing.T) {
	dir := t.TempDir()
	passwordFile := filepath.Join(dir, "password")
	os.WriteFile(passwordFile, []byte("s3cret\n"), 0o600)

	for _, mech := range []string{"plain", "scram-sha-256", "scram-sha-512"} {
		cfg := DefaultConfig()
		cfg.SASL = SASLConfig{Mechanism: mech, Username: "collector", PasswordFile: passwordFile}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		m, err := cfg.SASL.build()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"plain": "PLAIN", "scram-sha-256": "SCRAM-SHA-256", "scram-sha-512": "SCRAM-SHA-512"}[mech]
		if m.Name() != want {
			t.Errorf("%s: mechanism %s", mech, m.Name())
		}
		if cfg.transport().SASL == nil || cfg.dialer().SASLMechanism == nil {
			t.Errorf("%s: SASL not applied to the producer's transport or the consumer's dialer", mech)
		}
	}
	// The password file's final newline is not part of the password.
	cfg := SASLConfig{Mechanism: "plain", Username: "u", PasswordFile: passwordFile}
	if m, _ := cfg.build(); m.(plain.Mechanism).Password != "s3cret" {
		t.Errorf("password %q", m.(plain.Mechanism).Password)
	}
	// Or from the environment.
	t.Setenv(PasswordEnv, "from-env")
	cfg.PasswordFile = ""
	if m, err := cfg.build(); err != nil || m.(plain.Mechanism).Password != "from-env" {
		t.Errorf("password from %s: %v %v", PasswordEnv, m, err)
	}
	t.Setenv(PasswordEnv, "")

	f := func(s SASLConfig, want string) {
		t.Helper()
		c := DefaultConfig()
		c.SASL = s
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	f(SASLConfig{Mechanism: "gssapi", Username: "u", PasswordFile: passwordFile}, "sasl.mechanism: ")
	f(SASLConfig{Mechanism: "scram-sha-256", PasswordFile: passwordFile}, "sasl.username: ")
	f(SASLConfig{Mechanism: "plain", Username: "u"}, "sasl.password-file: no password")
	f(SASLConfig{Mechanism: "plain", Username: "u", PasswordFile: filepath.Join(dir, "missing")}, "sasl.password-file: ")

	c := DefaultConfig()
	if err := c.Validate(); err != nil || c.transport().SASL != nil {
		t.Fatalf("default (none): %v", err)
	}
}

func TestDeadLetterTopicConfig(t *testing.T) {
	c := DefaultConfig()
	c.Consumer.DeadLetterTopic = c.Topic
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "consumer.dead-letter-topic: ") {
		t.Fatalf("dead-letter topic equal to the topic: %v", err)
	}
	c.Consumer.DeadLetterTopic = "sluice-flows-v1-dead"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
