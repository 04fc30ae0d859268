package ipv4map

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gaissmai/bart"
)

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// TestMatchesPrefixTree compares the Map with a prefix tree, the reference
// for longest-prefix match, on random nested and disjoint prefixes, at
// random addresses and at every prefix's first and last address and their
// neighbours, where an off-by-one would show.
func TestMatchesPrefixTree(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, seed))
		var b Builder
		tree := new(bart.Table[uint32])
		var edges []uint32
		n := 1 + r.IntN(3000)
		for range n {
			length := r.IntN(33)
			if seed%2 == 0 {
				length = 8 + r.IntN(25) // denser: many nested
			}
			p := netip.PrefixFrom(addr4(r.Uint32()), length).Masked()
			value := 1 + r.Uint32N(50) // few values, so neighbours merge
			b.Add(p, value)
			tree.Insert(p, value)
			first := binary.BigEndian.Uint32(p.Addr().AsSlice())
			last := first | hostMask(length)
			edges = append(edges, first, first-1, last, last+1)
		}
		m := b.Build()
		check := func(a uint32) {
			want, _ := tree.Lookup(addr4(a))
			if got := m.Lookup(a); got != want {
				t.Fatalf("seed %d, %d prefixes: Lookup(%s) = %d, want %d", seed, n, addr4(a), got, want)
			}
		}
		for _, a := range edges {
			check(a)
		}
		for range 20000 {
			check(r.Uint32())
		}
		check(0)
		check(^uint32(0))
		for i := 1; i < len(m.spans); i++ {
			if m.spans[i].start <= m.spans[i-1].start || m.spans[i].value == m.spans[i-1].value {
				t.Fatalf("seed %d: spans %d and %d: %+v, %+v: not sorted or not merged", seed, i-1, i, m.spans[i-1], m.spans[i])
			}
		}
	}
}

func TestEdges(t *testing.T) {
	var empty Builder
	if got := empty.Build().Lookup(0x01020304); got != 0 {
		t.Errorf("empty map: %d, want 0", got)
	}

	var b Builder
	b.Add(netip.MustParsePrefix("0.0.0.0/0"), 1)
	b.Add(netip.MustParsePrefix("255.255.255.255/32"), 2)
	b.Add(netip.MustParsePrefix("10.0.0.0/8"), 3)
	b.Add(netip.MustParsePrefix("10.0.0.0/8"), 4) // replaces 3
	b.Add(netip.MustParsePrefix("::ffff:192.0.2.0/120"), 5)
	if b.Add(netip.MustParsePrefix("2001:db8::/32"), 6) {
		t.Error("Add took an IPv6 prefix")
	}
	b.Add(netip.MustParsePrefix("10.1.0.0/16"), 1) // same value as the default route
	m := b.Build()
	if m.Prefixes() != 5 {
		t.Errorf("Prefixes() = %d, want 5 (10.0.0.0/8 once)", m.Prefixes())
	}
	for a, want := range map[string]uint32{
		"0.0.0.0": 1, "9.255.255.255": 1, "10.0.0.0": 4, "10.0.255.255": 4, "10.1.0.0": 1, "10.1.255.255": 1,
		"10.2.0.0": 4, "10.255.255.255": 4, "11.0.0.0": 1, "192.0.2.7": 5, "192.0.3.0": 1,
		"255.255.255.254": 1, "255.255.255.255": 2, "::ffff:192.0.2.1": 5, "2001:db8::1": 0,
	} {
		if got := m.LookupAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("LookupAddr(%s) = %d, want %d", a, got, want)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	var b Builder
	b.Add(netip.MustParsePrefix("10.0.0.0/8"), 1)
	m := b.Build()
	a := netip.MustParseAddr("10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { m.LookupAddr(a) }); n != 0 {
		t.Errorf("LookupAddr allocates %.0f times", n)
	}
}

// BenchmarkLookup compares the Map with the prefix tree it flattens, one
// million prefixes of /16 to /28, at uniformly random addresses: the
// worst case for both, every lookup a walk through memory no CPU cache
// holds.
func BenchmarkLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var builder Builder
	tree := new(bart.Table[uint32])
	for i := range 1_000_000 {
		p := netip.PrefixFrom(addr4(r.Uint32()), 16+r.IntN(13)).Masked()
		builder.Add(p, uint32(i+1))
		tree.Insert(p, uint32(i+1))
	}
	m := builder.Build()
	addrs := make([]uint32, 1<<16)
	for i := range addrs {
		addrs[i] = r.Uint32()
	}
	b.Run("map=ipv4map", func(b *testing.B) {
		var sum uint32
		for i := range b.N {
			sum += m.Lookup(addrs[i&(len(addrs)-1)])
		}
		b.ReportMetric(float64(m.Bytes())/(1<<20), "MiB")
		_ = sum
	})
	b.Run("map=bart", func(b *testing.B) {
		var sum uint32
		for i := range b.N {
			v, _ := tree.Lookup(addr4(addrs[i&(len(addrs)-1)]))
			sum += v
		}
		_ = sum
	})
}
