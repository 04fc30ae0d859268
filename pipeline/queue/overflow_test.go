package queue

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// flows makes n random records, each told apart by its Bytes (its number).
// Random records fill every column, strings to their longest: about 2.7 kB
// each in the overflow, against 160 B for real ones.
func flows(rng *rand.Rand, first, n int) []record.Flow {
	out := make([]record.Flow, n)
	for i := range out {
		out[i] = recordpb.RandomFlow(rng)
		out[i].Bytes = uint64(first + i)
	}
	return out
}

func batchOf(fs []record.Flow) *record.Batch {
	b := record.GetBatch()
	b.Flows = append(b.Flows[:0], fs...)
	return b
}

func newOverflowQueue(t *testing.T, batches int, maxBytes int64, dir string) *Queue {
	t.Helper()
	q, err := New(reporter.New(slog.New(slog.DiscardHandler)), Config{Batches: batches, Overflow: OverflowConfig{MaxBytes: maxBytes}},
		Dependencies{OverflowDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return q
}

// put puts fs in batches of size, failing if a Put waits: while the
// overflow has room, none may.
func put(t *testing.T, q *Queue, fs []record.Flow, size int) {
	t.Helper()
	for i := 0; i < len(fs); i += size {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err := q.Put(ctx, batchOf(fs[i:min(i+size, len(fs))]))
		cancel()
		if err != nil {
			t.Fatalf("Put of batch %d waited although the overflow had room: %v", i/size, err)
		}
	}
}

// take reads n records from the queue, failing if they do not come.
func take(t *testing.T, q *Queue, n int) []record.Flow {
	t.Helper()
	var out []record.Flow
	timeout := time.After(time.Minute)
	for len(out) < n {
		select {
		case b, ok := <-q.Batches():
			if !ok {
				t.Fatalf("queue closed after %d of %d records", len(out), n)
			}
			out = append(out, b.Flows...)
			b.Release()
		case <-timeout:
			t.Fatalf("%d of %d records came out", len(out), n)
		}
	}
	return out
}

// same checks that got holds want's records, one by one, in order: none
// lost, none twice, every field as it went in.
func same(t *testing.T, got, want []record.Flow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d records out, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("record %d: got record number %d (or another field changed), want %d", i, got[i].Bytes, want[i].Bytes)
		}
	}
}

// With the consumer stalled, the queue takes batches far past its memory
// (two batches) into the overflow without making the producer wait, and
// gives every record back in the order it was put, with every field intact.
func TestOverflowKeepsOrderAndEveryRecord(t *testing.T) {
	q := newOverflowQueue(t, 2, minOverflowBytes, t.TempDir())
	want := flows(rand.New(rand.NewPCG(1, 2)), 0, 10_000)
	put(t, q, want, 100)
	if n := q.overflow.pendingBatches(); n == 0 {
		t.Fatal("nothing went to the overflow: the test proves nothing")
	}
	if got := q.Backlog(); got != 1 {
		t.Errorf("backlog with batches on disk = %v, want 1", got)
	}
	same(t, take(t, q, len(want)), want)
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(q.overflow.returned); got != float64(len(want)-200) {
		t.Errorf("overflow_returned_records_total = %v, want %d (all but the two batches queued in memory)", got, len(want)-200)
	}
}

