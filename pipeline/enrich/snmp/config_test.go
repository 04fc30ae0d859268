package snmp

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"sluice/internal/reporter"
)

func TestDefaultConfigValidates(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
enabled: true
port: 1161
timeout: 2s
retries: 2
interval: 30m
expire: 48h
workers: 8
max-exporters: 500
credentials:
  - prefix: 192.0.2.0/24
    community-file: /run/secrets/snmp-community
  - prefix: 2001:db8::/32
    version: "3"
    user: sluice
    security-level: authPriv
    auth-protocol: SHA256
    auth-passphrase-file: /run/secrets/snmp-auth
    priv-protocol: AES
    priv-passphrase: inline-priv
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Enabled: true, Port: 1161, Timeout: 2 * time.Second, Retries: 2, Interval: 30 * time.Minute,
		Expire: 48 * time.Hour, Workers: 8, MaxExporters: 500,
		Credentials: []Credential{
			{Prefix: netip.MustParsePrefix("192.0.2.0/24"), CommunityFile: "/run/secrets/snmp-community"},
			{Prefix: netip.MustParsePrefix("2001:db8::/32"), Version: "3", User: "sluice", SecurityLevel: "authPriv",
				AuthProtocol: "SHA256", AuthPassphraseFile: "/run/secrets/snmp-auth", PrivProtocol: "AES", PrivPassphrase: "inline-priv"},
		},
	}
	if got, wantS := strings.TrimSpace(yamlString(t, cfg)), strings.TrimSpace(yamlString(t, want)); got != wantS {
		t.Errorf("decoded:\n%s\nwant:\n%s", got, wantS)
	}
}

func yamlString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigErrorsNameKeys(t *testing.T) {
	p := netip.MustParsePrefix("192.0.2.0/24")
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"port", func(c *Config) { c.Port = 0 }, "port: must not be 0"},
		{"timeout", func(c *Config) { c.Timeout = 0 }, "timeout: must be positive"},
		{"retries", func(c *Config) { c.Retries = -1 }, "retries: must not be negative"},
		{"interval", func(c *Config) { c.Interval = time.Millisecond }, "interval: must be at least 1s"},
		{"expire", func(c *Config) { c.Expire = time.Minute }, "expire: must be at least interval"},
		{"workers", func(c *Config) { c.Workers = 0 }, "workers: must be at least 1"},
		{"max-exporters", func(c *Config) { c.MaxExporters = 0 }, "max-exporters: must be at least 1"},
		{"no prefix", func(c *Config) { c.Credentials = []Credential{{}} }, "credentials[0].prefix: required"},
		{"version", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p}, {Prefix: netip.MustParsePrefix("198.51.100.0/24"), Version: "1"}}
		},
			`credentials[1].version: "1" is not "2c" or "3"`},
		{"duplicate prefix", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p}, {Prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120")}}
		}, "credentials[1].prefix: ::ffff:192.0.2.0/120 is already credentials[0]'s"},
		{"community twice", func(c *Config) { c.Credentials = []Credential{{Prefix: p, Community: "a", CommunityFile: "/f"}} },
			"credentials[0].community-file: set community or community-file, not both"},
		{"v3 field on v2c", func(c *Config) { c.Credentials = []Credential{{Prefix: p, User: "u"}} },
			`credentials[0].user: only for version "3"`},
		{"community on v3", func(c *Config) { c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", Community: "x"}} },
			`credentials[0].community: only for version "2c"`},
		{"v3 user", func(c *Config) { c.Credentials = []Credential{{Prefix: p, Version: "3"}} },
			`credentials[0].user: required for version "3"`},
		{"auth protocol", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", AuthProtocol: "SHA1", AuthPassphrase: "x"}}
		}, `credentials[0].auth-protocol: "SHA1" is not one of`},
		{"priv protocol", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "x", PrivProtocol: "3DES", PrivPassphrase: "y"}}
		}, `credentials[0].priv-protocol: "3DES" is not one of`},
		{"security level", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", SecurityLevel: "high"}}
		},
			`credentials[0].security-level: "high" is not one of`},
		{"auth passphrase", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", AuthProtocol: "SHA"}}
		},
			"credentials[0].auth-passphrase: required by security-level authNoPriv"},
		{"priv passphrase", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", AuthProtocol: "SHA", AuthPassphrase: "x", PrivProtocol: "AES"}}
		}, "credentials[0].priv-passphrase: required by security-level authPriv"},
		{"level without protocol", func(c *Config) {
			c.Credentials = []Credential{{Prefix: p, Version: "3", User: "u", SecurityLevel: "authPriv", AuthPassphrase: "x", PrivPassphrase: "y"}}
		}, "credentials[0].auth-protocol: required by security-level authPriv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSecretFileErrorsNameKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Credentials = []Credential{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24")},
		{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Version: "3", User: "u", AuthProtocol: "SHA",
			AuthPassphraseFile: "/nonexistent/snmp-auth"},
	}
	_, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{})
	if err == nil || !strings.Contains(err.Error(), "credentials[1].auth-passphrase-file: open /nonexistent/snmp-auth") {
		t.Errorf("New() = %v; want the key and the file named", err)
	}
}
