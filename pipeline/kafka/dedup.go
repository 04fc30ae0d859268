package kafka

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// dedupState recognises, in one partition, the copies of messages that a
// collector sent again (after a crash, or after a failed delivery), by
// their identity: the collector's spool instance and the entry's sequence
// number (MessageIDHeader), with the spool position acknowledged when the
// message was sent (AckedHeader). It is committed with the partition's
// offset, as the offset commit's metadata, so that whichever worker
// consumes the partition next, after any restart, starts from the state
// that goes with the committed offset.
//
// Why it is exact. Per producer (spool instance) it keeps acked, the
// highest AckedHeader among the messages consumed, and seen, the sequence
// numbers at or above acked consumed. A message with sequence s is a copy
// when s < acked or s is in seen:
//
//   - s < acked: a message M with AckedHeader acked was consumed, so every
//     entry of the spool before acked had been acknowledged by Kafka before
//     M was sent: the copy of s in this partition (s's key maps here) is
//     at an offset before M's, consumed already. Never a first copy.
//   - s ≥ acked: a copy, if any, was consumed at or after the message that
//     raised acked, and s is in seen.
//
// seen stays small: a producer never has more than its
// max-in-flight-messages entries sent past its acknowledged position, so
// every s in seen is within that many entries of acked.
//
// Only decisions that follow from the committed state are made, so a
// batch rebuilt after a crash (same offsets, same state) skips exactly what
// it skipped the first time, and its insert is the same. Whatever the state
// loses (a producer evicted for room, a state that cannot be read, a seen
// list cut) makes a copy pass as new, never a new message pass as a copy:
// the cost is a duplicate, not a loss.
type dedupState struct {
	producers map[string]*producerMark
}

type producerMark struct {
	name  string
	acked uint64
	seen  []uint64 // ascending, each ≥ acked
	last  int64    // offset of the producer's last message in the partition
}

// maxSeen bounds a producer's seen list, far above any
// max-in-flight-messages: past it the lowest go (their copies would be
// stored again).
const maxSeen = 4096

// dedupPrefix starts the metadata: the format's version. dedupPrefixV1
// (seen as one varint per entry) is still read, from a commit of an
// earlier version.
const (
	dedupPrefix   = "sluice-dedup-2:"
	dedupPrefixV1 = "sluice-dedup-1:"
)

func newDedupState() *dedupState { return &dedupState{producers: map[string]*producerMark{}} }

// observe takes the message at offset from producer instance with sequence
// seq and acknowledged position acked, and says whether it is a copy of one
// consumed before. name is the producer's instance ID, interned.
func (d *dedupState) observe(instance []byte, seq, acked uint64, offset int64) (name string, dup bool) {
	p := d.producers[string(instance)]
	if p == nil {
		p = &producerMark{name: string(instance)}
		d.producers[p.name] = p
	}
	p.last = offset
	_, found := slices.BinarySearch(p.seen, seq)
	dup = seq < p.acked || found
	if acked > seq {
		acked = 0 // a broken promise: a spool's head is never past the entry sent
	}
	if acked > p.acked {
		p.acked = acked
		cut, _ := slices.BinarySearch(p.seen, acked)
		p.seen = p.seen[:copy(p.seen, p.seen[cut:])]
	}
	if !dup && seq >= p.acked {
		i, _ := slices.BinarySearch(p.seen, seq)
		p.seen = slices.Insert(p.seen, i, seq)
		if len(p.seen) > maxSeen {
			p.seen = p.seen[:copy(p.seen, p.seen[len(p.seen)-maxSeen:])]
		}
	}
	return p.name, dup
}

// encode returns the state as commit metadata for the offset next, at most
// budget bytes long: the marks of the producers seen last in the partition
// first, the others evicted, then the seen lists that fit, the producers
// seen last first, the others cut (from d as well, so that what is
// consumed next is decided as a worker starting from this metadata would
// decide it). It returns how many producers it evicted.
func (d *dedupState) encode(next int64, budget int) (string, int) {
	if len(d.producers) == 0 {
		return "", 0
	}
	marks := make([]*producerMark, 0, len(d.producers))
	for _, p := range d.producers {
		marks = append(marks, p)
	}
	slices.SortFunc(marks, func(a, b *producerMark) int {
		if a.last != b.last {
			return cmp.Compare(b.last, a.last)
		}
		return cmp.Compare(a.name, b.name)
	})
	// Two passes: first every producer's mark without its seen list, as
	// many as fit (the rest evicted); then, with the room left, the seen
	// lists, most recent producer first. A mark alone still recognises
	// every copy below its acked position, most of what a collector that
	// crashed sends again; a seen list matters for the few in flight.
	room := base64.RawURLEncoding.DecodedLen(budget - len(dedupPrefix))
	var one []byte
	used, evicted := 0, 0
	kept := marks[:0]
	for _, p := range marks {
		n := len(appendProducer(one[:0], p, nil, next))
		if used+n > room {
			delete(d.producers, p.name)
			evicted++
			continue
		}
		used += n
		kept = append(kept, p)
	}
	var raw []byte
	for _, p := range kept {
		bare := len(appendProducer(one[:0], p, nil, next))
		one = appendProducer(one[:0], p, p.seen, next)
		if used+len(one)-bare > room {
			p.seen = p.seen[:0] // cut from d as well: decided as the next owner will decide
			one = appendProducer(one[:0], p, nil, next)
		} else {
			used += len(one) - bare
		}
		raw = append(raw, one...)
	}
	if len(raw) == 0 {
		return "", evicted
	}
	return dedupPrefix + base64.RawURLEncoding.EncodeToString(raw), evicted
}

