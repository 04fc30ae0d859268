// Package ipv4map answers longest-prefix lookups over IPv4 in one or two
// memory reads. A prefix tree walk over a table of millions of prefixes
// (networks, threat feeds, a GeoIP database) costs a CPU cache miss per
// level; the enricher does several per flow record. A Map flattens such a
// table into the sorted ranges of addresses that share an answer, with a
// bucket index in front: a lookup reads the index, then searches the few
// ranges of its bucket, which usually share one cache line.
//
// A Map is built once and never changed: it is safe for concurrent use.
// Tables that change are rebuilt to the side and swapped in whole.
package ipv4map

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// Map maps every IPv4 address to a value, 0 where no prefix holds it.
type Map struct {
	// spans are the ranges of addresses with one value, sorted by start;
	// the first starts at 0.0.0.0 and each runs up to the next one's
	// start. No two neighbours have the same value.
	spans []span
	// index[b] is the span holding bucket b's first address (b << shift);
	// index[len-1] is the last span. The span holding an address of
	// bucket b is between index[b] and index[b+1].
	index []uint32
	shift uint
	// prefixes is the number of distinct prefixes it was built from.
	prefixes int
}

type span struct {
	start, value uint32
}

// Lookup returns the value of the longest prefix holding a, 0 when none
// does.
func (m *Map) Lookup(a uint32) uint32 {
	b := a >> m.shift
	lo, hi := m.index[b], m.index[b+1]
	// The last span starting at or before a: spans[lo] does.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if m.spans[mid].start <= a {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return m.spans[lo].value
}

// LookupAddr is Lookup for an IPv4 (or IPv4-mapped IPv6) address; any
// other address finds 0.
func (m *Map) LookupAddr(a netip.Addr) uint32 {
	a = a.Unmap()
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return m.Lookup(binary.BigEndian.Uint32(b[:]))
}

// Prefixes is the number of distinct prefixes the Map was built from.
func (m *Map) Prefixes() int { return m.prefixes }

// Spans is the number of ranges the Map holds.
func (m *Map) Spans() int { return len(m.spans) }

// Bytes is the memory the Map takes.
func (m *Map) Bytes() int { return 8*cap(m.spans) + 4*cap(m.index) }

// Builder gathers prefixes and their values for Build.
type Builder struct {
	prefixes []prefix
}

type prefix struct {
	first, last uint32
	bits        uint8
	value       uint32
}

// Add sets the value of the addresses of p (IPv4, or IPv4-mapped IPv6)
// not held by a longer prefix. A later Add of the same prefix replaces the
// value. It reports false, and adds nothing, for any other prefix: Map is
// for IPv4 only.
func (b *Builder) Add(p netip.Prefix, value uint32) bool {
	addr := p.Addr()
	length := p.Bits()
	if addr.Is4In6() {
		addr, length = addr.Unmap(), length-96
	}
	if !addr.Is4() || length < 0 {
		return false
	}
	raw := addr.As4()
	first := binary.BigEndian.Uint32(raw[:]) &^ hostMask(length)
	b.prefixes = append(b.prefixes, prefix{first: first, last: first | hostMask(length), bits: uint8(length), value: value})
	return true
}

func hostMask(length int) uint32 {
	if length >= 32 {
		return 0
	}
	return ^uint32(0) >> length
}

// Build makes the Map. Prefixes nest or are disjoint, so a sweep in
// address order with a stack of the prefixes still open cuts the address
// space into spans, each taking the value of the innermost open prefix.
func (b *Builder) Build() *Map {
	ps := b.prefixes
	// Stable: of two equal prefixes, the one added later comes last.
	slices.SortStableFunc(ps, func(x, y prefix) int {
		return cmp.Or(cmp.Compare(x.first, y.first), cmp.Compare(x.bits, y.bits))
	})
	m := &Map{spans: make([]span, 0, 2*len(ps)+1)}
	m.spans = append(m.spans, span{start: 0, value: 0})
	var open []prefix
	// closeUntil ends the open prefixes that end before next (a uint64,
	// so that 2^32 closes them all).
	closeUntil := func(next uint64) {
		for len(open) > 0 && uint64(open[len(open)-1].last) < next {
			ended := open[len(open)-1]
			open = open[:len(open)-1]
			if ended.last == ^uint32(0) {
				continue
			}
			var outer uint32
			if len(open) > 0 {
				outer = open[len(open)-1].value
			}
			m.set(ended.last+1, outer)
		}
	}
	for i, p := range ps {
		if i+1 < len(ps) && ps[i+1].first == p.first && ps[i+1].bits == p.bits {
			continue // replaced by a later Add of the same prefix
		}
		m.prefixes++
		closeUntil(uint64(p.first))
		open = append(open, p)
		m.set(p.first, p.value)
	}
	closeUntil(1 << 32)
	m.spans = slices.Clip(m.spans)
	m.buildIndex()
	return m
}

// set starts a span of value at start: spans are set in address order, a
// second one at the same start replaces the first, and a span with its
// predecessor's value is not needed.
func (m *Map) set(start, value uint32) {
	last := &m.spans[len(m.spans)-1]
	if last.start == start {
		last.value = value
		if n := len(m.spans); n > 1 && m.spans[n-2].value == value {
			m.spans = m.spans[:n-1]
		}
		return
	}
	if last.value == value {
		return
	}
	m.spans = append(m.spans, span{start: start, value: value})
}

// indexBits sizes the bucket index to about four spans a bucket, at most
// 2^20 buckets (4 MiB): the index then mostly stays in the CPU caches and
// a bucket's spans in one cache line.
func indexBits(spans int) uint {
	return uint(min(20, max(4, bits.Len(uint(spans))-2)))
}

func (m *Map) buildIndex() {
	n := indexBits(len(m.spans))
	m.shift = 32 - n
	m.index = make([]uint32, 1<<n+1)
	s := 0
	for b := range 1 << n {
		first := uint32(b) << m.shift
		for s+1 < len(m.spans) && m.spans[s+1].start <= first {
			s++
		}
		m.index[b] = uint32(s)
	}
	m.index[1<<n] = uint32(len(m.spans) - 1)
}
