package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unicode/utf8"

	"sluice/pipeline/enrich/geoip"
	"sluice/pipeline/enrich/snmp"
	"sluice/pipeline/enrich/threat"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// Config is the `enrich:` section. Every part is optional; an empty section
// adds the service name, the Community ID and nothing else.
type Config struct {
	// OwnNetworks are your address space: TrafficDirection is relative to
	// it, and threat feeds never match inside it unless a feed says so.
	OwnNetworks []netip.Prefix `yaml:"own-networks"`
	// Exporters name and classify exporters by address prefix; the most
	// specific prefix wins.
	Exporters []ExporterConfig `yaml:"exporters"`
	// Interfaces name and classify interfaces, by exporter prefix and
	// ifIndex; they win over names from options templates and SNMP.
	Interfaces []InterfaceConfig `yaml:"interfaces"`
	// Networks give names, roles, sites, regions and tenants to prefixes,
	// matched on both addresses of every record.
	Networks NetworksConfig `yaml:"networks"`
	// Services sets ServiceName from the protocol and the well-known port
	// (IANA's list). Default on.
	Services bool `yaml:"services"`
	// CommunityID computes the Community ID v1 of every record.
	CommunityID CommunityIDConfig `yaml:"community-id"`
	// Rules run last, in order: expressions over the record that set
	// columns or drop the record.
	Rules []RuleConfig `yaml:"rules"`
	// SNMP polls exporters for interface names, descriptions and speeds,
	// and their sysName.
	SNMP snmp.Config `yaml:"snmp"`
	// GeoIP gives countries, cities, AS numbers and organisations from
	// MaxMind-format databases (GeoLite2, DB-IP, IPinfo).
	GeoIP geoip.Config `yaml:"geoip"`
	// Threat tags the records whose source or destination a
	// threat-intelligence feed lists.
	Threat threat.Config `yaml:"threat"`
}

// ExporterConfig is one entry of `enrich.exporters`.
type ExporterConfig struct {
	Prefix netip.Prefix `yaml:"prefix"`
	// Name defaults to the SNMP sysName when SNMP polls the exporter.
	Name   string `yaml:"name"`
	Group  string `yaml:"group"`
	Role   string `yaml:"role"`
	Site   string `yaml:"site"`
	Region string `yaml:"region"`
	Tenant string `yaml:"tenant"`
}

