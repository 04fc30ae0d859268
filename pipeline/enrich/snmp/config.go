package snmp

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Config is the `snmp:` section of the enrichment configuration.
type Config struct {
	// Enabled turns polling on. A disabled Poller answers every lookup
	// with nothing and polls nothing.
	Enabled bool `yaml:"enabled"`
	// Port is the agents' UDP port (default 161).
	Port uint16 `yaml:"port"`
	// Timeout is how long one SNMP request waits for its answer (1s).
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times an unanswered request is sent again (1).
	Retries int `yaml:"retries"`
	// Interval is how often a known exporter is polled again (1h).
	Interval time.Duration `yaml:"interval"`
	// Expire forgets an exporter no lookup asked about for this long (24h).
	Expire time.Duration `yaml:"expire"`
	// Workers is how many exporters are polled at once (4).
	Workers int `yaml:"workers"`
	// Credentials say how to talk to exporters, by exporter prefix; the
	// most specific prefix wins. An exporter no prefix covers is polled with
	// SNMPv2c and the community "public".
	Credentials []Credential `yaml:"credentials"`
	// MaxExporters bounds how many exporters are polled and cached
	// (10000); lookups for more are counted misses.
	MaxExporters int `yaml:"max-exporters"`
}

// Credential is one entry of `credentials:`. Secrets come from the
// configuration or, better, from a file named by the matching *-file key
// (one line; surrounding white space is ignored), never from both.
type Credential struct {
	// Prefix selects the exporters this credential applies to.
	Prefix netip.Prefix `yaml:"prefix"`
	// Version is "2c" (default) or "3".
	Version string `yaml:"version"`
	// Community is the SNMPv2c community (default "public").
	Community     string `yaml:"community"`
	CommunityFile string `yaml:"community-file"`
	// User is the SNMPv3 user (USM security name).
	User string `yaml:"user"`
	// AuthProtocol: MD5, SHA, SHA224, SHA256, SHA384 or SHA512.
	AuthProtocol       string `yaml:"auth-protocol"`
	AuthPassphrase     string `yaml:"auth-passphrase"`
	AuthPassphraseFile string `yaml:"auth-passphrase-file"`
	// PrivProtocol: DES, AES (AES-128), AES192, AES256 (Blumenthal key
	// extension), AES192C or AES256C (Reeder key extension, Cisco's).
	PrivProtocol       string `yaml:"priv-protocol"`
	PrivPassphrase     string `yaml:"priv-passphrase"`
	PrivPassphraseFile string `yaml:"priv-passphrase-file"`
	// SecurityLevel: noAuthNoPriv, authNoPriv or authPriv. Default: authPriv
	// when priv-protocol is set, authNoPriv when only auth-protocol is,
	// noAuthNoPriv otherwise.
	SecurityLevel string `yaml:"security-level"`
}

// DefaultConfig is the configuration when nothing is set: polling off.
func DefaultConfig() Config {
	return Config{
		Port:         161,
		Timeout:      time.Second,
		Retries:      1,
		Interval:     time.Hour,
		Expire:       24 * time.Hour,
		Workers:      4,
		MaxExporters: 10000,
	}
}

var (
	authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
		"md5": gosnmp.MD5, "sha": gosnmp.SHA, "sha224": gosnmp.SHA224,
		"sha256": gosnmp.SHA256, "sha384": gosnmp.SHA384, "sha512": gosnmp.SHA512,
	}
	privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
		"des": gosnmp.DES, "aes": gosnmp.AES, "aes192": gosnmp.AES192, "aes256": gosnmp.AES256,
		"aes192c": gosnmp.AES192C, "aes256c": gosnmp.AES256C,
	}
	securityLevels = map[string]gosnmp.SnmpV3MsgFlags{
		"noauthnopriv": gosnmp.NoAuthNoPriv, "authnopriv": gosnmp.AuthNoPriv, "authpriv": gosnmp.AuthPriv,
	}
)

