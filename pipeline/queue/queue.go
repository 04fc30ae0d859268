// Package queue is the in-process hand-off between the collector and the
// pipeline in the all-in-one deployment (`sluice run`): a bounded channel of
// record batches, with an overflow on disk. When the channel is full, a
// batch goes to the overflow (overflow.go) and comes back in order as
// storage catches up: a storage stall (a long query, the engine's merges)
// delays records instead of dropping them. When the overflow is full too,
// or off, Put blocks, so back-pressure reaches the collector's workers,
// whose own bounded queues then drop and count; memory stays bounded and
// nothing is lost silently.
package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Config sizes the queue.
type Config struct {
	// Batches is how many batches may wait for the pipeline in memory.
	Batches int `yaml:"batches"`
	// Overflow is where batches wait once those are taken.
	Overflow OverflowConfig `yaml:"overflow"`
}

// DefaultConfig holds 8 batches in memory (with 8192-record batches,
// 65,536 records: a second or more of traffic, as long as most stalls of
// the detections' queries) and 2 GiB on disk (about 13M records). Longer
// stalls spill to the disk at about 2 µs a record, where 64 batches in
// memory cost about 440 MiB more resident set (BENCHMARKS.md, eighth
// round).
func DefaultConfig() Config { return Config{Batches: 8, Overflow: OverflowConfig{MaxBytes: 2 << 30}} }

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Batches < 1 {
		errs = append(errs, fmt.Errorf("batches: must be at least 1, got %d", c.Batches))
	}
	errs = append(errs, c.Overflow.Validate())
	return errors.Join(errs...)
}

// Queue is a bounded FIFO of batches with one or more producers and one
// consumer.
type Queue struct {
	ch        chan *record.Batch
	overflow  *overflow // nil: off
	closeOnce sync.Once

	batches prometheus.Counter
	records prometheus.Counter
}

// Dependencies is what a Queue is handed.
type Dependencies struct {
	// OverflowDir is the overflow's directory (with Overflow.MaxBytes > 0).
	OverflowDir string
}

// New creates a queue and registers its metrics. With an overflow, it
// opens it: batches an earlier run left there are put back first.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Queue, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := &Queue{ch: make(chan *record.Batch, cfg.Batches)}
	if cfg.Overflow.MaxBytes > 0 {
		o, err := newOverflow(r, cfg.Overflow, deps.OverflowDir)
		if err != nil {
			return nil, err
		}
		q.overflow = o
	}
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

// Put hands a batch to the consumer: into the channel, or to the overflow
// while the channel is full or the overflow holds batches, waiting for
// room when the overflow (or the channel, without one) is full. If ctx
// ends first, the batch is not queued and the caller still owns it. Put
// must not be called after Stop.
func (q *Queue) Put(ctx context.Context, b *record.Batch) error {
	n := b.Len() // once sent, the batch belongs to the consumer
	var err error
	if q.overflow != nil {
		err = q.overflow.put(ctx, q.ch, b)
	} else {
		err = send(ctx, q.ch, b)
	}
	if err != nil {
		return err
	}
	q.batches.Inc()
	q.records.Add(float64(n))
	return nil
}

// send waits for room in ch.
func send(ctx context.Context, ch chan *record.Batch, b *record.Batch) error {
	select {
	case ch <- b:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("queue put: %w", ctx.Err())
	}
}

// Batches is the consumer's side. It is closed by Stop once producers are
// done, after the batches already queued.
func (q *Queue) Batches() <-chan *record.Batch { return q.ch }

// Backlog is the share of the queue in use, 0 (empty) to 1 (full): how
// far the pipeline is behind the collector. While the overflow holds
// batches it is 1.
func (q *Queue) Backlog() float64 {
	if q.overflow != nil && q.overflow.pendingBatches() > 0 {
		return 1
	}
	return float64(len(q.ch)) / float64(cap(q.ch))
}

// Start starts putting the overflow's batches back, those of an earlier
// run first.
func (q *Queue) Start(context.Context) error {
	if q.overflow != nil {
		q.overflow.start(q.ch)
	}
	return nil
}

// Stop ends the stream: the overflow empties into the channel while ctx
// allows (what it still holds then stays on disk for the next start), the
// consumer takes the batches queued, then sees the end. Call it only after
// every producer has stopped, while the consumer still runs.
func (q *Queue) Stop(ctx context.Context) error {
	var err error
	q.closeOnce.Do(func() {
		if q.overflow != nil {
			err = q.overflow.stop(ctx)
		}
		close(q.ch)
	})
	return err
}
