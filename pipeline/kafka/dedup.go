package kafka

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
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

// dedupPrefix starts the metadata: the format's version.
const dedupPrefix = "sluice-dedup-1:"

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
// budget bytes long: the producers seen last in the partition first, the
// others evicted (from d as well, so that what is consumed next is decided
// as a worker starting from this metadata would decide it). It returns how
// many producers it evicted.
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
	room := base64.RawURLEncoding.DecodedLen(budget - len(dedupPrefix))
	var raw, one []byte
	evicted := 0
	for _, p := range marks {
		one = binary.AppendUvarint(one[:0], uint64(len(p.name)))
		one = append(one, p.name...)
		one = binary.AppendUvarint(one, p.acked)
		one = binary.AppendUvarint(one, uint64(max(0, next-p.last)))
		one = binary.AppendUvarint(one, uint64(len(p.seen)))
		prev := p.acked
		for _, s := range p.seen {
			one = binary.AppendUvarint(one, s-prev)
			prev = s
		}
		if len(raw)+len(one) > room {
			delete(d.producers, p.name)
			evicted++
			continue
		}
		raw = append(raw, one...)
	}
	if len(raw) == 0 {
		return "", evicted
	}
	return dedupPrefix + base64.RawURLEncoding.EncodeToString(raw), evicted
}

// decodeDedupState reads metadata committed with the offset next. Empty
// metadata is an empty state.
func decodeDedupState(metadata string, next int64) (*dedupState, error) {
	d := newDedupState()
	if metadata == "" {
		return d, nil
	}
	body, ok := cutPrefix(metadata, dedupPrefix)
	if !ok {
		return d, fmt.Errorf("offset metadata %.40q is not sluice's deduplication state", metadata)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return newDedupState(), fmt.Errorf("deduplication state: %w", err)
	}
	errBad := errors.New("deduplication state truncated")
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
		if n > uint64(len(raw)) {
			return newDedupState(), errBad
		}
		p := &producerMark{name: string(raw[:n])}
		raw = raw[n:]
		p.acked = uvarint()
		p.last = next - int64(uvarint())
		count := uvarint()
		if count > maxSeen {
			return newDedupState(), errBad
		}
		prev := p.acked
		for range count {
			prev += uvarint()
			p.seen = append(p.seen, prev)
		}
		d.producers[p.name] = p
	}
	if err != nil {
		return newDedupState(), err
	}
	return d, nil
}

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
