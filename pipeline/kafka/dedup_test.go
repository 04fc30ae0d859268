package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// dedupModel plays collectors that behave as the forwarder and the spool
// promise (sequence numbers in spool order; each message says the position
// before which Kafka acknowledged everything), with every misfortune the
// real ones meet: deliveries that fail, land but are reported failed, land
// late and out of order, collector crashes that send again from a cursor
// behind the acknowledged position, and pipeline restarts from the last
// commit. Partitions are consumed through dedupState. Every entry must be
// kept exactly once.
type dedupModel struct {
	rng        *rand.Rand
	partitions [][]modelMsg
	producers  []*modelProducer
	inFlight   []modelFlight
	// budget is the committed state's bound.
	budget int
}

type modelMsg struct {
	producer   string
	seq, acked uint64
}

type modelFlight struct {
	p   *modelProducer
	seq uint64
	msg modelMsg
	// run is the producer's run that sent it: a completion for an earlier
	// run reaches no one.
	run int
}

type modelProducer struct {
	name      string
	entries   int
	partition []int // entry → partition (its key's)
	run       int
	next      uint64 // next entry to read from the spool
	window    []uint64
	state     map[uint64]int // 0 in window unsent or failed, 1 sending, 2 delivered
	cursor    uint64         // durable: every entry before was delivered
	delivered uint64         // every entry before was delivered (in memory)
	maxWindow int
}

func (p *modelProducer) head() uint64 {
	if len(p.window) > 0 {
		return p.window[0]
	}
	return p.next
}

func (m *dedupModel) send(p *modelProducer, seq uint64) {
	p.state[seq] = 1
	msg := modelMsg{producer: p.name, seq: seq, acked: p.head()}
	m.inFlight = append(m.inFlight, modelFlight{p: p, seq: seq, msg: msg, run: p.run})
}

// step does one random thing.
func (m *dedupModel) step() {
	p := m.producers[m.rng.IntN(len(m.producers))]
	switch r := m.rng.IntN(100); {
	case r < 40: // read and send the next entry
		if int(p.next) < p.entries && len(p.window) < p.maxWindow {
			seq := p.next
			p.next++
			p.window = append(p.window, seq)
			m.send(p, seq)
		}
	case r < 75: // a delivery completes, in any order
		if len(m.inFlight) == 0 {
			return
		}
		i := m.rng.IntN(len(m.inFlight))
		f := m.inFlight[i]
		m.inFlight = append(m.inFlight[:i], m.inFlight[i+1:]...)
		landed, ok := true, true
		switch m.rng.IntN(10) {
		case 0:
			landed, ok = false, false
		case 1:
			ok = false // landed, but the answer was lost
		}
		if landed {
			part := f.p.partition[f.seq]
			m.partitions[part] = append(m.partitions[part], f.msg)
		}
		if f.run != f.p.run {
			return
		}
		if ok {
			f.p.state[f.seq] = 2
			for len(f.p.window) > 0 && f.p.state[f.p.window[0]] == 2 {
				f.p.window = f.p.window[1:]
			}
			f.p.delivered = f.p.head()
		} else {
			f.p.state[f.seq] = 0
		}
	case r < 85: // failed ones are sent again
		for _, seq := range p.window {
			if p.state[seq] == 0 {
				m.send(p, seq)
			}
		}
	case r < 95: // the cursor file catches up
		p.cursor = p.delivered
	default: // kill -9: the in-flight messages may still land, unanswered
		p.run++
		p.window = nil
		p.state = map[uint64]int{}
		p.next = p.cursor
		p.delivered = p.cursor
	}
}

// drain finishes every delivery and sends every entry.
func (m *dedupModel) drain() {
	for range 1_000_000 {
		done := len(m.inFlight) == 0
		for _, p := range m.producers {
			done = done && int(p.delivered) == p.entries
		}
		if done {
			return
		}
		m.step()
	}
	panic("model did not drain")
}

