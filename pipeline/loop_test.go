package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// scriptSource yields its batches, one record of Bytes = offset each, then
// ends; it records its acknowledgements, and checks that every sink held
// the batch at each.
type scriptSource struct {
	batches  []Batch
	next     int
	sinks    []*recordingSink
	acks     []int64
	released int
	failures []string
}

func newScriptSource(n int, sinks ...*recordingSink) *scriptSource {
	s := &scriptSource{sinks: sinks}
	for i := range n {
		s.batches = append(s.batches, Batch{Flows: []record.Flow{{Bytes: uint64(i)}}, Offset: int64(i)})
	}
	return s
}

func (s *scriptSource) Next(time.Time) (Batch, error) {
	if s.next == len(s.batches) {
		return Batch{}, io.EOF
	}
	s.next++
	return s.batches[s.next-1], nil
}

func (s *scriptSource) Token(_ context.Context, batches []Batch) (string, error) {
	return fmt.Sprintf("script/%d-%d", batches[0].Offset, batches[len(batches)-1].Offset), nil
}

func (s *scriptSource) Ack(_ context.Context, last *Batch) error {
	for i, sink := range s.sinks {
		if !sink.has(uint64(last.Offset)) {
			s.failures = append(s.failures, fmt.Sprintf("offset %d acknowledged before sink %d had it", last.Offset, i))
		}
	}
	s.acks = append(s.acks, last.Offset)
	return nil
}

func (s *scriptSource) Release(batches []Batch) { s.released += len(batches) }

