package snmp

import (
	"net/netip"
	"runtime"
	"testing"
)

// benchPoller caches 1000 exporters of 100 interfaces each.
func benchPoller(b *testing.B) (*harness, []netip.Addr) {
	h := newHarness(b, testConfig(16161), "")
	addrs := make([]netip.Addr, 1000)
	for i := range addrs {
		// IPv4-mapped, as the record carries them.
		addrs[i] = netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).As16())
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h.fill(addrs, 100)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("cache of %d exporters x 100 interfaces: %.1f MiB", len(addrs), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	return h, addrs
}

func BenchmarkInterface(b *testing.B) {
	h, addrs := benchPoller(b)
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := h.Interface(addrs[i%len(addrs)], uint32(i%100)+1); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	// The same exporter every time: the cache's memory stays in the CPU
	// caches, as with a few busy exporters.
	b.Run("hit-one-exporter", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := h.Interface(addrs[0], uint32(i%100)+1); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok := h.Interface(addrs[i%len(addrs)], uint32(i%100)+1); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
	b.Run("miss-unknown-interface", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := h.Interface(addrs[i%len(addrs)], 1000); ok {
				b.Fatal("hit")
			}
			i++
		}
	})
	b.Run("exporter-name", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := h.ExporterName(addrs[i%len(addrs)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}