// consume reads a partition as the pipeline does: gatherings of a few
// messages, each committed with the state; now and then a worker restarts
// from the last commit, reading again what was not committed (and, being
// rebuilt from the same state, deciding the same). It returns how many
// times each entry was kept.
func (m *dedupModel) consume(t *testing.T, log []modelMsg, kept map[string]int) {
	committed, metadata := int64(0), ""
	for committed < int64(len(log)) {
		d, err := decodeDedupState(metadata, committed)
		if err != nil {
			t.Fatal(err)
		}
		end := min(int64(len(log)), committed+1+int64(m.rng.IntN(8)))
		var gathered []string
		for off := committed; off < end; off++ {
			msg := log[off]
			name, dup := d.observe([]byte(msg.producer), msg.seq, msg.acked, off)
			if name != msg.producer {
				t.Fatalf("producer %q named %q", msg.producer, name)
			}
			if !dup {
				gathered = append(gathered, fmt.Sprintf("%s/%d", msg.producer, msg.seq))
			}
		}
		if m.rng.IntN(4) == 0 {
			continue // a crash before the commit: the next start reads it again
		}
		for _, k := range gathered {
			kept[k]++
		}
		metadata, _ = d.encode(end, m.budget)
		if len(metadata) > max(0, m.budget) {
			t.Fatalf("state of %d bytes, bound %d", len(metadata), m.budget)
		}
		committed = end
	}
}

func runDedupModel(t *testing.T, seed uint64, budget int) (duplicates int) {
	m := &dedupModel{rng: rand.New(rand.NewPCG(seed, 1)), partitions: make([][]modelMsg, 3), budget: budget}
	for i := range 4 {
		p := &modelProducer{name: fmt.Sprintf("%016x", 1000+i), entries: 300, maxWindow: 1 + m.rng.IntN(16), state: map[uint64]int{}}
		for range p.entries {
			p.partition = append(p.partition, m.rng.IntN(len(m.partitions)))
		}
		m.producers = append(m.producers, p)
	}
	for range 5000 {
		m.step()
	}
	m.drain()
	kept := map[string]int{}
	for _, log := range m.partitions {
		m.consume(t, log, kept)
	}
	for _, p := range m.producers {
		for seq := range p.entries {
			switch n := kept[fmt.Sprintf("%s/%d", p.name, seq)]; {
			case n == 0:
				t.Fatalf("seed %d: entry %s/%d lost", seed, p.name, seq)
			case n > 1:
				duplicates += n - 1
			}
		}
	}
	return duplicates
}

// Whatever order and whatever faults, with room for the state every entry
// is kept exactly once.
func TestDedupStateExactlyOnce(t *testing.T) {
	for seed := range uint64(100) {
		if d := runDedupModel(t, seed, 1<<20); d != 0 {
			t.Fatalf("seed %d: %d entries kept twice", seed, d)
		}
	}
}

// A state too small for every collector only lets copies through: nothing
// is lost.
func TestDedupStateEvictionNeverLoses(t *testing.T) {
	dups := 0
	for seed := range uint64(50) {
		dups += runDedupModel(t, seed, 60)
	}
	if dups == 0 {
		t.Fatal("a 60-byte state kept every collector: the test does not evict")
	}
}

func TestDedupStateRoundTrip(t *testing.T) {
	d := newDedupState()
	d.observe([]byte("a"), 5<<32|3, 5<<32|1, 10)
	d.observe([]byte("a"), 5<<32|1, 5<<32|1, 11)
	d.observe([]byte("b"), 7, 2, 12)
	meta, evicted := d.encode(13, 4000)
	if evicted != 0 {
		t.Fatal(evicted)
	}
	back, err := decodeDedupState(meta, 13)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*back.producers["a"], *back.producers["b"]) != fmt.Sprint(*d.producers["a"], *d.producers["b"]) {
		t.Fatalf("decoded %v %v, want %v %v", *back.producers["a"], *back.producers["b"], *d.producers["a"], *d.producers["b"])
	}
	for _, bad := range []string{"x", dedupPrefix + "!!", dedupPrefix + "AQ"} {
		if _, err := decodeDedupState(bad, 13); err == nil {
			t.Errorf("metadata %q read without error", bad)
		}
	}
}

