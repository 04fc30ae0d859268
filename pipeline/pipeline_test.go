package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
)

// recordingSink keeps the size and token of every write, and which Bytes
// values it was given; the storage writer's own tests, and the end-to-end
// tests, cover the real sink.
type recordingSink struct {
	mu     sync.Mutex
	writes []int
	tokens []string
	total  uint64
	seen   map[uint64]bool
	fail   error
}

func (s *recordingSink) WriteBatches(_ context.Context, batches [][]record.Flow, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.seen == nil {
		s.seen = map[uint64]bool{}
	}
	n := 0
	for _, flows := range batches {
		n += len(flows)
		for _, f := range flows {
			s.total += f.Bytes
			s.seen[f.Bytes] = true
		}
	}
	s.writes = append(s.writes, n)
	s.tokens = append(s.tokens, token)
	return nil
}

func (s *recordingSink) has(bytes uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[bytes]
}

func (s *recordingSink) snapshot() ([]int, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.writes...), s.total
}

func batchOf(n int, bytes uint64) *record.Batch {
	b := record.GetBatch()
	for range n {
		b.Next().Bytes = bytes
	}
	return b
}

func newPipeline(t *testing.T, cfg Config, sink Sink) (chan *record.Batch, *Pipeline) {
	t.Helper()
	src := make(chan *record.Batch)
	p, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{Source: src, Sinks: []Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return src, p
}

func TestPipelineGathersBySize(t *testing.T) {
	sink := &recordingSink{}
	src, p := newPipeline(t, Config{BatchRows: 250, FlushInterval: time.Hour}, sink)
	for range 10 {
		src <- batchOf(100, 1)
	}
	close(src) // the rest goes out at shutdown
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	writes, total := sink.snapshot()
	if want := []int{300, 300, 300, 100}; len(writes) != len(want) || writes[0] != 300 || writes[3] != 100 {
		t.Fatalf("writes %v, want %v", writes, want)
	}
	if total != 1000 {
		t.Fatalf("wrote %d records, want 1000", total)
	}
}

func TestPipelineFlushesByTime(t *testing.T) {
	sink := &recordingSink{}
	src, p := newPipeline(t, Config{BatchRows: 1_000_000, FlushInterval: 20 * time.Millisecond}, sink)
	src <- batchOf(5, 2)
	testenv.Eventually(t, 5*time.Second, "a partial batch to be written after the flush interval", func() bool {
		writes, _ := sink.snapshot()
		return len(writes) == 1
	})
	close(src)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPipelineStopsOnSinkFailure(t *testing.T) {
	sink := &recordingSink{fail: errors.New("storage gone")}
	src, p := newPipeline(t, Config{BatchRows: 10, FlushInterval: time.Hour}, sink)
	src <- batchOf(10, 1)
	failure := <-p.Failed()
	if failure == nil || !strings.Contains(failure.Error(), "storage gone") {
		t.Fatalf("Failed = %v, want the write's error", failure)
	}
	if p.Ready() == nil {
		t.Error("a pipeline whose storage failed for good says it is ready")
	}
	// A stop that races the failure (SIGTERM as storage gives up) must not
	// hide it: Stop returns it again.
	if err := p.Stop(context.Background()); err == nil || err.Error() != failure.Error() {
		t.Errorf("Stop = %v, want the failure %v", err, failure)
	}
}

// blockingSink takes nothing until its context ends.
type blockingSink struct{}

func (blockingSink) WriteBatches(ctx context.Context, _ [][]record.Flow, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// Past Stop's deadline the writes are given up, and Stop says what was not
// stored, even when the queue was never closed.
func TestPipelineStopGivesUpAtDeadline(t *testing.T) {
	src, p := newPipeline(t, Config{BatchRows: 10, FlushInterval: time.Hour}, blockingSink{})
	src <- batchOf(10, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "not stored before the deadline") {
		t.Fatalf("Stop = %v, want the records not stored named", err)
	}
	if got := testutil.ToFloat64(p.m.failed); got != 10 {
		t.Errorf("records failed = %v, want 10", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("zero config accepted")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}
