package enrich

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"

	"sluice/pipeline/enrich/geoip"
	"sluice/pipeline/record"
)

// addressSlots is the size of the address cache: 2^17 slots of 64 bytes,
// 8 MiB. Traffic concentrates on few hosts: with addresses drawn
// Zipf-distributed from a million hosts, most lookups hit.
const addressSlots = 1 << 17

// addressWays is the cache's associativity: an address lives in one of the
// four slots of its bucket.
const addressWays = 4

// addressFacts is what the networks, own-networks, threat and GeoIP
// tables say of one address: lookups in tables of up to millions of
// prefixes, each a chain of CPU cache misses, that flow records repeat for
// the same addresses.
type addressFacts struct {
	net   *netAttrs // nil: in no configured network
	feeds uint64    // the threat set's mask
	own   bool
	geo   geoip.Answer
}

// addressCache remembers addressFacts per address for one generation of
// the tables (see Enricher.generation): a reload makes every entry of an
// older generation a miss. Readers never lock and writers never allocate:
// each slot is guarded by a sequence number, odd while it is written; a
// reader that sees it change ignores the slot, and a writer that finds
// the slot being written skips caching.
type addressCache struct {
	slots []addressSlot
	shift uint
	// victim rotates the slot replaced in a full bucket.
	victim atomic.Uint32
}

type addressSlot struct {
	seq    atomic.Uint64
	hi, lo atomic.Uint64
	// gen is the generation (Enricher.generation) << 1 | own.
	gen   atomic.Uint64
	net   atomic.Pointer[netAttrs]
	feeds atomic.Uint64
	geo   atomic.Pointer[geoip.Result]
	asn   atomic.Pointer[geoip.Result]
}

func newAddressCache(size int) *addressCache {
	return &addressCache{slots: make([]addressSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size/addressWays)))}
}

func addressKey(a *record.Addr) (hi, lo uint64) {
	return binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
}

func (c *addressCache) bucket(hi, lo uint64) []addressSlot {
	first := (((hi ^ lo*0xC2B2AE3D27D4EB4F) * 0x9E3779B97F4A7C15) >> c.shift) * addressWays
	return c.slots[first : first+addressWays : first+addressWays]
}

func (c *addressCache) get(hi, lo, gen uint64) (addressFacts, bool) {
	bucket := c.bucket(hi, lo)
	for i := range bucket {
		s := &bucket[i]
		seq := s.seq.Load()
		if seq == 0 || seq&1 != 0 || s.hi.Load() != hi || s.lo.Load() != lo {
			continue
		}
		meta := s.gen.Load()
		facts := addressFacts{net: s.net.Load(), feeds: s.feeds.Load(), own: meta&1 != 0,
			geo: geoip.Answer{Geo: s.geo.Load(), ASN: s.asn.Load()}}
		if meta>>1 == gen && s.seq.Load() == seq {
			return facts, true
		}
	}
	return addressFacts{}, false
}

// put fills a slot of the bucket that is empty or of another generation,
// or replaces one in turn.
func (c *addressCache) put(hi, lo, gen uint64, facts addressFacts) {
	bucket := c.bucket(hi, lo)
	s := &bucket[c.victim.Add(1)%addressWays]
	for i := range bucket {
		if bucket[i].seq.Load() == 0 || bucket[i].gen.Load()>>1 != gen {
			s = &bucket[i]
			break
		}
	}
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	s.hi.Store(hi)
	s.lo.Store(lo)
	meta := gen << 1
	if facts.own {
		meta |= 1
	}
	s.gen.Store(meta)
	s.net.Store(facts.net)
	s.feeds.Store(facts.feeds)
	s.geo.Store(facts.geo.Geo)
	s.asn.Store(facts.geo.ASN)
	s.seq.Store(seq + 2)
}
