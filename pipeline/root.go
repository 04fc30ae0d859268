// Package pipeline carries record batches from a source (the in-process
// queue of `sluice run`; a Kafka consumer in the split deployment) to the
// sinks, the storage writer first. It gathers the collector's small batches
// into inserts of a useful size: ClickHouse prefers a few large inserts to
// many small ones.
package pipeline

import (
	"context"
	"errors"
	"io"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

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

func (s *queueSource) Token(context.Context, []Batch) (string, error) { return "", nil }

func (s *queueSource) Ack(context.Context, *Batch) error { return nil }

func (s *queueSource) Release(batches []Batch) {
	for i := range batches {
		if b := batches[i].pooled; b != nil {
			b.Release()
		}
	}
}
