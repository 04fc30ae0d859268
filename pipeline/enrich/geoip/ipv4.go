package geoip

import (
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"

	"sluice/pipeline/enrich/ipv4map"
)

// ipv4Table is a database's IPv4 networks flattened into an ipv4map.Map,
// with every record they point to decoded once, at load. Most flow
// addresses are IPv4: their lookup reads the Map and one record instead
// of walking some 24 levels of the tree (a CPU cache miss each in a
// database of GeoLite2-City's size) and then the record cache.
type ipv4Table struct {
	networks *ipv4map.Map
	// records[v-1] is the record of the networks' value v; nil when it
	// could not be read (a decode error at every lookup that meets it).
	records []*cachedRecord
	// decoded counts the records that could be read.
	decoded int
}

// everyIPv4 is the prefix holding every IPv4 network of a database, in
// its IPv4 subtree when the database is IPv6.
var everyIPv4 = netip.MustParsePrefix("0.0.0.0/0")

// flattenIPv4 walks the database's IPv4 networks. A corrupt tree fails it;
// a record that cannot be decoded does not (it is counted where it is
// met, as before the table existed).
func flattenIPv4(reader *maxminddb.Reader, l layout) (ipv4Table, error) {
	var b ipv4map.Builder
	values := map[uintptr]uint32{}
	var t ipv4Table
	for res := range reader.NetworksWithin(everyIPv4) {
		if err := res.Err(); err != nil {
			return ipv4Table{}, fmt.Errorf("corrupt search tree: %w", err)
		}
		offset := res.Offset()
		v, seen := values[offset]
		if !seen {
			var record *cachedRecord
			if decoded, err := l.decode(res); err == nil {
				record = &cachedRecord{offset: offset, result: decoded}
				t.decoded++
			}
			t.records = append(t.records, record)
			v = uint32(len(t.records))
			values[offset] = v
		}
		if p := res.Prefix(); !b.Add(p, v) {
			// A record of an IPv6 database that covers the whole IPv4
			// subtree (::/64, or ::/0 in a database with one answer)
			// comes back as that IPv6 network: it answers every IPv4
			// address.
			if !p.Contains(netip.IPv6Unspecified()) || p.Bits() > 96 {
				return ipv4Table{}, fmt.Errorf("corrupt search tree: network %s listed under the IPv4 networks", p)
			}
			b.Add(everyIPv4, v)
		}
	}
	t.networks = b.Build()
	return t, nil
}

// find is walk for an IPv4 address.
func (t *ipv4Table) find(a netip.Addr, m *sourceMetrics) *cachedRecord {
	v := t.networks.LookupAddr(a)
	if v == 0 {
		return notFound
	}
	record := t.records[v-1]
	if record == nil {
		m.decodeErrors.Inc()
	}
	return record
}