func TestParseIdentity(t *testing.T) {
	for _, c := range []struct {
		id, acked string
		instance  string
		seq, ack  uint64
		ok        bool
	}{
		{"0123abcd-5-7", "5-2", "0123abcd", 5<<32 | 7, 5<<32 | 2, true},
		{"a-b-c-1-0", "1-0", "a-b-c", 1 << 32, 1 << 32, true},
		{"abc-5-7", "", "", 0, 0, false},
		{"abc-5", "5-1", "", 0, 0, false},
		{"abc-5-x", "5-1", "", 0, 0, false},
		{"abc-5-4294967296", "5-1", "", 0, 0, false},
		{"counter-token", "1-1", "", 0, 0, false},
	} {
		instance, seq, ack, ok := parseIdentity([]byte(c.id), []byte(c.acked))
		if string(instance) != c.instance || seq != c.seq || ack != c.ack || ok != c.ok {
			t.Errorf("parseIdentity(%q, %q) = %q %d %d %v", c.id, c.acked, instance, seq, ack, ok)
		}
	}
}

// observe, on the consumer's per-message path, allocates nothing for a
// producer it knows.
func TestDedupObserveAllocs(t *testing.T) {
	d := newDedupState()
	id, acked := []byte("0123456789abcdef-3-100"), []byte("3-90")
	instance, seq, ack, _ := parseIdentity(id, acked)
	d.observe(instance, seq, ack, 0)
	off := int64(1)
	if n := testing.AllocsPerRun(1000, func() {
		instance, seq, ack, _ := parseIdentity(id, acked)
		d.observe(instance, seq, ack, off)
		off++
	}); n != 0 {
		t.Errorf("%v allocations per message", n)
	}
}

// dedupFill builds a partition's state as a backlog drain leaves it:
// collectors collectors, each with window entries in flight past its
// acknowledged position, those whose key lands in this partition (one in
// partitions) consumed.
func dedupFill(rng *rand.Rand, collectors, window, partitions int) *dedupState {
	d := newDedupState()
	off := int64(0)
	for c := range collectors {
		name := fmt.Sprintf("%016x", rng.Uint64())
		acked := uint64(3+rng.IntN(50))<<32 | uint64(rng.IntN(1<<20))
		for i := range window {
			if rng.IntN(partitions) == 0 {
				d.observe([]byte(name), acked+uint64(i), acked, off)
				off++
			}
		}
		d.observe([]byte(name), acked+uint64(window), acked, off+int64(c))
		off++
	}
	return d
}

// How many collectors the default 4,000-byte state keeps, and how many of
// them with their seen lists, while every one drains a backlog at full
// window: the README's figures.
func TestDedupStateCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, collectors := range []int{100, 200} {
		for _, window := range []int{8, 64, 512} {
			for _, partitions := range []int{1, 4} {
				d := dedupFill(rng, collectors, window, partitions)
				meta, evicted := d.encode(1<<20, 4000)
				kept, full := collectors-evicted, 0
				for _, p := range d.producers {
					if len(p.seen) > 0 {
						full++
					}
				}
				t.Logf("%d collectors, window %3d, %d partition(s): %3d kept, %3d of them with their seen list (%d bytes)",
					collectors, window, partitions, kept, full, len(meta))
				back, err := decodeDedupState(meta, 1<<20)
				if err != nil || len(back.producers) != kept {
					t.Fatalf("decoded %d producers (%v), want %d", len(back.producers), err, kept)
				}
				for name, p := range d.producers {
					if q := back.producers[name]; q == nil || fmt.Sprint(*q) != fmt.Sprint(*p) {
						t.Fatalf("producer %s decoded as %v, want %v", name, q, *p)
					}
				}
				if kept < min(collectors, 150) || (collectors == 100 && full < 10) {
					t.Errorf("%d collectors, window %d, %d partition(s): %d kept, %d with their seen list", collectors, window, partitions, kept, full)
				}
			}
		}
	}
}

