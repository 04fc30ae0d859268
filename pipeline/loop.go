package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Sink stores or forwards gathered batches. Write returns once every
// batch of the list is safely stored (the writer retries on its own), or
// fails when ctx ends. dedupToken names the list: writing it again under
// the same token must store nothing twice; an empty token leaves the sink
// to make one up. The slices are only valid during the call.
type Sink interface {
	WriteBatches(ctx context.Context, batches [][]record.Flow, dedupToken string) error
}

// Stage changes records in place before they are gathered for the sinks
// (enrichment). Process returns how many records it kept, moved to the
// front of flows.
type Stage interface {
	Process(flows []record.Flow) int
}

// Batch is one run of records a Source yields, and where it comes from.
type Batch struct {
	Flows []record.Flow
	// Offset places the batch in its stream (Kafka: the message's offset).
	Offset int64
	// Replay marks a batch that belongs to a gathered batch being rebuilt
	// exactly as it was stored before (Kafka, after a crash or a failed
	// commit), so that it carries the same deduplication token: the loop
	// gathers it neither by size nor by time, flushes at the batch marked
	// ReplayEnd, and stores nothing of it when the stream ends before.
	Replay, ReplayEnd bool
	// Producer and Seq identify the batch's message when its producer gave
	// it an identity (a collector's spool instance ID and the entry's
	// sequence number); Producer is "" otherwise.
	Producer string
	Seq      uint64

	pooled *record.Batch // the queue's batch, released once acknowledged
}

// Source is one ordered stream of batches: the in-process queue of `sluice
// run`, or one Kafka partition claimed by `sluice pipeline`. The loop
// calls it from one goroutine.
//
// Acknowledgements are by position, as Kafka's offsets are: acknowledging a
// batch acknowledges every batch of the stream before it.
type Source interface {
	// Next returns the stream's next batch. It returns errFlushDue once
	// deadline passes (a zero deadline never does) and io.EOF when the
	// stream ends (shutdown, or the partition is handed over).
	Next(deadline time.Time) (Batch, error)
	// Token records the gathered batches where a restart finds them
	// (Kafka: the intent) and returns their deduplication token: the same
	// for the same batches, whenever they are gathered again. It is called
	// only for batches holding records; when it fails (ctx ended), they are
	// not stored.
	Token(ctx context.Context, batches []Batch) (string, error)
	// Ack tells the source that every sink has the batches up to last.
	// When it fails the loop stores nothing more from the stream.
	Ack(ctx context.Context, last *Batch) error
	// Release gives back the batches' memory, once no sink holds it.
	Release(batches []Batch)
}

// errFlushDue is what Source.Next returns at its deadline.
var errFlushDue = errors.New("flush due")

// notStoredError says that gathered batches could not be stored and were
// not acknowledged.
type notStoredError struct {
	first, last int64
	records     int
	err         error
}

func (e *notStoredError) Error() string {
	return fmt.Sprintf("pipeline: write %d records: %v", e.records, e.err)
}

func (e *notStoredError) Unwrap() error { return e.err }

// ackError says that stored batches could not be acknowledged.
type ackError struct{ err error }

func (e *ackError) Error() string { return fmt.Sprintf("pipeline: acknowledge: %v", e.err) }
func (e *ackError) Unwrap() error { return e.err }

// loop is the one batch loop of both deployments: it takes a source's
// batches, runs the stage on each, gathers them, hands each gathering to
// every sink and acknowledges it only when every sink has it.
type loop struct {
	r     *reporter.Reporter
	cfg   Config
	sinks []Sink
	stage Stage
	m     *metrics
}

// gathering is what one stream holds: the batches taken and not yet
// acknowledged, in order, and their records as the sinks see them.
type gathering struct {
	batches []Batch
	flows   [][]record.Flow
	rows    int // records the sinks get
	held    int // records the batches hold, kept or dropped by the stage
	since   time.Time
}

// heldRowsFactor bounds the records a gathering holds, kept or not, at this
// many times BatchRows.
const heldRowsFactor = 4

func (g *gathering) replay() bool { return len(g.batches) > 0 && g.batches[0].Replay }

