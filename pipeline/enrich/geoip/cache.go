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

// notFound is the walk's answer for addresses the database does not list.
var notFound = &cachedRecord{}
