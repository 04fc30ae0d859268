package tlsclient

import (
	"path/filepath"
	"strings"
	"testing"

	"sluice/internal/tlsclient/tlsclienttest"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	ca, _ := tlsclienttest.WriteSelfSigned(t, dir, "ca")
	cert, key := tlsclienttest.WriteSelfSigned(t, dir, "client")

	c := Config{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "kafka.example.net"}
	tc, err := c.Build("tls")
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.example.net" || tc.InsecureSkipVerify || tc.MinVersion == 0 {
		t.Fatalf("tls config %+v, %v", tc, err)
	}

	for _, bad := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.CAFile = filepath.Join(dir, "missing.pem") }, "kafka.tls.ca-file: "},
		{func(c *Config) { c.CAFile = key }, "kafka.tls.ca-file: no PEM certificate"},
		{func(c *Config) { c.CertFile = cert }, "kafka.tls.cert-file: cert-file and key-file go together"},
		{func(c *Config) { c.KeyFile = key }, "kafka.tls.cert-file: cert-file and key-file go together"},
		{func(c *Config) { c.CertFile, c.KeyFile = key, cert }, "kafka.tls.cert-file: "},
	} {
		c := Config{Enabled: true}
		bad.change(&c)
		if tc, err := c.Build("kafka.tls"); tc != nil || err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, %v; want an error with %q", c, tc, err, bad.want)
		}
	}

	// Both keys wrong: both named.
	c = Config{Enabled: true, CAFile: key, CertFile: cert}
	if _, err := c.Build("tls"); err == nil || !strings.Contains(err.Error(), "tls.ca-file") || !strings.Contains(err.Error(), "tls.cert-file") {
		t.Errorf("two bad keys: %v", err)
	}

	// Off, the other keys are not looked at.
	c = Config{CAFile: "/nonexistent"}
	if tc, err := c.Build("tls"); tc != nil || err != nil {
		t.Fatalf("TLS off: %v, %v", tc, err)
	}
}
