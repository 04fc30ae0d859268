// Package geoiptest builds MaxMind-format databases with mmdbwriter for
// tests and benchmarks: small ones with chosen records, and one of
// GeoLite2-City size.
package geoiptest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one entry of a test database.
type Network struct {
	CIDR   string
	Record mmdbtype.Map
}

// Build writes a database of the given type with mmdbwriter and returns
// its bytes. Aliasing puts the IPv4 tree under ::ffff:0:0/96 as in real
// MaxMind files.
func Build(tb testing.TB, databaseType string, buildEpoch int64, networks []Network) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: databaseType, RecordSize: 28, IPVersion: 6, BuildEpoch: buildEpoch,
		Description: map[string]string{"en": "sluice test database"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range networks {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			tb.Fatal(err)
		}
		if err := tree.Insert(ipnet, n.Record); err != nil {
			tb.Fatalf("insert %s: %v", n.CIDR, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// CityRecord is a GeoLite2-City record with the fields real files carry
// around the ones sluice reads.
func CityRecord(country, registered, city string) mmdbtype.Map {
	rec := mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148),
			"names": mmdbtype.Map{"en": mmdbtype.String("Europe")}},
		"location": mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(100),
			"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931)},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(registered), "geoname_id": mmdbtype.Uint32(2635167)},
	}
	if country != "" {
		rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(country), "geoname_id": mmdbtype.Uint32(2635167),
			"names": mmdbtype.Map{"en": mmdbtype.String("Country " + country), "de": mmdbtype.String("Land " + country)}}
	}
	if city != "" {
		rec["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2643743),
			"names": mmdbtype.Map{"en": mmdbtype.String(city), "fr": mmdbtype.String(city + " (fr)")}}
	}
	return rec
}

// ASNRecord is a GeoLite2-ASN record.
func ASNRecord(asn uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(asn),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// Size of the generated benchmark database, close to GeoLite2-City:
// about 3.5 million networks (IPv4 and IPv6) over some 150,000 distinct
// location records.
const (
	benchIPv4Networks = 3_000_000
	benchIPv6Networks = 500_000
	benchLocations    = 150_000
)

// CitySized returns a GeoLite2-City-sized database built with
// mmdbwriter, generated once into $SLUICE_CACHE (default: the user cache
// directory's sluice/) because building it takes a while.
func CitySized(b testing.TB) string {
	dir := os.Getenv("SLUICE_CACHE")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "sluice")
	}
	path := filepath.Join(dir, fmt.Sprintf("bench-GeoLite2-City-%d-%d-%d.mmdb", benchIPv4Networks, benchIPv6Networks, benchLocations))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "GeoLite2-City", RecordSize: 28, IPVersion: 6, BuildEpoch: time.Now().Unix(),
		IncludeReservedNetworks: true, Description: map[string]string{"en": "sluice benchmark database"},
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"US", "DE", "GB", "FR", "JP", "CN", "BR", "IN", "RU", "CA", "AU", "NL", "SE", "CH", "IT", "ES", "PL", "KR", "ZA", "MX"}
	locations := make([]mmdbtype.Map, benchLocations)
	for i := range locations {
		country := countries[i%len(countries)]
		rec := CityRecord(country, country, fmt.Sprintf("City %d", i))
		rec["location"] = mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(rng.IntN(1000)),
			"latitude": mmdbtype.Float64(rng.Float64()*180 - 90), "longitude": mmdbtype.Float64(rng.Float64()*360 - 180),
			"time_zone": mmdbtype.String("Europe/Zurich")}
		rec["postal"] = mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("%05d", i%100000))}
		locations[i] = rec
	}
	// Consecutive disjoint IPv4 blocks of /22 to /28 from 1.0.0.0, and
	// IPv6 /48s in 2a00::/16.
	next := uint32(1 << 24)
	for range benchIPv4Networks {
		bits := 22 + rng.IntN(7)
		size := uint32(1) << (32 - bits)
		next = (next + size - 1) &^ (size - 1)
		ip := net.IPv4(byte(next>>24), byte(next>>16), byte(next>>8), byte(next)).To4()
		if err := tree.Insert(&net.IPNet{IP: ip, Mask: net.CIDRMask(bits, 32)}, locations[rng.IntN(benchLocations)]); err != nil {
			b.Fatal(err)
		}
		next += size
	}
	for i := range benchIPv6Networks {
		ip := make(net.IP, 16)
		ip[0], ip[1], ip[2], ip[3], ip[4] = 0x2a, byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		if err := tree.Insert(&net.IPNet{IP: ip, Mask: net.CIDRMask(48, 128)}, locations[rng.IntN(benchLocations)]); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s (%d bytes) in %s", path, buf.Len(), time.Since(start).Round(time.Second))
	return path
}
