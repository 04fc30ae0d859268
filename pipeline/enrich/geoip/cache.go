package geoip

import (
	"math/bits"
	"sync/atomic"
)

// cacheSlots bounds the decoded records kept per database: 2^18 slots,
// about 18 MiB when all are filled (a pointer per slot plus the record).
const cacheSlots = 1 << 18

// recordCache keeps decoded records by their data-section offset, so each
// distinct record is decoded (and its strings allocated) once. It is
// direct-mapped: one slot per hash, a newer record replacing an older one
// that shares its slot. Readers never lock; the size stays bounded.
type recordCache struct {
	slots  []atomic.Pointer[cachedRecord]
	shift  uint
	filled atomic.Int64
}

type cachedRecord struct {
	offset uintptr
	result Result
}

func newRecordCache(size int) recordCache {
	return recordCache{
		slots: make([]atomic.Pointer[cachedRecord], size),
		shift: uint(64 - bits.TrailingZeros(uint(size))),
	}
}

// slot spreads offsets (multiples of small record sizes) over the table by
// Fibonacci hashing.
func (c *recordCache) slot(offset uintptr) *atomic.Pointer[cachedRecord] {
	return &c.slots[(uint64(offset)*0x9E3779B97F4A7C15)>>c.shift]
}

func (c *recordCache) get(offset uintptr) *cachedRecord {
	if e := c.slot(offset).Load(); e != nil && e.offset == offset {
		return e
	}
	return nil
}

func (c *recordCache) put(offset uintptr, r Result) {
	if c.slot(offset).Swap(&cachedRecord{offset: offset, result: r}) == nil {
		c.filled.Add(1)
	}
}
