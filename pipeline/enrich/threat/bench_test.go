package threat

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

// benchFeeds writes five feeds totalling 100,000 entries in their formats:
// single addresses (Feodo, Tor, plain), prefixes (FireHOL, Spamhaus), IPv4
// and IPv6, overlapping across feeds.
func benchFeeds(b *testing.B, dir string) (Config, []netip.Addr) {
	rng := rand.New(rand.NewPCG(5, 6))
	randomV4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(1 + rng.IntN(220)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	var firehol, drop, feodo, tor, plain strings.Builder
	var probes []netip.Addr
	for i := range 40_000 {
		a := randomV4()
		fmt.Fprintf(&firehol, "%s\n", netip.PrefixFrom(a, 16+rng.IntN(17)).Masked())
		if i%10 == 0 {
			probes = append(probes, a)
		}
	}
	for range 10_000 {
		fmt.Fprintf(&drop, `{"cidr":"%s","sblid":"SBL%d","rir":"ripencc"}`+"\n", netip.PrefixFrom(randomV4(), 18+rng.IntN(7)).Masked(), rng.IntN(999999))
	}
	fmt.Fprintf(&drop, `{"type":"metadata","timestamp":1795993200,"size":1,"records":10000,"copyright":"(c) 2026 The Spamhaus Project SLM","terms":"https://www.spamhaus.org/drop/terms/"}`+"\n")
	feodo.WriteString("# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n")
	for range 20_000 {
		a := randomV4()
		fmt.Fprintf(&feodo, "\"2025-01-01 00:00:00\",\"%s\",\"443\",\"online\",\"2026-11-24\",\"QakBot\"\n", a)
		probes = append(probes, a)
	}
	for i := range 10_000 {
		if i%2 == 0 {
			fmt.Fprintf(&tor, "%s\n", randomV4())
		} else {
			fmt.Fprintf(&tor, "2a0b:f4c2:%x::%x\n", rng.IntN(65536), rng.IntN(65536))
		}
	}
	for range 20_000 {
		a := randomV4()
		fmt.Fprintf(&plain, "%s\n", a)
		probes = append(probes, a)
	}
	var cfg Config
	for _, f := range []struct{ name, format, body string }{
		{"firehol_level1", FormatFireHOL, firehol.String()}, {"spamhaus_drop", FormatSpamhausDROP, drop.String()},
		{"feodo", FormatFeodoCSV, feodo.String()}, {"tor_exits", FormatTorExits, tor.String()}, {"local", FormatPlain, plain.String()},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.body), 0o644); err != nil {
			b.Fatal(err)
		}
		cfg.Feeds = append(cfg.Feeds, FeedConfig{Name: f.name, Format: f.format, File: path})
	}
	// Half the probes are listed addresses, half random ones (mostly
	// unlisted), shuffled.
	for range len(probes) {
		probes = append(probes, randomV4())
	}
	rng.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
	return cfg, probes[:1<<16]
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMatch100k matches addresses against 100,000 feed entries with
// own networks configured: Match as the pipeline calls it (one lookup in
// the table of OR-ed masks, and the match counters), and the design not
// taken, where each prefix keeps only its own feeds' mask and a match ORs
// the masks of every covering prefix through bart's Supernets iterator.
func BenchmarkMatch100k(b *testing.B) {
	cfg, probes := benchFeeds(b, b.TempDir())
	own := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/16")}
	before := heapInUse()
	start := time.Now()
	s, err := New(newReporter(), cfg, Dependencies{OwnNetworks: own})
	if err != nil {
		b.Fatal(err)
	}
	loadTime := time.Since(start)
	after := heapInUse()
	entries := 0
	for _, f := range s.feeds {
		entries += len(f.prefixes)
	}
	b.Logf("%d entries, %d prefixes in the table, %.1f MiB heap for the set, built in %s",
		entries, s.current.Load().table.Size(), float64(after-before)/(1<<20), loadTime.Round(time.Millisecond))

	b.Run("Match", func(b *testing.B) {
		b.ReportAllocs()
		i, matched := 0, 0
		for b.Loop() {
			if s.Match(probes[i&(len(probes)-1)]) != 0 {
				matched++
			}
			i++
		}
		b.ReportMetric(float64(entries), "entries")
		b.ReportMetric(float64(after-before)/(1<<20), "heap-MiB")
		b.ReportMetric(loadTime.Seconds(), "load-s")
		b.ReportMetric(float64(matched)/float64(i), "match-ratio")
	})
	b.Run("supernets-alternative", func(b *testing.B) {
		table := new(bart.Table[uint64])
		for i, f := range s.feeds {
			for _, pfx := range f.prefixes {
				table.Modify(pfx, func(old uint64, _ bool) (uint64, bool) { return old | 1<<i, false })
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			a := probes[i&(len(probes)-1)]
			var mask uint64
			for _, m := range table.Supernets(netip.PrefixFrom(a, a.BitLen())) {
				mask |= m
			}
			i++
		}
	})
}
