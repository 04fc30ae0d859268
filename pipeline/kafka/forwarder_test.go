package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/spool"
)

// flakySender stands in for the Producer: it holds at most maxInFlight
// messages, completes them in the order sent, a little later, on its own
// goroutine, and fails the sends numbered in [failFrom, failTo) (counting
// from 1): an outage.
type flakySender struct {
	f                *Forwarder
	failFrom, failTo int
	tokens           chan struct{}
	completions      chan func()

	mu          sync.Mutex
	calls       int
	delivered   []string        // IDs Kafka took, in order
	outstanding map[string]bool // IDs sent and not delivered yet
	maxHeld     int             // most entries the forwarder held at once
	maxPending  int             // most IDs sent and not delivered at once
	// badAcked counts sends whose AckedHeader promise was false: an entry
	// before the acknowledged position not delivered yet, or the position
	// past the message's own.
	badAcked int
}

func newFlakySender(maxInFlight, failFrom, failTo int) *flakySender {
	s := &flakySender{
		failFrom: failFrom, failTo: failTo,
		tokens:      make(chan struct{}, maxInFlight),
		completions: make(chan func(), 1024),
		outstanding: map[string]bool{},
	}
	go func() {
		for c := range s.completions {
			time.Sleep(50 * time.Microsecond)
			c()
		}
	}()
	return s
}

func (s *flakySender) EnsureTopic(context.Context) error { return nil }

func (s *flakySender) SendEncoded(ctx context.Context, _, _ []byte, _ int, identity Identity, done func(error)) error {
	// The headers the producer would write.
	headers := new(message).identityHeaders(identity)
	var id, ackedHeader string
	for _, h := range headers {
		switch h.Key {
		case MessageIDHeader:
			id = string(h.Value)
		case AckedHeader:
			ackedHeader = string(h.Value)
		}
	}
	select {
	case s.tokens <- struct{}{}:
	case <-ctx.Done():
		done(ctx.Err())
		return ctx.Err()
	}
	s.f.mu.Lock()
	held := len(s.f.window)
	s.f.mu.Unlock()
	s.mu.Lock()
	s.calls++
	fail := s.calls >= s.failFrom && s.calls < s.failTo
	s.outstanding[id] = true
	// The test's entries are in one segment, delivered in order: the
	// promise holds when the acknowledged index is within what was
	// delivered and not past this entry.
	var seg, acked int
	own, err := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	if _, serr := fmt.Sscanf(ackedHeader, "%d-%d", &seg, &acked); serr != nil || err != nil || acked > own || acked > len(s.delivered) {
		s.badAcked++
	}
	s.maxHeld = max(s.maxHeld, held)
	s.maxPending = max(s.maxPending, len(s.outstanding))
	s.mu.Unlock()
	s.completions <- func() {
		s.mu.Lock()
		var err error
		if fail {
			err = errors.New("broker unreachable")
		} else {
			s.delivered = append(s.delivered, id)
			delete(s.outstanding, id)
		}
		s.mu.Unlock()
		<-s.tokens
		done(err)
	}
	return nil
}

// During an outage the forwarder retries the oldest message alone and reads
// nothing new: what it holds stays within max-in-flight-messages, and Kafka
// receives the spool in order, each message once.
func TestForwarderOutageKeepsOrder(t *testing.T) {
	const (
		maxInFlight = 4
		entries     = 200
	)
	f, fake := newTestForwarder(t, ForwarderConfig{}, maxInFlight, entries, 20, 70) // 50 sends fail, from the 20th
	var want []string

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.EventuallyState(t, 30*time.Second, "every spooled entry forwarded", func() (bool, string) {
		n := f.Pending()
		return n == 0, fmt.Sprintf("%d entries still pending", n)
	})
	if err := f.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The spool IDs, in order, are what a fresh reader of the same spool
	// sees; rebuild them from the first delivered one.
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.delivered) == 0 {
		t.Fatal("nothing delivered")
	}
	var spoolID string
	var seg int
	fmt.Sscanf(fake.delivered[0], "%16s-%d-", &spoolID, &seg)
	for i := range entries {
		want = append(want, fmt.Sprintf("%s-%d-%d", spoolID, seg, i))
	}
	if fmt.Sprint(fake.delivered) != fmt.Sprint(want) {
		t.Errorf("Kafka received\n%v\nwant the spool order\n%v", fake.delivered, want)
	}
	if fake.badAcked > 0 {
		t.Errorf("%d messages claimed entries acknowledged that were not", fake.badAcked)
	}
	if fake.maxHeld > maxInFlight || fake.maxPending > maxInFlight {
		t.Errorf("forwarder held %d entries, %d sent and undelivered; bound %d", fake.maxHeld, fake.maxPending, maxInFlight)
	}
	if got := metricValue(t, f.r.Gatherer(), "forwarder_retries_total"); got < 50 {
		t.Errorf("forwarder_retries_total = %v, want at least the 50 failures", got)
	}
}

