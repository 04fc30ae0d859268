package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"sluice/internal/testenv"
	"sluice/pipeline/record"
)

// counterStore records what the counter consumer stores; when blocking is
// set, each store waits for its context instead, having closed blocking.
type counterStore struct {
	mu       sync.Mutex
	tokens   []string
	rows     int
	blocking chan struct{}
	once     sync.Once
	ctxErr   error // the error of the context a blocked store was given
}

func (s *counterStore) store(ctx context.Context, rows []record.Counter, token string) error {
	if s.blocking != nil {
		s.once.Do(func() { close(s.blocking) })
		<-ctx.Done()
		s.mu.Lock()
		s.ctxErr = ctx.Err()
		s.mu.Unlock()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = append(s.tokens, token)
	s.rows += len(rows)
	return nil
}

func (s *counterStore) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// counterRoundTrip writes batches of counter samples through a
// CounterProducer and starts a CounterConsumer storing them in s.
func counterRoundTrip(t *testing.T, ctx context.Context, s *counterStore, batches int) *CounterConsumer {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	r := newTestReporter(t)
	cfg := testConfig(t, cluster.ListenAddrs(), 1)
	p, err := NewCounterProducer(r, cfg, CounterProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		rows := []record.Counter{{SourceIDIndex: uint32(i)}, {SourceIDIndex: uint32(i + 100)}}
		if err := p.WriteCounters(ctx, rows, fmt.Sprintf("token-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := NewCounterConsumer(r, cfg, CounterConsumerDependencies{Store: s.store})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// The counter topic carries each batch once, under its token, and the
// counter metrics keep their "counters" prefix.
func TestCountersRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := &counterStore{}
	c := counterRoundTrip(t, ctx, s, 3)
	testenv.Eventually(t, 30*time.Second, "3 counter messages stored", func() bool { return s.stored() == 3 })
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fmt.Sprint(s.tokens) != "[token-0 token-1 token-2]" || s.rows != 6 {
		t.Errorf("stored tokens %v, %d rows; want token-0..2, 6 rows", s.tokens, s.rows)
	}
	g := c.r.Gatherer()
	if got := metricValue(t, g, "sluice_pipeline_kafka_counters_samples_total"); got != 6 {
		t.Errorf("counters samples_total = %v, want 6", got)
	}
	if got := metricValue(t, g, "sluice_pipeline_kafka_counters_producer_records_total"); got != 6 {
		t.Errorf("counters producer_records_total = %v, want 6", got)
	}
}

// Stop lets a store in progress finish while its context allows; then it
// cancels the store, waits for the consumer, and says so.
func TestCounterConsumerStopGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := &counterStore{blocking: make(chan struct{})}
	c := counterRoundTrip(t, ctx, s, 1)
	select {
	case <-s.blocking:
	case <-ctx.Done():
		t.Fatal("no store began")
	}
	stopCtx, stopCancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stopCancel()
	err := c.Stop(stopCtx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want the deadline's error", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !errors.Is(s.ctxErr, context.Canceled) {
		t.Errorf("the store's context ended with %v, want it cancelled", s.ctxErr)
	}
}
