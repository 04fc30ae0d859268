package collector

import (
	"net/netip"

	"sluice/collector/sampling"
)

// exporterFilter is the allow-list of exporter prefixes; empty allows all.
type exporterFilter struct {
	prefixes []netip.Prefix // IPv4 mapped into IPv6, as sampling.ParsePrefix gives
}

func newExporterFilter(list []string) (exporterFilter, error) {
	var f exporterFilter
	for _, s := range list {
		p, err := sampling.ParsePrefix(s)
		if err != nil {
			return exporterFilter{}, err
		}
		f.prefixes = append(f.prefixes, p)
	}
	return f, nil
}

// allows reports whether datagrams from addr are accepted. It runs on the
// socket readers, for every datagram: no allocation.
func (f exporterFilter) allows(addr netip.Addr) bool {
	if len(f.prefixes) == 0 {
		return true
	}
	a := netip.AddrFrom16(addr.As16())
	for _, p := range f.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
