// Package sampling holds the configured sampling rates: a default for
// exporters that announce none, and per-exporter overrides by address
// prefix for exporters whose announced rate is wrong or missing.
package sampling

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"sluice/pipeline/record"
)

// Config is the `collector.sampling:` section.
type Config struct {
	// Default applies to flows whose exporter announces no rate (nor has
	// an override); 0 or 1 means unsampled. Such flows are counted.
	Default uint64 `yaml:"default"`
	// Overrides forces the rate of exporters by address prefix
	// ("192.0.2.0/24": 1000, a bare address for one exporter), whatever
	// they announce; the longest matching prefix wins.
	Overrides map[string]uint64 `yaml:"overrides"`
}

// Validate names each bad override.
func (c Config) Validate() error {
	_, err := NewOverrides(c.Overrides)
	return err
}

// Overrides are compiled overrides; a nil *Overrides has none.
type Overrides struct {
	entries []entry // longest prefix first
}

type entry struct {
	prefix netip.Prefix // IPv4 prefixes mapped into IPv6, as record.Addr is
	rate   uint64
}

// NewOverrides compiles a prefix → rate map; nil when it is empty.
func NewOverrides(m map[string]uint64) (*Overrides, error) {
	if len(m) == 0 {
		return nil, nil
	}
	var errs []error
	o := &Overrides{}
	for key, rate := range m {
		p, err := ParsePrefix(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("overrides: %w", err))
			continue
		}
		if rate < 1 {
			errs = append(errs, fmt.Errorf("overrides.%s: rate must be at least 1", key))
			continue
		}
		o.entries = append(o.entries, entry{p, rate})
	}
	slices.SortFunc(o.entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(b.prefix.Bits(), a.prefix.Bits()), a.prefix.Addr().Compare(b.prefix.Addr()))
	})
	return o, errors.Join(errs...)
}

// ParsePrefix reads a prefix or a bare address, and maps IPv4 into IPv6
// (::ffff:0:0/96) so that it matches record.Addr values.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a prefix nor an address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	if p.Addr().Is4() {
		p = netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
	}
	return p, nil
}

// Rate returns the forced rate of an exporter, 0 when none applies. It
// does not allocate.
func (o *Overrides) Rate(exporter record.Addr) uint64 {
	if o == nil {
		return 0
	}
	a := netip.AddrFrom16(exporter)
	for i := range o.entries {
		if o.entries[i].prefix.Contains(a) {
			return o.entries[i].rate
		}
	}
	return 0
}