// Validate checks the configuration without reading any file; each error
// names its key (credentials[1].version).
func (c Config) Validate() error {
	var errs []error
	if c.Port == 0 {
		errs = append(errs, errors.New("port: must not be 0"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", c.Timeout))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries: must not be negative, got %d", c.Retries))
	}
	if c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("interval: must be at least 1s, got %s", c.Interval))
	}
	if c.Expire < c.Interval {
		errs = append(errs, fmt.Errorf("expire: must be at least interval (%s), got %s", c.Interval, c.Expire))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers: must be at least 1, got %d", c.Workers))
	}
	if c.MaxExporters < 1 {
		errs = append(errs, fmt.Errorf("max-exporters: must be at least 1, got %d", c.MaxExporters))
	}
	seen := map[netip.Prefix]int{}
	for i, cred := range c.Credentials {
		key := fmt.Sprintf("credentials[%d]", i)
		for _, err := range cred.validate() {
			errs = append(errs, fmt.Errorf("%s.%w", key, err))
		}
		if cred.Prefix.IsValid() {
			p := normalizePrefix(cred.Prefix)
			if j, dup := seen[p]; dup {
				errs = append(errs, fmt.Errorf("%s.prefix: %s is already credentials[%d]'s", key, cred.Prefix, j))
			}
			seen[p] = i
		}
	}
	return errors.Join(errs...)
}

func (c Credential) validate() []error {
	var errs []error
	if !c.Prefix.IsValid() {
		errs = append(errs, errors.New("prefix: required (e.g. 192.0.2.0/24)"))
	}
	bothSet := func(key, value, file string) {
		if value != "" && file != "" {
			errs = append(errs, fmt.Errorf("%s-file: set %s or %s-file, not both", key, key, key))
		}
	}
	switch c.Version {
	case "", "2c":
		bothSet("community", c.Community, c.CommunityFile)
		for key, value := range map[string]string{
			"user": c.User, "auth-protocol": c.AuthProtocol, "auth-passphrase": c.AuthPassphrase,
			"auth-passphrase-file": c.AuthPassphraseFile, "priv-protocol": c.PrivProtocol,
			"priv-passphrase": c.PrivPassphrase, "priv-passphrase-file": c.PrivPassphraseFile,
			"security-level": c.SecurityLevel,
		} {
			if value != "" {
				errs = append(errs, fmt.Errorf("%s: only for version \"3\"", key))
			}
		}
	case "3":
		if c.Community != "" || c.CommunityFile != "" {
			errs = append(errs, errors.New("community: only for version \"2c\""))
		}
		if c.User == "" {
			errs = append(errs, errors.New("user: required for version \"3\""))
		}
		if c.AuthProtocol != "" {
			if _, ok := authProtocols[strings.ToLower(c.AuthProtocol)]; !ok {
				errs = append(errs, fmt.Errorf("auth-protocol: %q is not one of MD5, SHA, SHA224, SHA256, SHA384, SHA512", c.AuthProtocol))
			}
		}
		if c.PrivProtocol != "" {
			if _, ok := privProtocols[strings.ToLower(c.PrivProtocol)]; !ok {
				errs = append(errs, fmt.Errorf("priv-protocol: %q is not one of DES, AES, AES192, AES256, AES192C, AES256C", c.PrivProtocol))
			}
		}
		bothSet("auth-passphrase", c.AuthPassphrase, c.AuthPassphraseFile)
		bothSet("priv-passphrase", c.PrivPassphrase, c.PrivPassphraseFile)
		level, err := c.level()
		if err != nil {
			errs = append(errs, err)
			break
		}
		if level&gosnmp.AuthNoPriv != 0 {
			if c.AuthProtocol == "" {
				errs = append(errs, errors.New("auth-protocol: required by security-level "+c.levelName()))
			}
			if c.AuthPassphrase == "" && c.AuthPassphraseFile == "" {
				errs = append(errs, errors.New("auth-passphrase: required by security-level "+c.levelName()+" (or auth-passphrase-file)"))
			}
		}
		if level == gosnmp.AuthPriv {
			if c.PrivProtocol == "" {
				errs = append(errs, errors.New("priv-protocol: required by security-level authPriv"))
			}
			if c.PrivPassphrase == "" && c.PrivPassphraseFile == "" {
				errs = append(errs, errors.New("priv-passphrase: required by security-level authPriv (or priv-passphrase-file)"))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("version: %q is not \"2c\" or \"3\"", c.Version))
	}
	return errs
}

// level is the SNMPv3 security level, explicit or derived from the
// protocols set.
func (c Credential) level() (gosnmp.SnmpV3MsgFlags, error) {
	if c.SecurityLevel != "" {
		level, ok := securityLevels[strings.ToLower(c.SecurityLevel)]
		if !ok {
			return 0, fmt.Errorf("security-level: %q is not one of noAuthNoPriv, authNoPriv, authPriv", c.SecurityLevel)
		}
		return level, nil
	}
	switch {
	case c.PrivProtocol != "":
		return gosnmp.AuthPriv, nil
	case c.AuthProtocol != "":
		return gosnmp.AuthNoPriv, nil
	}
	return gosnmp.NoAuthNoPriv, nil
}

func (c Credential) levelName() string {
	level, _ := c.level()
	switch level {
	case gosnmp.AuthPriv:
		return "authPriv"
	case gosnmp.AuthNoPriv:
		return "authNoPriv"
	}
	return "noAuthNoPriv"
}

// normalizePrefix makes 10.0.0.0/8 and ::ffff:10.0.0.0/104 the same
// prefix: exporters are looked up by their unmapped address.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// credential is a Credential with its secrets read, ready to build clients.
type credential struct {
	prefix    netip.Prefix
	version   gosnmp.SnmpVersion
	community string
	user      string
	level     gosnmp.SnmpV3MsgFlags
	auth      gosnmp.SnmpV3AuthProtocol
	authPass  string
	priv      gosnmp.SnmpV3PrivProtocol
	privPass  string
}

// defaultCredential applies to exporters no configured prefix covers.
var defaultCredential = &credential{version: gosnmp.Version2c, community: "public"}

// resolveCredentials reads the secret files and orders the credentials
// most specific first. cfg must have passed Validate.
func resolveCredentials(creds []Credential) ([]*credential, error) {
	out := make([]*credential, 0, len(creds))
	var errs []error
	for i, c := range creds {
		rc := &credential{prefix: normalizePrefix(c.Prefix), version: gosnmp.Version2c, community: "public"}
		read := func(key, value, file string) string {
			if file == "" {
				return value
			}
			b, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("credentials[%d].%s-file: %w", i, key, err))
				return ""
			}
			s := strings.TrimSpace(string(b))
			if s == "" {
				errs = append(errs, fmt.Errorf("credentials[%d].%s-file: %s is empty", i, key, file))
			}
			return s
		}
		if c.Version == "3" {
			rc.version = gosnmp.Version3
			rc.community = ""
			rc.user = c.User
			rc.level, _ = c.level()
			rc.auth, rc.priv = gosnmp.NoAuth, gosnmp.NoPriv
			if rc.level&gosnmp.AuthNoPriv != 0 {
				rc.auth = authProtocols[strings.ToLower(c.AuthProtocol)]
				rc.authPass = read("auth-passphrase", c.AuthPassphrase, c.AuthPassphraseFile)
			}
			if rc.level == gosnmp.AuthPriv {
				rc.priv = privProtocols[strings.ToLower(c.PrivProtocol)]
				rc.privPass = read("priv-passphrase", c.PrivPassphrase, c.PrivPassphraseFile)
			}
		} else if community := read("community", c.Community, c.CommunityFile); community != "" {
			rc.community = community
		}
		out = append(out, rc)
	}
	// Most specific first, so the first match wins.
	sort.SliceStable(out, func(i, j int) bool { return out[i].prefix.Bits() > out[j].prefix.Bits() })
	return out, errors.Join(errs...)
}