// run moves the source's batches to the sinks until the source ends, then
// stores what it holds under endTrigger ("shutdown", "handover") and
// returns. ctx bounds the sinks' writes: when it ends, the batches held are
// not stored, nor acknowledged, and run returns a *notStoredError. After a
// failed acknowledgement, run returns an *ackError and stores nothing more.
func (l *loop) run(ctx context.Context, src Source, endTrigger string) error {
	g := &gathering{
		batches: make([]Batch, 0, 64),
		flows:   make([][]record.Flow, 0, 64),
	}
	for {
		var deadline time.Time
		if len(g.batches) > 0 && !g.replay() {
			deadline = g.since.Add(l.cfg.FlushInterval)
		}
		b, err := src.Next(deadline)
		switch {
		case errors.Is(err, io.EOF):
			if g.replay() && !g.batches[len(g.batches)-1].ReplayEnd {
				// An incomplete rebuild: the stream's next reader rebuilds it.
				l.m.pending.Add(-int64(g.rows))
				l.release(src, g)
				return nil
			}
			return l.flush(ctx, src, g, endTrigger)
		case errors.Is(err, errFlushDue):
			if g.replay() {
				// A rebuilt gathering is stored whole under its recorded
				// token, never cut by time: a part under a new range
				// would be stored twice.
				continue
			}
			if err := l.flush(ctx, src, g, "time"); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		l.m.received.Add(float64(len(b.Flows)))
		g.held += len(b.Flows) // memory stays held whatever the stage keeps
		if l.stage != nil {
			b.Flows = b.Flows[:l.stage.Process(b.Flows)]
		}
		if len(g.batches) == 0 {
			g.since = time.Now()
		}
		g.batches = append(g.batches, b)
		if len(b.Flows) > 0 {
			g.flows = append(g.flows, b.Flows)
		}
		g.rows += len(b.Flows)
		l.m.pending.Add(int64(len(b.Flows)))
		switch {
		case g.replay():
			if b.ReplayEnd {
				if err := l.flush(ctx, src, g, "replay"); err != nil {
					return err
				}
			}
		case g.rows >= l.cfg.BatchRows || g.held >= heldRowsFactor*l.cfg.BatchRows:
			// The second bound: records the stage dropped stay in their
			// batches until those are released, so heavy dropping must
			// not let the memory held grow with the flush interval.
			if err := l.flush(ctx, src, g, "size"); err != nil {
				return err
			}
		}
	}
}

// flush hands the gathered batches to every sink under their token, then
// acknowledges them and releases them. Batches without records are only
// acknowledged.
func (l *loop) flush(ctx context.Context, src Source, g *gathering, trigger string) error {
	if len(g.batches) == 0 {
		return nil
	}
	start := time.Now()
	first, last := &g.batches[0], &g.batches[len(g.batches)-1]
	n := g.rows
	if n > 0 {
		err := l.store(ctx, src, g)
		if err != nil {
			l.m.failed.Add(float64(n))
			l.m.pending.Add(-int64(n))
			err = &notStoredError{first: first.Offset, last: last.Offset, records: n, err: err}
			l.release(src, g)
			return err
		}
		l.m.written.Add(float64(n))
		l.m.pending.Add(-int64(n))
	}
	if err := src.Ack(ctx, last); err != nil {
		l.release(src, g)
		return &ackError{err: err}
	}
	if n > 0 {
		l.m.flushes.WithLabelValues(trigger).Observe(time.Since(start).Seconds())
	}
	l.release(src, g)
	return nil
}

func (l *loop) store(ctx context.Context, src Source, g *gathering) error {
	token, err := src.Token(ctx, g.batches)
	if err != nil {
		return err
	}
	for _, s := range l.sinks {
		if err := s.WriteBatches(ctx, g.flows, token); err != nil {
			return err
		}
	}
	return nil
}

func (l *loop) release(src Source, g *gathering) {
	src.Release(g.batches)
	clear(g.batches)
	clear(g.flows)
	g.batches, g.flows, g.rows, g.held = g.batches[:0], g.flows[:0], 0, 0
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
