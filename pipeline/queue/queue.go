// Package queue is the in-process hand-off between the collector and the
// pipeline in the all-in-one deployment (`sluice run`): a bounded channel of
// record batches. When it is full, Put blocks, so back-pressure reaches the
// collector's workers, whose own bounded queues then drop and count; memory
// stays bounded and nothing is lost silently.
package queue

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Config sizes the queue.
type Config struct {
	// Batches is how many batches may wait for the pipeline.
	Batches int `yaml:"batches"`
}

// DefaultConfig holds 64 batches (with 8192-record batches, 512k records).
func DefaultConfig() Config { return Config{Batches: 64} }

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Batches < 1 {
		return fmt.Errorf("batches: must be at least 1, got %d", c.Batches)
	}
	return nil
}

// Queue is a bounded FIFO of batches with one or more producers and one
// consumer.
type Queue struct {
	ch        chan *record.Batch
	closeOnce sync.Once

	batches prometheus.Counter
	records prometheus.Counter
}

// Dependencies is what a Queue is handed: nothing.
type Dependencies struct{}

// New creates a queue and registers its metrics.
func New(r *reporter.Reporter, cfg Config, _ Dependencies) (*Queue, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := &Queue{ch: make(chan *record.Batch, cfg.Batches)}
	m := r.Metrics()
	q.batches = m.Counter("batches_total", "Batches put into the in-process queue.")
	q.records = m.Counter("records_total", "Records put into the in-process queue.")
	m.GaugeFunc("depth_batches", "Batches waiting in the in-process queue.", func() float64 { return float64(len(q.ch)) })
	m.GaugeFunc("capacity_batches", "Capacity of the in-process queue.", func() float64 { return float64(cap(q.ch)) })
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("register queue metrics: %w", err)
	}
	return q, nil
}

// Put hands a batch to the consumer, waiting for room. If ctx ends first,
// the batch is not queued and the caller still owns it.
func (q *Queue) Put(ctx context.Context, b *record.Batch) error {
	n := b.Len() // once sent, the batch belongs to the consumer
	select {
	case q.ch <- b:
		q.batches.Inc()
		q.records.Add(float64(n))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue put: %w", ctx.Err())
	}
}

// Batches is the consumer's side. It is closed by Stop once producers are
// done, after the batches already queued.
func (q *Queue) Batches() <-chan *record.Batch { return q.ch }

// Backlog is the share of the queue in use, 0 (empty) to 1 (full): how
// far the pipeline is behind the collector.
func (q *Queue) Backlog() float64 { return float64(len(q.ch)) / float64(cap(q.ch)) }

// Start does nothing: the queue has no work of its own.
func (q *Queue) Start(context.Context) error { return nil }

// Stop ends the stream: the consumer takes the batches queued, then sees
// the end. Call it only after every producer has stopped.
func (q *Queue) Stop(context.Context) error {
	q.closeOnce.Do(func() { close(q.ch) })
	return nil
}
