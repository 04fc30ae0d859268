package enrich

import (
	"bytes"
	"encoding/binary"
	"fmt"
	mathrand "math/rand"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"sluice/pipeline/enrich/geoip/geoiptest"
	"sluice/pipeline/enrich/threat"
	"sluice/pipeline/record"
)

// benchNetworks is a networks table of n distinct prefixes, /16 to /28 in
// IPv4 and /32 to /64 in IPv6, as a large IPAM export would give.
func benchNetworks(n int) []NetworkEntry {
	r := rand.New(rand.NewPCG(7, 7))
	sites := make([]string, 200)
	for i := range sites {
		sites[i] = fmt.Sprintf("site-%03d", i)
	}
	seen := make(map[netip.Prefix]bool, n)
	entries := make([]NetworkEntry, 0, n)
	for len(entries) < n {
		var p netip.Prefix
		if r.IntN(4) == 0 {
			var a [16]byte
			a[0], a[1] = 0x20, 0x01
			for i := 2; i < 8; i++ {
				a[i] = byte(r.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked()
		} else {
			v := r.Uint32()
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 16+r.IntN(13)).Masked()
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		site := sites[r.IntN(len(sites))]
		entries = append(entries, NetworkEntry{Prefix: p, Name: "net-" + site, Site: site, Region: "eu", Tenant: "t" + site[5:]})
	}
	return entries
}

// benchFlows are records with random IPv4 and IPv6 addresses, half of them
// inside the own networks.
func benchFlows(n int) []record.Flow {
	r := rand.New(rand.NewPCG(8, 8))
	flows := make([]record.Flow, n)
	for i := range flows {
		f := &flows[i]
		f.ExporterAddress = addr(fmt.Sprintf("::ffff:192.0.2.%d", 1+r.IntN(8)))
		f.InIfIndex, f.OutIfIndex = uint32(1+r.IntN(4)), uint32(1+r.IntN(4))
		uniformAddresses(r, f)
		f.Proto = 6
		f.SrcPort, f.DstPort = uint16(32768+r.IntN(28000)), []uint16{443, 80, 53, 22, 8443}[r.IntN(5)]
	}
	return flows
}

// uniformAddresses draws a record's addresses: the source in 10.0.0.0/8
// or 2001:db8::/32 (own networks), the destination anywhere, one in five
// IPv6.
func uniformAddresses(r *rand.Rand, f *record.Flow) {
	var a [16]byte
	if r.IntN(5) == 0 {
		binary.BigEndian.PutUint64(a[:8], 0x20010db8<<32|r.Uint64()>>32)
		binary.BigEndian.PutUint64(a[8:], r.Uint64())
		f.SrcAddr = a
		binary.BigEndian.PutUint64(a[:8], 0x2001<<48|r.Uint64()>>16)
		binary.BigEndian.PutUint64(a[8:], r.Uint64())
		f.DstAddr = a
		return
	}
	f.SrcAddr = record.AddrFrom4([4]byte{10, byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	f.DstAddr = record.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
}

// BenchmarkProcess is the whole chain with a 1M-prefix networks table, a
// GeoLite2-City-sized database (geoiptest.CitySized, built once with
// mmdbwriter and cached) and 100k threat-feed entries: ns/op is per
// record. table-MiB is the heap the loaded tables take.
func BenchmarkProcess(b *testing.B) {
	cfg := DefaultConfig()
	cfg.OwnNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	cfg.Exporters = []ExporterConfig{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Name: "edge", Site: "par1"}}
	for i := 1; i <= 4; i++ {
		cfg.Interfaces = append(cfg.Interfaces, InterfaceConfig{Exporter: netip.MustParsePrefix("192.0.2.0/24"), Index: uint32(i), Name: fmt.Sprintf("et-0/0/%d", i), Boundary: "external"})
	}
	// The networks come from a CSV file, as a large IPAM export would.
	cfg.Networks.File = filepath.Join(b.TempDir(), "networks.csv")
	var csv bytes.Buffer
	csv.WriteString("prefix,name,site,region,tenant\n")
	for _, n := range benchNetworks(1_000_000) {
		fmt.Fprintf(&csv, "%s,%s,%s,%s,%s\n", n.Prefix, n.Name, n.Site, n.Region, n.Tenant)
	}
	if err := os.WriteFile(cfg.Networks.File, csv.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	csv = bytes.Buffer{}
	cfg.GeoIP.GeoDatabase = geoiptest.CitySized(b)
	cfg.Threat.Feeds = []threat.FeedConfig{{Name: "bench", Format: "plain", File: benchFeed(b, 100_000)}}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e := newEnricher(b, cfg)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	tableMiB := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / (1 << 20)

	// Two address mixes, drawn afresh for every chunk of 4096 records
	// (outside the timer), so that no cache sees a repeated sequence:
	// uniformly random over the address space (every lookup misses every
	// cache: the worst case), and Zipf-distributed over a million hosts
	// (s = 1.1, a quarter IPv6), as traffic concentrates on few talkers.
	hosts := zipfHosts()
	for _, mix := range []struct {
		name string
		draw func(r *rand.Rand, z *mathrand.Zipf, f *record.Flow)
	}{
		{"addresses=uniform", func(r *rand.Rand, _ *mathrand.Zipf, f *record.Flow) { uniformAddresses(r, f) }},
		{"addresses=zipf", func(_ *rand.Rand, z *mathrand.Zipf, f *record.Flow) {
			f.SrcAddr, f.DstAddr = hosts[z.Uint64()], hosts[z.Uint64()]
		}},
	} {
		// Drawn once per mix: the rounds b.Run calls with growing b.N go
		// on drawing where the previous round stopped.
		r := rand.New(rand.NewPCG(12, 12))
		z := mathrand.NewZipf(mathrand.New(mathrand.NewSource(11)), 1.1, 1, uint64(len(hosts)-1))
		b.Run(mix.name, func(b *testing.B) {
			flows := benchFlows(4096)
			b.ReportAllocs()
			for i := 0; i < b.N; i += len(flows) {
				b.StopTimer()
				for j := range flows {
					mix.draw(r, z, &flows[j])
					flows[j].SrcAS, flows[j].DstAS = 0, 0 // as received: GeoIP fills them
				}
				b.StartTimer()
				e.Process(flows[:min(len(flows), b.N-i)])
			}
			b.ReportMetric(tableMiB, "table-MiB")
		})
	}
}

// zipfHosts are a million hosts, a quarter IPv6.
func zipfHosts() []record.Addr {
	r := rand.New(rand.NewPCG(10, 10))
	hosts := make([]record.Addr, 1<<20)
	for i := range hosts {
		if i%4 == 0 {
			hosts[i] = addr(fmt.Sprintf("2001:db8:%x:%x::1", r.Uint32()&0xffff, r.Uint32()&0xffff))
		} else {
			v := r.Uint32()
			hosts[i] = record.AddrFrom4([4]byte{byte(1 + v%223), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
		}
	}
	return hosts
}

// benchFeed writes a plain feed of n entries (addresses and /24s, as
// blocklists mix them) and returns its path.
func benchFeed(b *testing.B, n int) string {
	r := rand.New(rand.NewPCG(9, 9))
	var buf bytes.Buffer
	for range n {
		v := r.Uint32()
		if r.IntN(4) == 0 {
			fmt.Fprintf(&buf, "%d.%d.%d.0/24\n", byte(v>>24), byte(v>>16), byte(v>>8))
		} else {
			fmt.Fprintf(&buf, "%d.%d.%d.%d\n", byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
	}
	path := filepath.Join(b.TempDir(), "feed.txt")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkRules is the cost of two rules on every record, the rest of
// the chain off: expr evaluates through reflection, so rules allocate.
func BenchmarkRules(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Services, cfg.CommunityID.Enabled = false, false
	cfg.Rules = []RuleConfig{
		{Name: "https", If: `DstPort == 443 && Proto == 6`, Set: map[string]string{"ExporterRole": "web"}},
		{Name: "drop-multicast", If: `inNet(DstAddr, "224.0.0.0/4")`, Drop: true},
	}
	e := newEnricher(b, cfg)
	flows := benchFlows(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(flows) {
		e.Process(flows[:min(len(flows), b.N-i)])
	}
}