func newTestLoop(t *testing.T, cfg Config, sinks ...*recordingSink) loop {
	t.Helper()
	var ss []Sink
	for _, s := range sinks {
		ss = append(ss, s)
	}
	l, err := newLoop(reporter.New(slog.New(slog.DiscardHandler)), cfg, ss, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A gathering is acknowledged once every sink has it, gatherings in the
// order the source yielded them, and what is held when the source ends is
// stored and acknowledged before the loop returns.
func TestLoopAcknowledgesInOrderAfterEverySink(t *testing.T) {
	a, b := &recordingSink{}, &recordingSink{}
	l := newTestLoop(t, Config{BatchRows: 3, FlushInterval: time.Hour}, a, b)
	src := newScriptSource(10, a, b)
	if err := l.run(t.Context(), src, "shutdown"); err != nil {
		t.Fatal(err)
	}
	if len(src.failures) > 0 {
		t.Fatal(src.failures)
	}
	// 3 records a gathering; the last one, of one record, at the end.
	if want := []int64{2, 5, 8, 9}; fmt.Sprint(src.acks) != fmt.Sprint(want) {
		t.Fatalf("acknowledged %v, want %v", src.acks, want)
	}
	if want := []string{"script/0-2", "script/3-5", "script/6-8", "script/9-9"}; fmt.Sprint(a.tokens) != fmt.Sprint(want) || fmt.Sprint(b.tokens) != fmt.Sprint(want) {
		t.Fatalf("tokens %v and %v, want %v", a.tokens, b.tokens, want)
	}
	if src.released != 10 {
		t.Fatalf("released %d batches, want 10", src.released)
	}
}

// When the second sink cannot take a gathering, it is not acknowledged
// (from Kafka: not committed), even though the first sink has it, and the
// loop stores nothing more.
func TestLoopNoAcknowledgementWhenASinkFails(t *testing.T) {
	first, second := &recordingSink{}, &recordingSink{fail: errors.New("SIEM unreachable")}
	l := newTestLoop(t, Config{BatchRows: 2, FlushInterval: time.Hour}, first, second)
	src := newScriptSource(6, first, second)
	err := l.run(t.Context(), src, "shutdown")
	var notStored *notStoredError
	if !errors.As(err, &notStored) || !errors.Is(err, second.fail) {
		t.Fatalf("run returned %v, want the second sink's error as not stored", err)
	}
	if notStored.first != 0 || notStored.last != 1 || notStored.records != 2 {
		t.Fatalf("not stored: %+v", notStored)
	}
	if len(src.acks) != 0 {
		t.Fatalf("acknowledged %v although a sink failed", src.acks)
	}
	if src.next != 2 {
		t.Fatalf("took %d batches, want the loop to stop after the failed gathering", src.next)
	}
	if src.released != 2 {
		t.Fatalf("released %d batches, want 2", src.released)
	}
}

// ackFailSource fails its second acknowledgement.
type ackFailSource struct{ *scriptSource }

func (s ackFailSource) Ack(ctx context.Context, last *Batch) error {
	if len(s.acks) == 1 {
		return errors.New("commit failed")
	}
	return s.scriptSource.Ack(ctx, last)
}

// After an acknowledgement failed (from Kafka: a commit, while the
// partition changes hands), nothing more is stored.
func TestLoopStopsAfterFailedAcknowledgement(t *testing.T) {
	sink := &recordingSink{}
	l := newTestLoop(t, Config{BatchRows: 2, FlushInterval: time.Hour}, sink)
	src := ackFailSource{newScriptSource(8, sink)}
	var ackErr *ackError
	if err := l.run(t.Context(), src, "shutdown"); !errors.As(err, &ackErr) {
		t.Fatalf("run returned %v, want an acknowledgement error", err)
	}
	if len(sink.tokens) != 2 {
		t.Fatalf("stored %v; nothing may be stored after the failed acknowledgement", sink.tokens)
	}
}

// A rebuilt gathering is stored whole, at its end and not by size, and
// dropped when the stream ends before it is complete.
func TestLoopReplay(t *testing.T) {
	for _, complete := range []bool{true, false} {
		sink := &recordingSink{}
		l := newTestLoop(t, Config{BatchRows: 2, FlushInterval: time.Hour}, sink)
		src := newScriptSource(5, sink)
		for i := range src.batches {
			src.batches[i].Replay = true
			src.batches[i].ReplayEnd = complete && i == 4
		}
		if err := l.run(t.Context(), src, "handover"); err != nil {
			t.Fatal(err)
		}
		want := "[script/0-4]"
		if !complete {
			want = "[]"
		}
		if fmt.Sprint(sink.tokens) != want || src.released != 5 {
			t.Fatalf("complete %v: stored %v, released %d", complete, sink.tokens, src.released)
		}
	}
}

// Closing the in-process queue drains it: every batch taken is stored and
// given back to the pool before Stop returns.
func TestPipelineShutdownDrains(t *testing.T) {
	sink := &recordingSink{}
	src, p := newPipeline(t, Config{BatchRows: 1_000_000, FlushInterval: time.Hour}, sink)
	var sent []*record.Batch
	for range 7 {
		b := batchOf(10, 3)
		sent = append(sent, b)
		src <- b
	}
	close(src)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The sink read every record's bytes while it held the batches: none
	// was released (emptied) before it was stored.
	if writes, total := sink.snapshot(); len(writes) != 1 || writes[0] != 70 || total != 210 {
		t.Fatalf("writes %v (bytes %d), want one of 70 records at shutdown", writes, total)
	}
	for i, b := range sent {
		if len(b.Flows) != 0 {
			t.Errorf("batch %d still holds %d records after Stop: not given back to the pool", i, len(b.Flows))
		}
	}
}

// dropAll is a stage that keeps no record.
type dropAll struct{}

func (dropAll) Process([]record.Flow) int { return 0 }

// Records the stage drops still hold their batches' memory until the
// gathering is released, so a gathering is flushed once it holds
// heldRowsFactor × BatchRows records, kept or not: with a stage that keeps
// nothing, 10 records of BatchRows 1 are acknowledged (and released) every
// 4, not held until the flush interval.
func TestLoopBoundsRecordsHeldByDroppingStage(t *testing.T) {
	a := &recordingSink{}
	l := newTestLoop(t, Config{BatchRows: 1, FlushInterval: time.Hour}, a)
	l.stage = dropAll{}
	src := newScriptSource(10, a)
	if err := l.run(t.Context(), src, "shutdown"); err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, 7, 9}; fmt.Sprint(src.acks) != fmt.Sprint(want) {
		t.Fatalf("acknowledged %v, want %v", src.acks, want)
	}
	if len(a.writes) != 0 || src.released != 10 {
		t.Fatalf("writes %v, released %d; want no write (nothing kept) and 10 released", a.writes, src.released)
	}
}