// credentialFor returns the credential of the most specific prefix
// holding addr.
func credentialFor(creds []*credential, addr netip.Addr) *credential {
	for _, c := range creds {
		if c.prefix.Contains(addr) {
			return c
		}
	}
	return defaultCredential
}

// logAttrs say in a log line which credential a poll used, never its
// secrets.
func (c *credential) logAttrs() []any {
	if c.version != gosnmp.Version3 {
		return []any{"snmp_version", "2c", "credential_prefix", c.prefixString()}
	}
	return []any{"snmp_version", "3", "credential_prefix", c.prefixString(), "user", c.user}
}

func (c *credential) prefixString() string {
	if !c.prefix.IsValid() {
		return "default"
	}
	return c.prefix.String()
}

// client builds a fresh gosnmp client for one poll of addr: SNMPv3 keeps
// per-session engine state, which must not be shared between polls.
func (c *credential) client(addr netip.Addr, cfg Config) *gosnmp.GoSNMP {
	g := &gosnmp.GoSNMP{
		Target:    addr.String(),
		Port:      cfg.Port,
		Transport: "udp",
		Version:   c.version,
		Community: c.community,
		Timeout:   cfg.Timeout,
		Retries:   cfg.Retries,
		// Half gosnmp's default: answers of 25 rows of names rarely need
		// IP fragmentation, which some firewalls drop.
		MaxRepetitions: 25,
		MaxOids:        gosnmp.MaxOids,
	}
	if c.version == gosnmp.Version3 {
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = c.level
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName:                 c.user,
			AuthenticationProtocol:   c.auth,
			AuthenticationPassphrase: c.authPass,
			PrivacyProtocol:          c.priv,
			PrivacyPassphrase:        c.privPass,
		}
	}
	return g
}
