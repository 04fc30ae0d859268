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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Sink stores or forwards batches. Write returns once the batch is safely
// stored (the writer retries on its own), or fails when ctx ends.
type Sink interface {
	Write(ctx context.Context, flows []record.Flow, dedupToken string) error
}

// Stage changes records in place before they are batched for the sinks
// (enrichment). Process returns how many records it kept, moved to the
// front of flows.
type Stage interface {
	Process(flows []record.Flow) int
}

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

// Pipeline moves batches from a source channel to the sinks.
type Pipeline struct {
	r       *reporter.Reporter
	cfg     Config
	source  <-chan *record.Batch
	sinks   []Sink
	stage   Stage
	pending []record.Flow
	since   time.Time
	m       *metrics
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
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "records_received_total", Help: "Records taken from the source.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "records_written_total", Help: "Records every sink acknowledged.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "records_failed_total", Help: "Records a sink could not take before shutdown (or, from Kafka, a partition's hand-over) gave up on them.",
		}),
		flushes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flush_seconds", Help: "Time to hand one gathered batch to every sink, by trigger.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"trigger"}),
	}
	pendingGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "records_pending", Help: "Records gathered and not yet written.",
	}, func() float64 { return float64(m.pending.Load()) })
	for _, c := range []prometheus.Collector{m.received, m.written, m.failed, m.flushes, pendingGauge} {
		if err := r.Registerer().Register(c); err != nil {
			return nil, fmt.Errorf("register pipeline metrics: %w", err)
		}
	}
	return m, nil
}

// New builds a pipeline; Run starts it.
func New(r *reporter.Reporter, cfg Config, source <-chan *record.Batch, sinks ...Sink) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(sinks) == 0 {
		return nil, errors.New("pipeline: no sink")
	}
	m, err := newMetrics(r)
	if err != nil {
		return nil, err
	}
	return &Pipeline{
		r: r, cfg: cfg, source: source, sinks: sinks, m: m,
		pending: make([]record.Flow, 0, cfg.BatchRows),
	}, nil
}

// WithStage has every record go through stage before the sinks.
func (p *Pipeline) WithStage(stage Stage) *Pipeline {
	p.stage = stage
	return p
}

// Run moves batches until the source is closed, then writes what it holds
// and returns. ctx bounds the writes: cancel it only to give up on storage.
func (p *Pipeline) Run(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.FlushInterval / 4)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-p.source:
			if !ok {
				return p.flush(ctx, "shutdown")
			}
			p.m.received.Add(float64(b.Len()))
			if len(p.pending) == 0 {
				p.since = time.Now()
			}
			start := len(p.pending)
			p.pending = append(p.pending, b.Flows...)
			b.Release()
			if p.stage != nil {
				p.pending = p.pending[:start+p.stage.Process(p.pending[start:])]
			}
			p.m.pending.Store(int64(len(p.pending)))
			if len(p.pending) >= p.cfg.BatchRows {
				if err := p.flush(ctx, "size"); err != nil {
					return err
				}
			}
		case now := <-tick.C:
			if len(p.pending) > 0 && now.Sub(p.since) >= p.cfg.FlushInterval {
				if err := p.flush(ctx, "time"); err != nil {
					return err
				}
			}
		}
	}
}

func (p *Pipeline) flush(ctx context.Context, trigger string) error {
	if len(p.pending) == 0 {
		return nil
	}
	start := time.Now()
	for _, s := range p.sinks {
		if err := s.Write(ctx, p.pending, ""); err != nil {
			p.m.failed.Add(float64(len(p.pending)))
			return fmt.Errorf("pipeline: write %d records: %w", len(p.pending), err)
		}
	}
	p.m.written.Add(float64(len(p.pending)))
	p.m.flushes.WithLabelValues(trigger).Observe(time.Since(start).Seconds())
	p.pending = p.pending[:0]
	p.m.pending.Store(0)
	return nil
}