// appendProducer appends one producer's mark, with seen as its seen list,
// in format 2:
//
//	uvarint(name length<<1 | hex) name  (hex: the name is lowercase hex,
//	                                     stored as its bytes, half the size)
//	uvarint acked
//	uvarint next-last
//	uvarint blocks, then each block of seen:
//	  uvarint gap   (its first entry minus the end of the block before,
//	                 or minus acked for the first)
//	  uvarint n<<1 | kind
//	    kind 0, a run: n+1 consecutive entries
//	    kind 1, a bitmap: n bytes, bit i of byte j is entry first+8j+i
//	                      (bit 0 of byte 0, the first entry, is set)
//
// A block's end is one past its last entry. In-flight windows make seen
// a run (one partition) or a scattered subset of a range (several
// partitions): a few bytes, or one bit per entry of the range.
func appendProducer(b []byte, p *producerMark, seen []uint64, next int64) []byte {
	if name, ok := hexName(p.name); ok {
		b = binary.AppendUvarint(b, uint64(len(name))<<1|1)
		b = append(b, name...)
	} else {
		b = binary.AppendUvarint(b, uint64(len(p.name))<<1)
		b = append(b, p.name...)
	}
	b = binary.AppendUvarint(b, p.acked)
	b = binary.AppendUvarint(b, uint64(max(0, next-p.last)))
	countAt := len(b) // the block count goes there once known
	blocks := 0
	prev := p.acked
	for len(seen) > 0 {
		first := seen[0]
		b = binary.AppendUvarint(b, first-prev)
		blocks++
		if run := runLen(seen); run >= minRun {
			b = binary.AppendUvarint(b, uint64(run-1)<<1)
			prev = first + uint64(run)
			seen = seen[run:]
			continue
		}
		// A bitmap, extended while the gaps are shorter than a new block
		// would cost, up to a long run.
		k := 1
		for k < len(seen) && seen[k]-seen[k-1] <= maxBitmapGap && seen[k]-first < maxBitmapSpan && runLen(seen[k:]) < longRun {
			k++
		}
		span := seen[k-1] - first + 1
		n := int((span + 7) / 8)
		b = binary.AppendUvarint(b, uint64(n)<<1|1)
		at := len(b)
		b = append(b, make([]byte, n)...)
		for _, s := range seen[:k] {
			off := s - first
			b[at+int(off/8)] |= 1 << (off % 8)
		}
		prev = first + span
		seen = seen[k:]
	}
	var count [binary.MaxVarintLen64]byte
	return slices.Insert(b, countAt, count[:binary.PutUvarint(count[:], uint64(blocks))]...)
}

const (
	minRun        = 8       // a run this long is a run block
	longRun       = 32      // a bitmap stops where a run this long starts
	maxBitmapGap  = 24      // a gap longer than this starts a new block
	maxBitmapSpan = 1 << 20 // a bitmap covers at most this many entries
)

// runLen counts the consecutive numbers at the start of seen.
func runLen(seen []uint64) int {
	n := 1
	for n < len(seen) && seen[n] == seen[n-1]+1 {
		n++
	}
	return n
}

// hexName returns the bytes a lowercase hex name spells.
func hexName(name string) ([]byte, bool) {
	if len(name) == 0 || len(name)%2 != 0 || len(name) > 128 {
		return nil, false
	}
	b, err := hex.DecodeString(name)
	if err != nil || hex.EncodeToString(b) != name {
		return nil, false
	}
	return b, true
}

// decodeDedupState reads metadata committed with the offset next. Empty
// metadata is an empty state.
func decodeDedupState(metadata string, next int64) (*dedupState, error) {
	d := newDedupState()
	if metadata == "" {
		return d, nil
	}
	version := 2
	body, ok := cutPrefix(metadata, dedupPrefix)
	if !ok {
		if body, ok = cutPrefix(metadata, dedupPrefixV1); !ok {
			return d, fmt.Errorf("offset metadata %.40q is not sluice's deduplication state", metadata)
		}
		version = 1
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return newDedupState(), fmt.Errorf("deduplication state: %w", err)
	}
	errBad := errors.New("deduplication state truncated or invalid")
	uvarint := func() uint64 {
		v, n := binary.Uvarint(raw)
		if n <= 0 {
			err = errBad
			raw = nil
			return 0
		}
		raw = raw[n:]
		return v
	}
	for len(raw) > 0 && err == nil {
		n := uvarint()
		isHex := false
		if version == 2 {
			n, isHex = n>>1, n&1 == 1
		}
		if n > uint64(len(raw)) {
			return newDedupState(), errBad
		}
		p := &producerMark{name: string(raw[:n])}
		if isHex {
			p.name = hex.EncodeToString(raw[:n])
		}
		raw = raw[n:]
		p.acked = uvarint()
		p.last = next - int64(uvarint())
		if version == 1 {
			count := uvarint()
			if count > maxSeen {
				return newDedupState(), errBad
			}
			prev := p.acked
			for range count {
				prev += uvarint()
				p.seen = append(p.seen, prev)
			}
		} else if !p.decodeSeen(uvarint, &raw) {
			return newDedupState(), errBad
		}
		d.producers[p.name] = p
	}
	if err != nil {
		return newDedupState(), err
	}
	return d, nil
}

