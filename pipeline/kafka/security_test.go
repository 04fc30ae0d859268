package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl/plain"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)

	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{Enabled: true, CAFile: certFile, CertFile: certFile, KeyFile: keyFile, ServerName: "kafka.example.net"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.TLS.build()
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.example.net" {
		t.Fatalf("tls config %+v, %v", tc, err)
	}
	if cfg.transport().TLS == nil || cfg.dialer().TLS == nil {
		t.Fatal("TLS not applied to the producer's transport or the consumer's dialer")
	}

	f := func(change func(*TLSConfig), want string) {
		t.Helper()
		c := DefaultConfig()
		c.TLS = TLSConfig{Enabled: true}
		change(&c.TLS)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	f(func(c *TLSConfig) { c.CAFile = filepath.Join(dir, "missing.pem") }, "tls.ca-file: ")
	f(func(c *TLSConfig) { c.CAFile = keyFile }, "tls.ca-file: no PEM certificate")
	f(func(c *TLSConfig) { c.CertFile = certFile }, "tls.cert-file: cert-file and key-file go together")
	f(func(c *TLSConfig) { c.CertFile, c.KeyFile = keyFile, certFile }, "tls.cert-file: ")

	// Disabled, the other keys are not looked at.
	c := DefaultConfig()
	c.TLS = TLSConfig{CAFile: "/nonexistent"}
	if err := c.Validate(); err != nil || c.transport().TLS != nil {
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
