// Package pipeline carries record batches from a source (the in-process
// queue of `sluice run`; a Kafka consumer in the split deployment) to the
// sinks, the storage writer first. It gathers the collector's small batches
// into inserts of a useful size: ClickHouse prefers a few large inserts to
// many small ones.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Config is the `pipeline:` section.
type Config struct {
	// BatchRows is the number of records that triggers an insert.
	BatchRows int `yaml:"batch-rows"`
	// FlushInterval is the longest a record waits before being inserted.
	FlushInterval time.Duration `yaml:"flush-interval"`
}

// DefaultConfig inserts every 50,000 records or every 2 seconds.
func DefaultConfig() Config {
	return Config{BatchRows: 50_000, FlushInterval: 2 * time.Second}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	if c.BatchRows < 1 {
		errs = append(errs, fmt.Errorf("batch-rows: must be at least 1, got %d", c.BatchRows))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush-interval: must be positive, got %s", c.FlushInterval))
	}
	return errors.Join(errs...)
}

// Pipeline moves batches from the in-process queue to the sinks.
type Pipeline struct {
	loop
	lifecycle
	source <-chan *record.Batch
}

// Dependencies is what a Pipeline is handed.
type Dependencies struct {
	// Source is the in-process queue's side: the pipeline drains it and
	// ends once it is closed.
	Source <-chan *record.Batch
	// Sinks take the gathered batches, the storage writer first.
	Sinks []Sink
	// Stage, when not nil, changes every record before the sinks
	// (enrichment).
	Stage Stage
}

// metrics are the pipeline's, whatever its source (the in-process queue or
// Kafka): one of the two runs in a process.
type metrics struct {
	// pending counts records gathered and not yet written, for the
	// metrics scrape, which runs on another goroutine.
	pending  atomic.Int64
	received prometheus.Counter
	written  prometheus.Counter
	failed   prometheus.Counter
	flushes  *prometheus.HistogramVec
}

func newMetrics(r *reporter.Reporter) (*metrics, error) {
	f := r.Metrics()
	m := &metrics{
		received: f.Counter("records_received_total", "Records taken from the source."),
		written:  f.Counter("records_written_total", "Records every sink acknowledged."),
		failed:   f.Counter("records_failed_total", "Records a sink could not take before shutdown (or, from Kafka, a partition's hand-over) gave up on them."),
		flushes: f.HistogramVec("flush_seconds", "Time to hand one gathered batch to every sink, by trigger.",
			prometheus.ExponentialBuckets(0.001, 2, 16), "trigger"),
	}
	f.GaugeFunc("records_pending", "Records gathered and not yet written.", func() float64 { return float64(m.pending.Load()) })
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register pipeline metrics: %w", err)
	}
	return m, nil
}

// New builds a pipeline; Start starts it.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Pipeline, error) {
	r = r.Package()
	if deps.Source == nil {
		return nil, errors.New("pipeline: no source")
	}
	l, err := newLoop(r, cfg, deps.Sinks, deps.Stage)
	if err != nil {
		return nil, err
	}
	return &Pipeline{loop: l, lifecycle: newLifecycle(), source: deps.Source}, nil
}

func newLoop(r *reporter.Reporter, cfg Config, sinks []Sink, stage Stage) (loop, error) {
	if err := cfg.Validate(); err != nil {
		return loop{}, err
	}
	if len(sinks) == 0 {
		return loop{}, errors.New("pipeline: no sink")
	}
	m, err := newMetrics(r)
	if err != nil {
		return loop{}, err
	}
	return loop{r: r, cfg: cfg, sinks: sinks, stage: stage, m: m}, nil
}

// Start moves batches until the source is closed, in the background.
func (p *Pipeline) Start(context.Context) error {
	p.start(func(writeCtx context.Context) error {
		return p.run(writeCtx, &queueSource{ch: p.source, stop: writeCtx.Done()}, "shutdown")
	})
	return nil
}

// Stop waits for the pipeline to write what it holds and end, which it
// does once its source is closed (the queue stopped before it). If ctx
// ends first, it gives up on storage: the records held are counted as
// failed and Stop says so.
func (p *Pipeline) Stop(ctx context.Context) error {
	return p.stop(ctx, func() {})
}

// queueSource is the in-process queue as a Source: its batches need no
// acknowledgement, only to go back to their pool once stored, and the
// writer names them for its own retries.
type queueSource struct {
	ch <-chan *record.Batch
	// stop ends the stream when the writes are given up, so that a
	// pipeline whose queue is never closed still ends.
	stop  <-chan struct{}
	timer *time.Timer
}

func (s *queueSource) Next(deadline time.Time) (Batch, error) {
	var due <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return Batch{}, errFlushDue
		}
		if s.timer == nil {
			s.timer = time.NewTimer(d)
		} else {
			s.timer.Reset(d)
		}
		defer s.timer.Stop()
		due = s.timer.C
	}
	select {
	case b, ok := <-s.ch:
		if !ok {
			return Batch{}, io.EOF
		}
		return Batch{Flows: b.Flows, pooled: b}, nil
	case <-due:
		return Batch{}, errFlushDue
	case <-s.stop:
		return Batch{}, io.EOF
	}
}

func (s *queueSource) Token(context.Context, *Batch, *Batch) (string, error) { return "", nil }

func (s *queueSource) Ack(context.Context, *Batch) error { return nil }

func (s *queueSource) Release(batches []Batch) {
	for i := range batches {
		if b := batches[i].pooled; b != nil {
			b.Release()
		}
	}
}
