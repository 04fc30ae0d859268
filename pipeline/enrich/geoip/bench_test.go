package geoip

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Size of the generated benchmark database, close to GeoLite2-City:
// about 3.5 million networks (IPv4 and IPv6) over some 150,000 distinct
// location records.
const (
	benchIPv4Networks = 3_000_000
	benchIPv6Networks = 500_000
	benchLocations    = 150_000
)

// benchCityDatabase returns a GeoLite2-City-sized database built with
// mmdbwriter, generated once into $SLUICE_CACHE (default: the user cache
// directory's sluice/) because building it takes a while.
func benchCityDatabase(b *testing.B) string {
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
		rec := cityRecord(country, country, fmt.Sprintf("City %d", i))
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
	writeFile(b, tmp, buf.Bytes())
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s (%d bytes) in %s", path, buf.Len(), time.Since(start).Round(time.Second))
	return path
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLookupCitySized looks up addresses spread over a
// GeoLite2-City-sized database (hits in IPv4 and IPv6, and misses), after
// one pass has cached the records they meet.
func BenchmarkLookupCitySized(b *testing.B) {
	path := benchCityDatabase(b)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	before := heapInUse()
	loadStart := time.Now()
	d, err := New(newReporter(), Config{GeoDatabase: path, CheckInterval: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	loadTime := time.Since(loadStart)
	loaded := heapInUse()

	b.Logf("file %.1f MiB, heap after load %.1f MiB, load %s",
		float64(info.Size())/(1<<20), float64(loaded-before)/(1<<20), loadTime.Round(time.Millisecond))

	// Working sets of distinct addresses: flow records repeat addresses,
	// so most lookups hit the address cache; the 1M set mostly walks the
	// tree, the cost of an address seen for the first time.
	for _, distinct := range []int{4 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("addresses=%d", distinct), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			addrs := make([]netip.Addr, distinct)
			for i := range addrs {
				switch i % 8 {
				case 0: // IPv6 inside the generated /48s, or a miss beyond them
					addrs[i] = netip.AddrFrom16([16]byte{0x2a, byte(rng.IntN(2)), byte(rng.IntN(256)), byte(rng.IntN(256)), 15: 1})
				default: // IPv4 over the generated range, hits and gaps
					addrs[i] = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(110)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
				}
			}
			var out Result
			found := 0
			beforeWarmUp := heapInUse()
			for _, a := range addrs {
				if d.Lookup(a, &out); out.Country != "" {
					found++
				}
			}
			cached := heapInUse()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d.Lookup(addrs[i&(len(addrs)-1)], &out)
				i++
			}
			b.ReportMetric(float64(cached-before)/(1<<20), "heap-MiB")
			b.ReportMetric(float64(cached-beforeWarmUp)/(1<<20), "cached-MiB")
			b.ReportMetric(float64(found)/float64(len(addrs)), "found-ratio")
		})
	}
}
