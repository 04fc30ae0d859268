package snmp

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// exporterTable is the immutable set of known exporters: an open-addressing
// hash table at most half full, read by lookups without locks. A change
// builds a new table (exporters are added or forgotten rarely; their names
// change inside each exporter, not here). It is several times faster than a
// Go map keyed by address: one seeded hash of two words and, mostly, one
// probe whose key sits in the slot.
type exporterTable struct {
	slots []tableSlot // length a power of two
	shift uint        // 64 - log2(len(slots))
	n     int
}

type tableSlot struct {
	key addrKey
	e   *exporter // nil: empty slot
}

// tableSeed makes the slot of an address unpredictable from outside, so
// that spoofed exporter addresses cannot be chosen to collide.
var tableSeed = rand.Uint64() | 1

func (k *addrKey) hash() uint64 {
	hi := binary.LittleEndian.Uint64(k[:8])
	lo := binary.LittleEndian.Uint64(k[8:])
	return mix(mix(hi^tableSeed) ^ lo)
}

// mix is MurmurHash3's 64-bit finaliser.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func newExporterTable(exporters []*exporter) *exporterTable {
	size := 8
	for size < 2*len(exporters) {
		size *= 2
	}
	t := &exporterTable{slots: make([]tableSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
	for _, e := range exporters {
		i := t.home(&e.key)
		for t.slots[i].e != nil {
			if t.slots[i].key == e.key {
				panic("snmp: exporter added twice")
			}
			i = (i + 1) & (len(t.slots) - 1)
		}
		t.slots[i] = tableSlot{key: e.key, e: e}
		t.n++
	}
	return t
}

// home is the first slot probed for k: the hash's top bits.
func (t *exporterTable) home(k *addrKey) int { return int(k.hash() >> t.shift) }

// get returns the exporter of key k, or nil.
func (t *exporterTable) get(k addrKey) *exporter {
	mask := len(t.slots) - 1
	for i := t.home(&k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k && s.e != nil {
			return s.e
		}
		if s.e == nil {
			return nil
		}
	}
}

// list returns the exporters, in no order.
func (t *exporterTable) list() []*exporter {
	out := make([]*exporter, 0, t.n)
	for _, s := range t.slots {
		if s.e != nil {
			out = append(out, s.e)
		}
	}
	return out
}
