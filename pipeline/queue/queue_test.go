package queue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

func TestQueueOrderAndBackPressure(t *testing.T) {
	q, err := New(reporter.New(slog.New(slog.DiscardHandler)), Config{Batches: 2}, Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got, want := q.Backlog(), float64(i)/2; got != want {
			t.Fatalf("backlog with %d of 2 batches queued = %v, want %v", i, got, want)
		}
		b := record.GetBatch()
		b.Next().Bytes = uint64(i)
		if err := q.Put(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	if got := q.Backlog(); got != 1 {
		t.Fatalf("backlog of a full queue = %v, want 1", got)
	}
	// Full: Put must wait, then give up with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	extra := record.GetBatch()
	if err := q.Put(ctx, extra); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put on a full queue = %v, want deadline exceeded", err)
	}
	if err := q.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for b := range q.Batches() {
		got = append(got, b.Flows[0].Bytes)
		b.Release()
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("drained %v, want [0 1]", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("zero batches must be refused")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}