// Any seen list (runs, scattered entries, gaps across segments, names of
// any form) reads back as it was written, and a commit of the earlier
// format (one varint per entry) is still read.
func TestDedupStateEncodingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for round := range 500 {
		d := newDedupState()
		for c := range 1 + rng.IntN(5) {
			name := fmt.Sprintf("%016x", rng.Uint64())
			if c == 0 && round%3 == 0 {
				name = fmt.Sprintf("collector-%d", round) // not hex: kept as text
			}
			p := &producerMark{name: name, acked: uint64(rng.IntN(100))<<32 | uint64(rng.IntN(1000)), last: int64(rng.IntN(1000))}
			s := p.acked + uint64(rng.IntN(3))
			for range rng.IntN(600) {
				p.seen = append(p.seen, s)
				switch r := rng.IntN(20); {
				case r < 12:
					s++
				case r < 19:
					s += 2 + uint64(rng.IntN(40))
				default:
					s = (s>>32+1)<<32 | uint64(rng.IntN(5)) // the next segment
				}
			}
			d.producers[name] = p
		}
		meta, evicted := d.encode(1000, 1<<20)
		back, err := decodeDedupState(meta, 1000)
		if err != nil || evicted != 0 {
			t.Fatalf("round %d: %v (evicted %d)", round, err, evicted)
		}
		for name, p := range d.producers {
			if q := back.producers[name]; q == nil || fmt.Sprint(*q) != fmt.Sprint(*p) {
				t.Fatalf("round %d: producer %s read back as %v, want %v", round, name, q, *p)
			}
		}
	}

	// Format 1, as an earlier version committed it.
	var raw []byte
	raw = binary.AppendUvarint(raw, 1)
	raw = append(raw, 'a')
	for _, v := range []uint64{5<<32 | 1, 3, 2, 2, 3} {
		raw = binary.AppendUvarint(raw, v)
	}
	d, err := decodeDedupState(dedupPrefixV1+base64.RawURLEncoding.EncodeToString(raw), 13)
	if p := d.producers["a"]; err != nil || p == nil || p.acked != 5<<32|1 || p.last != 10 || fmt.Sprint(p.seen) != fmt.Sprint([]uint64{5<<32 | 3, 5<<32 | 6}) {
		t.Fatalf("format 1 read as %v (%v)", d.producers["a"], err)
	}
}

// Whatever the metadata, reading it fails or yields a state that writes
// back as it read: never a panic, never entries out of order.
func FuzzDedupStateDecode(f *testing.F) {
	d := dedupFill(rand.New(rand.NewPCG(1, 1)), 3, 64, 4)
	meta, _ := d.encode(100, 4000)
	f.Add(meta)
	f.Add(dedupPrefix + "AQ")
	f.Fuzz(func(t *testing.T, metadata string) {
		d, err := decodeDedupState(metadata, 100)
		if err != nil {
			return
		}
		for _, p := range d.producers {
			for i, s := range p.seen {
				if s < p.acked || (i > 0 && s <= p.seen[i-1]) || len(p.seen) > maxSeen {
					t.Fatalf("decoded seen %v out of order or below acked %d", p.seen, p.acked)
				}
			}
		}
	})
}

// An intent rides after the deduplication state in the commit's metadata,
// within the room kept for it, and a malformed one is no intent.
func TestIntentInMetadata(t *testing.T) {
	d := newDedupState()
	d.observe([]byte("collector-a"), 10, 9, 41)
	state, _ := d.encode(42, 4000)
	for _, in := range []Intent{{0, 0}, {42, 99}, {1<<63 - 2, 1<<63 - 1}} {
		enc := encodeIntent(in)
		if len(enc) > intentRoom {
			t.Errorf("intent %+v takes %d bytes, room %d", in, len(enc), intentRoom)
		}
		for _, base := range []string{"", state} {
			gotState, got, ok := cutIntent(base + enc)
			if !ok || got != in || gotState != base {
				t.Errorf("cutIntent(%q) = %q %+v %v", base+enc, gotState, got, ok)
			}
		}
	}
	if gotState, _, ok := cutIntent(state); ok || gotState != state {
		t.Errorf("an intent found in %q", state)
	}
	for _, bad := range []string{intentMark, intentMark + "5", intentMark + "9-3", intentMark + "-1-4", intentMark + "a-b"} {
		if _, in, ok := cutIntent(state + bad); ok {
			t.Errorf("%q accepted as %+v", bad, in)
		}
	}
}
