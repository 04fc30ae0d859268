package geoip

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"sluice/pipeline/enrich/geoip/geoiptest"
)

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
	path := geoiptest.CitySized(b)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	before := heapInUse()
	loadStart := time.Now()
	d, err := New(newReporter(), Config{GeoDatabase: path, CheckInterval: time.Minute}, Dependencies{})
	if err != nil {
		b.Fatal(err)
	}
	loadTime := time.Since(loadStart)
	loaded := heapInUse()

	b.Logf("file %.1f MiB, heap after load %.1f MiB, load %s",
		float64(info.Size())/(1<<20), float64(loaded-before)/(1<<20), loadTime.Round(time.Millisecond))

	// Working sets of distinct addresses, one in eight IPv6: the small
	// ones stay in the CPU caches, as the addresses flow records repeat
	// do; the 1M set is the cost of an address seen for the first time.
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
