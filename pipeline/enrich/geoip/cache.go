package geoip

import (
	"math/bits"
	"sync/atomic"
)

// cacheSlots bounds the decoded records kept per database: 2^18 slots,
// 2 MiB of pointers plus about 100 bytes per record cached (the entry and
// its strings), some 28 MiB when all are filled.
const cacheSlots = 1 << 18

// recordCache keeps decoded records by their data-section offset, so each
// distinct record is decoded (and its strings allocated) once. It is a
// 4-way set-associative table: a record lives in one of the four slots of
// its bucket, and a new record finding them all taken replaces one. Readers
// never lock, and the size stays bounded.
type recordCache struct {
	slots  []atomic.Pointer[cachedRecord]
	shift  uint
	filled atomic.Int64
}

type cachedRecord struct {
	offset uintptr
	result Result
}

const cacheWays = 4

func newRecordCache(size int) recordCache {
	return recordCache{
		slots: make([]atomic.Pointer[cachedRecord], size),
		shift: uint(64 - bits.TrailingZeros(uint(size/cacheWays))),
	}
}

// bucket spreads offsets (close multiples of small record sizes) over the
// table by Fibonacci hashing.
func (c *recordCache) bucket(offset uintptr) []atomic.Pointer[cachedRecord] {
	first := ((uint64(offset) * 0x9E3779B97F4A7C15) >> c.shift) * cacheWays
	return c.slots[first : first+cacheWays : first+cacheWays]
}

func (c *recordCache) get(offset uintptr) *cachedRecord {
	bucket := c.bucket(offset)
	for i := range bucket {
		if e := bucket[i].Load(); e != nil && e.offset == offset {
			return e
		}
	}
	return nil
}

// put stores a decoded record in a free slot of its bucket, or in place of
// the slot picked by the offset's low bits. Two goroutines decoding the
// same record may both store it; lookups find either copy.
func (c *recordCache) put(offset uintptr, r Result) *cachedRecord {
	entry := &cachedRecord{offset: offset, result: r}
	bucket := c.bucket(offset)
	for i := range bucket {
		if bucket[i].CompareAndSwap(nil, entry) {
			c.filled.Add(1)
			return entry
		}
	}
	bucket[(offset>>2)%cacheWays].Store(entry)
	return entry
}

// addressSlots is the size of the address cache in front of the tree:
// 2^17 slots of 32 bytes, 4 MiB per database.
const addressSlots = 1 << 17

// notFound is cached for addresses the database does not list.
var notFound = &cachedRecord{}

// addressCache remembers, per address, the record the tree walk found
// (or notFound): flow records repeat the same addresses, and the walk
// over a tens-of-MB tree costs a cache miss per level. Like recordCache it
// is 4-way set-associative. Each slot is guarded by a sequence number (odd
// while written), so readers never lock and writers never allocate; a
// writer that finds a slot being written skips caching.
type addressCache struct {
	slots []addressSlot
	shift uint
	// victim rotates the slot replaced in a full bucket.
	victim atomic.Uint32
}

type addressSlot struct {
	seq    atomic.Uint64
	hi, lo atomic.Uint64
	record atomic.Pointer[cachedRecord]
}

func newAddressCache(size int) addressCache {
	return addressCache{slots: make([]addressSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size/cacheWays)))}
}

func (c *addressCache) bucket(hi, lo uint64) []addressSlot {
	first := (((hi ^ lo*0xC2B2AE3D27D4EB4F) * 0x9E3779B97F4A7C15) >> c.shift) * cacheWays
	return c.slots[first : first+cacheWays : first+cacheWays]
}

func (c *addressCache) get(hi, lo uint64) *cachedRecord {
	bucket := c.bucket(hi, lo)
	for i := range bucket {
		s := &bucket[i]
		seq := s.seq.Load()
		if seq&1 != 0 || s.hi.Load() != hi || s.lo.Load() != lo {
			continue
		}
		record := s.record.Load()
		if record != nil && s.seq.Load() == seq {
			return record
		}
	}
	return nil
}

// put fills a free slot of the bucket, or replaces one in turn.
func (c *addressCache) put(hi, lo uint64, record *cachedRecord) {
	bucket := c.bucket(hi, lo)
	s := &bucket[c.victim.Add(1)%cacheWays]
	for i := range bucket {
		if bucket[i].record.Load() == nil {
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
	s.record.Store(record)
	s.seq.Store(seq + 2)
}