// decodeSeen reads the blocks appendProducer wrote. It fails on anything
// appendProducer cannot write: more than maxSeen entries, entries out of
// order or past 2^64, a bitmap not starting with its first entry.
func (p *producerMark) decodeSeen(uvarint func() uint64, raw *[]byte) bool {
	blocks := uvarint()
	if blocks > maxSeen {
		return false
	}
	prev := p.acked
	for range blocks {
		gap := uvarint()
		h := uvarint()
		first := prev + gap
		if first < prev {
			return false
		}
		n := h >> 1
		if h&1 == 0 {
			if n >= maxSeen || len(p.seen)+int(n)+1 > maxSeen || first+n < first || first+n == ^uint64(0) {
				return false
			}
			for i := range n + 1 {
				p.seen = append(p.seen, first+i)
			}
			prev = first + n + 1
			continue
		}
		if n == 0 || n > uint64(len(*raw)) || n > maxBitmapSpan/8+1 || (*raw)[0]&1 == 0 || first+8*n < first {
			return false
		}
		last := first
		for j, c := range (*raw)[:n] {
			for i := range 8 {
				if c&(1<<i) != 0 {
					if len(p.seen) == maxSeen {
						return false
					}
					last = first + uint64(8*j+i)
					p.seen = append(p.seen, last)
				}
			}
		}
		*raw = (*raw)[n:]
		prev = last + 1
	}
	return true
}

// minDedupStateBytes is the least consumer.dedup-state-bytes other than 0:
// room for the format's prefix, one collector's mark and a batch intent.
const minDedupStateBytes = len(dedupPrefix) + intentRoom + 64

// intentMark starts an intent at the end of the committed metadata:
// "|sluice-intent-1:<first>-<last>", after the deduplication state if any.
const intentMark = "|sluice-intent-1:"

// intentRoom is the most bytes an intent takes (two int64s in decimal),
// kept free in every commit's metadata budget.
const intentRoom = len(intentMark) + 2*19 + 1

func encodeIntent(in Intent) string {
	return intentMark + strconv.FormatInt(in.First, 10) + "-" + strconv.FormatInt(in.Last, 10)
}

// cutIntent splits committed metadata into the deduplication state and
// the intent, if any. A malformed intent is no intent.
func cutIntent(metadata string) (state string, in Intent, ok bool) {
	state, raw, found := strings.Cut(metadata, intentMark)
	if !found {
		return metadata, Intent{}, false
	}
	first, last, found := strings.Cut(raw, "-")
	var err1, err2 error
	in.First, err1 = strconv.ParseInt(first, 10, 64)
	in.Last, err2 = strconv.ParseInt(last, 10, 64)
	if !found || err1 != nil || err2 != nil || in.First < 0 || in.Last < in.First {
		return state, Intent{}, false
	}
	return state, in, true
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

// parseIdentity reads a message's MessageIDHeader and AckedHeader as a
// sluice spool writes them: "<instance>-<segment>-<index>" and
// "<segment>-<index>". ok is false when either is missing or not of that
// form (a message of an older collector, or of another producer).
func parseIdentity(id, acked []byte) (instance []byte, seq, ackedSeq uint64, ok bool) {
	if len(id) == 0 || len(acked) == 0 {
		return nil, 0, 0, false
	}
	i := bytes.LastIndexByte(id, '-')
	if i <= 0 {
		return nil, 0, 0, false
	}
	j := bytes.LastIndexByte(id[:i], '-')
	if j <= 0 || j > 64 {
		return nil, 0, 0, false
	}
	seq, ok = spoolSeq(id[j+1:])
	if !ok {
		return nil, 0, 0, false
	}
	ackedSeq, ok = spoolSeq(acked)
	if !ok {
		return nil, 0, 0, false
	}
	return id[:j], seq, ackedSeq, true
}

// spoolSeq packs "<segment>-<index>" as pipeline/spool's Pos.Seq does.
func spoolSeq(b []byte) (uint64, bool) {
	i := bytes.IndexByte(b, '-')
	if i <= 0 {
		return 0, false
	}
	seg, ok1 := parseUint(b[:i], 32)
	index, ok2 := parseUint(b[i+1:], 32)
	return seg<<32 | index, ok1 && ok2
}

// parseUint reads a decimal number below 2^bits without allocating.
func parseUint(b []byte, bits int) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
		if v>>bits != 0 {
			return 0, false
		}
	}
	return v, true
}