// InterfaceConfig is one entry of `enrich.interfaces`.
type InterfaceConfig struct {
	// Exporter is the exporters (a prefix; a single address is a /32 or
	// /128) the entry applies to.
	Exporter netip.Prefix `yaml:"exporter"`
	// Index is the SNMP ifIndex the flows carry.
	Index       uint32 `yaml:"index"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Speed in bits per second.
	Speed uint64 `yaml:"speed"`
	// Boundary is external, internal or undefined (default).
	Boundary     string `yaml:"boundary"`
	Provider     string `yaml:"provider"`
	Connectivity string `yaml:"connectivity"`
}

// NetworksConfig is `enrich.networks`.
type NetworksConfig struct {
	// File is a YAML or CSV file of networks (by extension: .yaml/.yml or
	// .csv), reloaded when it changes; see README for the formats.
	File string `yaml:"file"`
	// CheckInterval is how often File is checked for changes.
	CheckInterval time.Duration `yaml:"check-interval"`
	// Entries are networks given inline; File's entries win on the same
	// prefix.
	Entries []NetworkEntry `yaml:"entries"`
}

// NetworkEntry is one network.
type NetworkEntry struct {
	Prefix netip.Prefix `yaml:"prefix"`
	Name   string       `yaml:"name"`
	Role   string       `yaml:"role"`
	Site   string       `yaml:"site"`
	Region string       `yaml:"region"`
	Tenant string       `yaml:"tenant"`
}

// CommunityIDConfig is `enrich.community-id`.
type CommunityIDConfig struct {
	// Enabled computes the Community ID; default on.
	Enabled bool `yaml:"enabled"`
	// Seed is the Community ID seed; it must match the other tools
	// (Zeek, Suricata) you correlate with. Default 0.
	Seed uint16 `yaml:"seed"`
}

// RuleConfig is one entry of `enrich.rules`.
type RuleConfig struct {
	// Name identifies the rule in metrics and logs.
	Name string `yaml:"name"`
	// If is an expr-lang expression over the record's columns (by their
	// names) that decides whether the rule applies; empty applies always.
	If string `yaml:"if"`
	// Set assigns constant values to string, enum or integer columns.
	Set map[string]string `yaml:"set"`
	// Drop discards the record (counted by rule).
	Drop bool `yaml:"drop"`
}

// DefaultConfig turns on the service name and the Community ID.
func DefaultConfig() Config {
	return Config{
		Services:    true,
		CommunityID: CommunityIDConfig{Enabled: true},
		Networks:    NetworksConfig{CheckInterval: 30 * time.Second},
		SNMP:        snmp.DefaultConfig(),
		GeoIP:       geoip.DefaultConfig(),
		Threat:      threat.DefaultConfig(),
	}
}

// Validate reports every invalid key, by its path under `enrich:`.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	checkString := func(key, s string) {
		if err := checkValue(s); err != nil {
			bad(key, "%v", err)
		}
	}
	for i, p := range c.OwnNetworks {
		if !p.IsValid() {
			bad(fmt.Sprintf("own-networks[%d]", i), "not a prefix")
		}
	}
	for i, e := range c.Exporters {
		key := fmt.Sprintf("exporters[%d]", i)
		if !e.Prefix.IsValid() {
			bad(key+".prefix", "required")
		}
		for _, f := range []struct{ k, v string }{{"name", e.Name}, {"group", e.Group}, {"role", e.Role}, {"site", e.Site}, {"region", e.Region}, {"tenant", e.Tenant}} {
			checkString(key+"."+f.k, f.v)
		}
	}
	for i, e := range c.Interfaces {
		key := fmt.Sprintf("interfaces[%d]", i)
		if !e.Exporter.IsValid() {
			bad(key+".exporter", "required")
		}
		if _, err := parseBoundary(e.Boundary); err != nil {
			bad(key+".boundary", "%v", err)
		}
		for _, f := range []struct{ k, v string }{{"name", e.Name}, {"description", e.Description}, {"provider", e.Provider}, {"connectivity", e.Connectivity}} {
			checkString(key+"."+f.k, f.v)
		}
	}
	if c.Networks.File != "" && c.Networks.CheckInterval <= 0 {
		bad("networks.check-interval", "must be positive, got %s", c.Networks.CheckInterval)
	}
	for i, e := range c.Networks.Entries {
		if err := e.validate(); err != nil {
			bad(fmt.Sprintf("networks.entries[%d]", i), "%v", err)
		}
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" {
			bad(key+".name", "required")
		} else if names[r.Name] {
			bad(key+".name", "%q used twice", r.Name)
		}
		names[r.Name] = true
		if !r.Drop && len(r.Set) == 0 {
			bad(key, "needs set or drop")
		}
		if _, err := compileRule(r); err != nil {
			bad(key, "%v", err)
		}
	}
	for _, sub := range []struct {
		name string
		err  error
	}{
		{"snmp", c.SNMP.Validate()},
		{"geoip", c.GeoIP.Validate()},
		{"threat", c.Threat.Validate()},
	} {
		if sub.err == nil {
			continue
		}
		if j, ok := sub.err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				errs = append(errs, fmt.Errorf("%s.%w", sub.name, e))
			}
		} else {
			errs = append(errs, fmt.Errorf("%s.%w", sub.name, sub.err))
		}
	}
	return errors.Join(errs...)
}

func (e NetworkEntry) validate() error {
	if !e.Prefix.IsValid() {
		return errors.New("prefix: required")
	}
	for _, s := range []string{e.Name, e.Role, e.Site, e.Region, e.Tenant} {
		if err := checkValue(s); err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
	}
	return nil
}

// checkValue refuses a configured value the record cannot carry intact:
// strings travel as protobuf strings (UTF-8) of at most MaxStringLen bytes.
func checkValue(s string) error {
	if len(s) > recordpb.MaxStringLen {
		return fmt.Errorf("longer than %d bytes", recordpb.MaxStringLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	return nil
}

// parseBoundary reads a configured boundary.
func parseBoundary(s string) (record.Boundary, error) {
	for _, b := range []record.Boundary{record.BoundaryUndefined, record.BoundaryExternal, record.BoundaryInternal} {
		if s == b.String() {
			return b, nil
		}
	}
	if s == "" {
		return record.BoundaryUndefined, nil
	}
	return 0, fmt.Errorf("%q: want external, internal or undefined", s)
}

// withIPv4Unmapped writes every IPv4-mapped IPv6 prefix of the
// configuration (::ffff:10.0.0.0/104) as the IPv4 prefix it stands for
// (10.0.0.0/8): records carry IPv4 addresses unmapped, so a mapped prefix
// would never match. The networks file's entries get the same in
// buildNetworks. The slices are copied: the caller's configuration is
// left as it was.
func (c Config) withIPv4Unmapped() Config {
	c.OwnNetworks = slices.Clone(c.OwnNetworks)
	for i := range c.OwnNetworks {
		c.OwnNetworks[i] = unmapPrefix(c.OwnNetworks[i])
	}
	c.Exporters = slices.Clone(c.Exporters)
	for i := range c.Exporters {
		c.Exporters[i].Prefix = unmapPrefix(c.Exporters[i].Prefix)
	}
	c.Interfaces = slices.Clone(c.Interfaces)
	for i := range c.Interfaces {
		c.Interfaces[i].Exporter = unmapPrefix(c.Interfaces[i].Exporter)
	}
	return c
}

// unmapPrefix returns p masked, as an IPv4 prefix when it is an
// IPv4-mapped IPv6 one.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}