// newTestForwarder spools entries and builds a forwarder on a flakySender
// that fails the sends numbered in [failFrom, failTo).
func newTestForwarder(t *testing.T, cfg ForwarderConfig, maxInFlight, entries, failFrom, failTo int) (*Forwarder, *flakySender) {
	t.Helper()
	r := reporter.New(slog.New(slog.DiscardHandler))
	kcfg := DefaultConfig()
	kcfg.Producer.MaxInFlightMessages = maxInFlight
	p, err := NewProducer(r, kcfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpool(t, r)
	for i := range entries {
		if err := sp.Append([]byte{byte(i)}, fmt.Appendf(nil, "message %d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	f, err := NewForwarder(r, cfg, ForwarderDependencies{Producer: p, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFlakySender(maxInFlight, failFrom, failTo)
	fake.f = f
	f.producer = fake
	f.minBackoff, f.maxBackoff = time.Millisecond, 4*time.Millisecond
	return f, fake
}

// startStop starts f and stops it at once, failing t if Stop waited for
// its context (30s) rather than for the spool.
func startStop(t *testing.T, f *Forwarder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Stop waited for its context, not for the spool to drain or stall")
	}
}

// Stop gives Kafka the spool while it makes progress: started and stopped
// at once, the forwarder still delivers every entry.
func TestForwarderStopDrains(t *testing.T) {
	const entries = 200
	f, fake := newTestForwarder(t, ForwarderConfig{}, 4, entries, 1, 1)
	startStop(t, f)
	if n := f.Pending(); n != 0 {
		t.Errorf("%d entries pending after Stop, want the spool drained", n)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.delivered) != entries {
		t.Errorf("Kafka received %d entries, want %d", len(fake.delivered), entries)
	}
}

// While Kafka takes nothing, Stop gives up after DrainStall without
// progress, and the entries stay spooled for the next start.
func TestForwarderStopStalls(t *testing.T) {
	const entries = 20
	f, _ := newTestForwarder(t, ForwarderConfig{DrainStall: 100 * time.Millisecond}, 4, entries, 1, 1<<30)
	startStop(t, f)
	if n := f.Pending(); n != entries {
		t.Errorf("%d entries pending after Stop, want all %d left spooled", n, entries)
	}
}

// A spooled message's identity headers spell what the spool's Entry.ID
// says, and are written without allocating once the pooled message was
// used.
func TestIdentityHeaders(t *testing.T) {
	m := new(message)
	id := Identity{Spool: "0123456789abcdef", Entry: spool.Pos{Segment: 12, Index: 345}, AckedAt: spool.Pos{Segment: 11, Index: 9}}
	h := m.identityHeaders(id)
	if len(h) != 3 || h[1].Key != MessageIDHeader || string(h[1].Value) != "0123456789abcdef-12-345" ||
		h[2].Key != AckedHeader || string(h[2].Value) != "11-9" {
		t.Fatalf("headers %q", h)
	}
	if h := m.identityHeaders(Identity{ID: "token"}); len(h) != 2 || string(h[1].Value) != "token" {
		t.Fatalf("headers %q", h)
	}
	if n := testing.AllocsPerRun(1000, func() {
		id.Entry.Index++
		m.identityHeaders(id)
	}); n != 0 {
		t.Errorf("%v allocations per message", n)
	}
}

func BenchmarkIdentityHeaders(b *testing.B) {
	b.ReportAllocs()
	m := new(message)
	acked := spool.Pos{Segment: 40, Index: 1000}
	for i := range b.N {
		m.identityHeaders(Identity{Spool: "0123456789abcdef", Entry: spool.Pos{Segment: 40, Index: 1000 + i}, AckedAt: acked})
	}
}
