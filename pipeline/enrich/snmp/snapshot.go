package snmp

import (
	"net/netip"
	"time"
)

// addrKey keys the exporter map: the 16-byte form of the address, which
// is the same for 192.0.2.1 and ::ffff:192.0.2.1 and hashes faster than
// netip.Addr.
type addrKey [16]byte

func keyOf(a netip.Addr) addrKey { return a.As16() }

// snapshot is the immutable result of one successful poll.
type snapshot struct {
	sysName  string
	polledAt time.Time
	count    int
	// Interfaces by ifIndex: in dense, indexed by ifIndex, when the indexes
	// are small enough for the array to cost little (most agents number
	// from 1); in sparse otherwise. An array read is one memory access
	// where a map probe is several.
	dense  []slot
	sparse map[uint32]Interface
}

type slot struct {
	iface Interface
	ok    bool
}

// denseLimit is the highest ifIndex always held in an array; above it an
// array is used only when at least a quarter of its slots are filled.
const denseLimit = 1024

func newSnapshot(sysName string, polledAt time.Time, interfaces map[uint32]Interface) *snapshot {
	s := &snapshot{sysName: sysName, polledAt: polledAt, count: len(interfaces)}
	var highest uint32
	for idx := range interfaces {
		highest = max(highest, idx)
	}
	if len(interfaces) > 0 && (highest < denseLimit || uint64(highest) < 4*uint64(len(interfaces))) {
		s.dense = make([]slot, highest+1)
		for idx, iface := range interfaces {
			s.dense[idx] = slot{iface: iface, ok: true}
		}
		return s
	}
	s.sparse = interfaces
	return s
}

func (s *snapshot) lookup(ifIndex uint32) (Interface, bool) {
	if s.sparse == nil {
		if ifIndex < uint32(len(s.dense)) {
			sl := &s.dense[ifIndex]
			return sl.iface, sl.ok
		}
		return Interface{}, false
	}
	iface, ok := s.sparse[ifIndex]
	return iface, ok
}

// each calls fn for every interface, in no order.
func (s *snapshot) each(fn func(ifIndex uint32, iface Interface)) {
	for idx, iface := range s.sparse {
		fn(idx, iface)
	}
	for idx, sl := range s.dense {
		if sl.ok {
			fn(uint32(idx), sl.iface)
		}
	}
}
