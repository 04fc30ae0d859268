//go:build !release

package clickhouse

import (
	"math/rand/v2"
	"strings"
	"sync"

	"sluice/pipeline/record"
)

// GenerateFlows returns n flows with every column set to a pseudo-random
// value drawn from seed, for tests and benchmarks. Values cover each type's
// range (64-bit integers above 2^63, IPv4-mapped and IPv6 addresses, every
// flow type); flow start and end times fall in 2020-2035, receive times in
// one day of that range.
func GenerateFlows(n int, seed uint64) []record.Flow {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	flows := make([]record.Flow, n)
	const from, to = 1577836800, 2051222400 // 2020-01-01, 2035-01-01
	// A batch's receive times span one day, as a real batch's minutes do:
	// ClickHouse refuses an insert that touches more than 100 (daily)
	// partitions.
	day := from + rng.Int64N((to-from)/86400)*86400
	for i := range flows {
		f := &flows[i]
		for _, c := range record.Columns {
			switch c.Kind {
			case record.KindUInt8:
				c.SetUint(f, rng.Uint64N(1<<8))
			case record.KindUInt16:
				c.SetUint(f, rng.Uint64N(1<<16))
			case record.KindUInt32:
				c.SetUint(f, rng.Uint64N(1<<32))
			case record.KindUInt64:
				c.SetUint(f, rng.Uint64())
			case record.KindEnum8:
				c.SetUint(f, rng.Uint64N(uint64(strings.Count(c.Type, "' = "))))
			case record.KindDateTime:
				c.SetUint(f, uint64(day+rng.Int64N(86400))*1e9+rng.Uint64N(1e9))
			case record.KindDateTime64ms:
				c.SetUint(f, uint64(from*1000+rng.Int64N((to-from)*1000)))
			case record.KindIPv6:
				*c.Addr(f) = generateAddr(rng)
			case record.KindString:
				*c.Str(f) = generatedStrings[rng.IntN(len(generatedStrings))]
			case record.KindFeedSet:
				c.SetUint(f, uint64(generatedFeeds()[rng.IntN(len(generatedFeeds()))]))
			case record.KindCommunityID:
				if rng.IntN(4) != 0 {
					h := c.Hash(f)
					for i := range h {
						h[i] = byte(rng.Uint32())
					}
				}
			}
		}
	}
	return flows
}

func generateAddr(rng *rand.Rand) record.Addr {
	switch rng.IntN(8) {
	case 0:
		return record.Addr{} // unknown
	case 1:
		return record.Addr{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: byte(rng.IntN(256))} // 2001:db8::x
	case 2, 3, 4:
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return record.AddrFrom4(b)
	default:
		var a record.Addr
		for i := range a {
			a[i] = byte(rng.IntN(256))
		}
		a[0] = 0x20 | a[0]&0x1f // global unicast, never mistaken for mapped IPv4
		return a
	}
}

// generatedStrings are GenerateFlows' string values: empty (not enriched),
// ASCII and multi-byte UTF-8.
var generatedStrings = []string{"", "edge-1", "Zürich", "uplink: AS64500 'transit'"}

// generatedFeeds returns GenerateFlows' feed sets: none, one, two.
var generatedFeeds = sync.OnceValue(func() []record.FeedSet {
	var sets []record.FeedSet
	var all record.FeedSet
	for _, name := range []string{"test-feed-a", "test-feed-b"} {
		bit, ok := record.RegisterFeed(name)
		if !ok {
			panic("clickhouse: cannot register " + name)
		}
		sets = append(sets, bit)
		all |= bit
	}
	return append(sets, 0, all)
})