// A full overflow makes Put wait until the reader takes batches back, and
// the batches that waited still come out behind those on disk: a producer
// going on past full while the consumer reads slowly gets every record
// back in order.
func TestOverflowFullWaitsInOrder(t *testing.T) {
	q := newOverflowQueue(t, 1, minOverflowBytes, t.TempDir())
	rng := rand.New(rand.NewPCG(3, 4))
	var accepted []record.Flow
	for {
		b := flows(rng, len(accepted), 1000)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		err := q.Put(ctx, batchOf(b))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, b...)
		if len(accepted) > minOverflowBytes/100 {
			t.Fatal("the overflow never filled")
		}
	}
	if _, used := q.overflow.spool.Pending(); used > minOverflowBytes {
		t.Errorf("the overflow holds %d bytes, past its bound %d", used, int64(minOverflowBytes))
	}
	if got := testutil.ToFloat64(q.overflow.fullWaits); got < 1 {
		t.Errorf("overflow_full_waits_total = %v, want at least 1", got)
	}
	// Go on putting past full while the consumer reads.
	more := flows(rng, len(accepted), 20_000)
	putDone := make(chan struct{})
	go func() {
		defer close(putDone)
		for i := 0; i < len(more); i += 1000 {
			if err := q.Put(t.Context(), batchOf(more[i:i+1000])); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	want := append(accepted, more...)
	same(t, take(t, q, len(want)), want)
	<-putDone
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Several producers (the collector's workers) going on past a full
// overflow while the consumer reads: each producer's records come out in
// the order it put them, none lost, none twice. (A producer that waited
// for room once kept its encoding in the buffer the next producer writes
// to; this caught it, under -race.)
func TestOverflowConcurrentProducersFull(t *testing.T) {
	q := newOverflowQueue(t, 1, minOverflowBytes, t.TempDir())
	const producers, per, size = 4, 6000, 500
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs := flows(rand.New(rand.NewPCG(uint64(p), 9)), p*1_000_000, per)
			for i := 0; i < per; i += size {
				if err := q.Put(t.Context(), batchOf(fs[i:i+size])); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]uint64, producers)
	for p := range next {
		next[p] = uint64(p) * 1_000_000
	}
	for _, f := range take(t, q, producers*per) {
		p := f.Bytes / 1_000_000
		if f.Bytes != next[p] {
			t.Fatalf("producer %d: record %d came where %d was due", p, f.Bytes, next[p])
		}
		next[p]++
	}
	wg.Wait()
	if got := testutil.ToFloat64(q.overflow.fullWaits); got < 1 {
		t.Errorf("overflow_full_waits_total = %v: the overflow never filled, the test proves less than it says", got)
	}
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Batches left in the overflow by a stop that had no time to empty it are
// given back first by the next queue on the same directory, before its own,
// each exactly once.
func TestOverflowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	first := flows(rng, 0, 8_000)
	q := newOverflowQueue(t, 2, minOverflowBytes, dir)
	put(t, q, first, 500)
	left := q.overflow.pendingBatches()
	if left == 0 {
		t.Fatal("nothing went to the overflow")
	}
	expired, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Stop(expired); err != nil {
		t.Fatal(err)
	}
	// The batches in memory were taken by the consumer before the stop
	// ended the stream.
	var stored []record.Flow
	for b := range q.Batches() {
		stored = append(stored, b.Flows...)
	}
	if len(stored)+left*500 != len(first) {
		t.Fatalf("%d records in memory and %d batches of 500 on disk, want %d records", len(stored), left, len(first))
	}

	second := flows(rng, len(first), 3_000)
	q = newOverflowQueue(t, 2, minOverflowBytes, dir)
	put(t, q, second, 500)
	stored = append(stored, take(t, q, len(first)-len(stored)+len(second))...)
	same(t, stored, append(first, second...))
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := pendingOnDisk(t, dir); n != 0 {
		t.Errorf("%d batches still on disk after everything was read", n)
	}
}

// A stop with time empties the overflow into the queue while the consumer
// reads, then closes the stream: nothing stays on disk.
func TestOverflowStopEmptiesIt(t *testing.T) {
	dir := t.TempDir()
	q := newOverflowQueue(t, 2, minOverflowBytes, dir)
	want := flows(rand.New(rand.NewPCG(7, 8)), 0, 10_000)
	put(t, q, want, 500)
	got := make(chan []record.Flow)
	go func() {
		var out []record.Flow
		for b := range q.Batches() {
			out = append(out, b.Flows...)
			b.Release()
		}
		got <- out
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	same(t, <-got, want)
	if n := pendingOnDisk(t, dir); n != 0 {
		t.Errorf("%d batches still on disk after a stop with time", n)
	}
}

// pendingOnDisk opens the overflow in dir again and counts its batches.
func pendingOnDisk(t *testing.T, dir string) int {
	t.Helper()
	o, err := newOverflow(reporter.New(slog.New(slog.DiscardHandler)), OverflowConfig{MaxBytes: minOverflowBytes}, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.spool.Stop(t.Context())
	return o.pendingBatches()
}

func TestOverflowConfig(t *testing.T) {
	err := Config{Batches: 1, Overflow: OverflowConfig{MaxBytes: 1 << 20}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "overflow.max-bytes") {
		t.Errorf("a 1 MiB overflow: %v, want an error naming overflow.max-bytes", err)
	}
	if err := (Config{Batches: 1}).Validate(); err != nil {
		t.Errorf("no overflow: %v", err)
	}
	if _, err := New(reporter.New(slog.New(slog.DiscardHandler)), DefaultConfig(), Dependencies{}); err == nil {
		t.Error("an overflow without a directory was accepted")
	}
	// A directory that cannot be made is an error at New, not at the
	// first full queue.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reporter.New(slog.New(slog.DiscardHandler)), DefaultConfig(), Dependencies{OverflowDir: filepath.Join(file, "overflow")}); err == nil {
		t.Error("an overflow directory under a file was accepted")
	}
}
