package geoip

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/oschwald/maxminddb-golang/v2"
)

// TestIPv4TableMatchesTreeWalk compares every IPv4 answer of the flattened
// table with maxminddb's own tree walk, at each network's edges and just
// outside them, over nested networks.
func TestIPv4TableMatchesTreeWalk(t *testing.T) {
	var networks []network
	for i := range 200 {
		networks = append(networks,
			network{CIDR: fmt.Sprintf("81.%d.0.0/16", i), Record: cityRecord("DE", "DE", fmt.Sprintf("City %d", i%7))},
			network{CIDR: fmt.Sprintf("81.%d.%d.0/24", i, i), Record: cityRecord("FR", "FR", "Paris")},
			network{CIDR: fmt.Sprintf("81.%d.%d.%d/32", i, i, i), Record: cityRecord("", "SE", "")})
	}
	networks = append(networks, network{CIDR: "2a02:ff00::/32", Record: cityRecord("CH", "CH", "Zurich")})
	reader, err := maxminddb.OpenBytes(buildMMDB(t, "GeoLite2-City", 1_700_000_000, networks))
	if err != nil {
		t.Fatal(err)
	}
	table, err := flattenIPv4(reader, layoutMaxMind)
	if err != nil {
		t.Fatal(err)
	}
	m := &sourceMetrics{}
	for _, n := range networks[:len(networks)-1] {
		p := netip.MustParsePrefix(n.CIDR)
		first := p.Addr()
		last := lastAddr(p)
		for _, a := range []netip.Addr{first, first.Prev(), last, last.Next()} {
			res := reader.Lookup(a)
			got := table.find(a, m)
			switch {
			case !res.Found():
				if got != notFound {
					t.Fatalf("%s: table found %+v, the tree nothing", a, got)
				}
			case got == notFound || got == nil || got.offset != res.Offset():
				t.Fatalf("%s: table answered %+v, the tree the record at %d", a, got, res.Offset())
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b)
}

// TestCorruptIPv4TreeIsRefused breaks one node of the search tree far
// enough into the IPv4 networks that the probe of the first networks does
// not meet it: flattening the IPv4 networks walks them all, so the file is
// refused instead of answering wrong.
func TestCorruptIPv4TreeIsRefused(t *testing.T) {
	var networks []network
	for i := range 3000 {
		networks = append(networks, network{CIDR: fmt.Sprintf("%d.%d.0.0/24", 20+i/256, i%256), Record: cityRecord("DE", "DE", fmt.Sprintf("City %d", i))})
	}
	good := buildMMDB(t, "GeoLite2-City", 1_700_000_000, networks)
	reader, err := maxminddb.OpenBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	const nodeBytes = 28 * 2 / 8
	nodes := int(reader.Metadata.NodeCount)
	for node := nodes - 1; node > nodes-500; node-- {
		broken := append([]byte(nil), good...)
		for i := range nodeBytes {
			broken[node*nodeBytes+i] = 0xff
		}
		reader, err := maxminddb.OpenBytes(broken)
		if err != nil || probe(reader, layoutMaxMind) != nil {
			continue // caught by the probe already: not the case under test
		}
		if _, err := flattenIPv4(reader, layoutMaxMind); err == nil {
			continue // a node of the IPv6 networks
		}
		path := filepath.Join(t.TempDir(), "city.mmdb")
		writeFile(t, path, broken)
		_, err = New(newReporter(), Config{GeoDatabase: path, CheckInterval: time.Second}, Dependencies{})
		if err == nil || !strings.Contains(err.Error(), "corrupt search tree") || !strings.Contains(err.Error(), path) {
			t.Fatalf("node %d broken: New = %v, want a corrupt search tree error naming the file", node, err)
		}
		return
	}
	t.Fatal("no node found that the probe misses and the IPv4 walk meets")
}

// TestRecordCoveringIPv4Subtree: in an IPv6 database, a record of a
// network wider than the IPv4 subtree (::/64 here, ::/0 in a database with
// one answer) answers every IPv4 address, as maxminddb's walk does.
func TestRecordCoveringIPv4Subtree(t *testing.T) {
	for _, cidr := range []string{"::/0", "::/64", "::/96"} {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 28, IPVersion: 6,
			IncludeReservedNetworks: true, DisableIPv4Aliasing: true})
		if err != nil {
			t.Fatal(err)
		}
		_, network, _ := net.ParseCIDR(cidr)
		if err := tree.Insert(network, cityRecord("NL", "NL", "")); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := tree.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "country.mmdb")
		writeFile(t, path, buf.Bytes())
		d, err := New(newReporter(), Config{GeoDatabase: path, CheckInterval: time.Second}, Dependencies{})
		if err != nil {
			t.Fatalf("%s: %v", cidr, err)
		}
		for _, a := range []string{"1.2.3.4", "255.255.255.255", "0.0.0.0", "::ffff:198.51.100.1"} {
			var got Result
			d.Lookup(netip.MustParseAddr(a), &got)
			if got.Country != "NL" {
				t.Errorf("%s: %s: %+v, want NL", cidr, a, got)
			}
		}
		d.close()
	}
}
