package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/atomicfile"
	"sluice/internal/reporter"
	"sluice/pipeline/kafka"
	"sluice/pipeline/record"
)

// FromKafka is the pipeline of the split deployment (`sluice pipeline`): it
// consumes the topic as a member of the consumer group and writes each
// partition's records to the sinks in batches, one partition at a time per
// batch, committing a batch's offsets only once every sink has it.
//
// A batch's deduplication token is "<topic>/<partition>/<first>-<last>", its
// offset range. Before a batch is written, its range is recorded in the
// data directory (the intent); when a partition is consumed again from a
// batch's first offset (after a crash, or a commit that failed), the batch is
// rebuilt with exactly the same range, so that its insert carries the same
// token and the store keeps it once.
type FromKafka struct {
	r       *reporter.Reporter
	cfg     Config
	group   *kafka.Group
	sinks   []Sink
	stage   Stage
	intents intentLog
	grace   time.Duration
	m       *metrics
	limiter *reporter.Limiter
	// intentErrors counts failed attempts to record a batch's intent.
	intentErrors prometheus.Counter

	stopping atomic.Bool
}

// NewFromKafka builds the Kafka-fed pipeline. intentDir holds the batches'
// intents; grace bounds how long a partition being handed over (a
// rebalance) waits for its last batch to be stored (half the group's
// rebalance timeout is safe).
func NewFromKafka(r *reporter.Reporter, cfg Config, group *kafka.Group, intentDir string, grace time.Duration, sinks ...Sink) (*FromKafka, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(sinks) == 0 {
		return nil, errors.New("pipeline: no sink")
	}
	if err := os.MkdirAll(intentDir, 0o750); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	m, err := newMetrics(r)
	if err != nil {
		return nil, err
	}
	intentErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "intent_errors_total", Help: "Failed attempts to record a batch's offset range before storing it; the batch waits, uncommitted, until one succeeds.",
	})
	if err := r.Registerer().Register(intentErrors); err != nil {
		return nil, fmt.Errorf("register pipeline metrics: %w", err)
	}
	return &FromKafka{
		r: r, cfg: cfg, group: group, sinks: sinks, intents: intentLog{dir: intentDir},
		grace: grace, m: m, limiter: r.NewLimiter(5, 10*time.Second),
		intentErrors: intentErrors,
	}, nil
}

// WithStage has every record go through stage before the sinks.
func (p *FromKafka) WithStage(stage Stage) *FromKafka {
	p.stage = stage
	return p
}

// Run consumes until ctx ends, then stores and commits what each partition
// holds and leaves the group. writeCtx bounds the writes: cancel it to give
// up on storage (what is not stored is not committed, so nothing is lost).
func (p *FromKafka) Run(ctx, writeCtx context.Context) error {
	stop := context.AfterFunc(ctx, func() { p.stopping.Store(true) })
	defer stop()
	return p.group.Run(ctx, func(c *kafka.Claim) { p.consume(writeCtx, c) })
}

// partitionBatch is what one partition holds.
type partitionBatch struct {
	flows       []record.Flow
	first, last int64 // offsets; first < 0 when empty
	since       time.Time
	replayEnd   int64 // when rebuilding a recorded batch: its last offset; else -1
}

func (p *FromKafka) consume(base context.Context, c *kafka.Claim) {
	// Writes end with base, or a grace period after the partition is
	// taken away (not at shutdown, where base's deadline rules).
	writeCtx, cancelWrites := context.WithCancel(base)
	defer cancelWrites()
	stopGrace := context.AfterFunc(c.Context(), func() {
		if !p.stopping.Load() {
			time.AfterFunc(p.grace, cancelWrites)
		}
	})
	defer stopGrace()

	intent, haveIntent := p.intents.load(c.Topic, c.Partition)
	b := &partitionBatch{flows: make([]record.Flow, 0, min(p.cfg.BatchRows, 8192)), first: -1, replayEnd: -1}
	for {
		fetchCtx, cancelFetch := c.Context(), context.CancelFunc(func() {})
		if b.first >= 0 && b.replayEnd < 0 {
			fetchCtx, cancelFetch = context.WithDeadline(c.Context(), b.since.Add(p.cfg.FlushInterval))
		}
		msg, err := c.Fetch(fetchCtx, b.flows)
		cancelFetch()
		if err != nil {
			switch {
			case c.Context().Err() != nil:
				p.handOver(writeCtx, c, b)
				return
			case errors.Is(err, context.DeadlineExceeded):
				if !p.flush(writeCtx, c, b, "time") {
					return
				}
			default:
				p.limiter.Log(p.r.Logger, "fetch", "fetch failed; retrying", "topic", c.Topic, "partition", c.Partition, "error", err)
				if !sleep(c.Context(), time.Second) {
					p.handOver(writeCtx, c, b)
					return
				}
			}
			continue
		}
		p.m.received.Add(float64(len(msg.Flows) - len(b.flows)))
		if p.stage != nil {
			// Only the message's records: the batch's offsets, and so its
			// deduplication token, do not depend on what a rule drops.
			kept := p.stage.Process(msg.Flows[len(b.flows):])
			msg.Flows = msg.Flows[:len(b.flows)+kept]
		}
		p.m.pending.Add(int64(len(msg.Flows) - len(b.flows)))
		b.flows = msg.Flows
		if b.first < 0 {
			b.first, b.since = msg.Offset, time.Now()
			if haveIntent && intent.first == msg.Offset {
				b.replayEnd = intent.last
				p.r.Info("rebuilding a batch written before but not committed", "topic", c.Topic,
					"partition", c.Partition, "first", intent.first, "last", intent.last)
			}
			haveIntent = false
		}
		b.last = msg.Offset
		switch {
		case c.Context().Err() != nil:
			// kafka-go may hand out a message it already held after the
			// claim's context ended: it is the last one taken.
			p.handOver(writeCtx, c, b)
			return
		case b.replayEnd >= 0:
			if b.last >= b.replayEnd && !p.flush(writeCtx, c, b, "replay") {
				return
			}
		case len(b.flows) >= p.cfg.BatchRows:
			if !p.flush(writeCtx, c, b, "size") {
				return
			}
		}
	}
}

// handOver ends a claim whose partition is handed over or whose worker
// stops: it stores and commits what is held, unless that is a batch being
// rebuilt and not complete (its next owner rebuilds it).
func (p *FromKafka) handOver(ctx context.Context, c *kafka.Claim, b *partitionBatch) {
	if b.first >= 0 && (b.replayEnd < 0 || b.last >= b.replayEnd) {
		p.flush(ctx, c, b, "handover")
		return
	}
	p.m.pending.Add(-int64(len(b.flows)))
}

// flush writes the batch to every sink under its token, then commits past
// it. It reports false when the batch could not be stored (writeCtx ended),
// or was stored but not committed because the partition changed hands: the
// partition's handler then stops. It must not store another batch, as the
// intent names only the last one: the next owner starts at the last
// committed offset and can rebuild only that batch with the same token.
//
// The batch's intent is recorded first, and nothing is stored without it: a
// batch stored without one could not be rebuilt with the same range after a
// crash, and would be stored twice. While the intent cannot be written the
// batch waits, retried with back-off until writeCtx ends, as a store that
// fails.
func (p *FromKafka) flush(ctx context.Context, c *kafka.Claim, b *partitionBatch, trigger string) bool {
	if b.first < 0 {
		return true
	}
	start := time.Now()
	n := len(b.flows)
	if n > 0 {
		notStored := func(err error) bool {
			p.m.failed.Add(float64(n))
			p.m.pending.Add(-int64(n))
			p.r.Warn("batch not stored; left uncommitted for the partition's next owner",
				"topic", c.Topic, "partition", c.Partition, "first", b.first, "last", b.last, "records", n, "error", err)
			return false
		}
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			err := p.intents.save(c.Topic, c.Partition, b.first, b.last)
			if err == nil {
				break
			}
			p.intentErrors.Inc()
			p.limiter.Log(p.r.Logger, "intent", "cannot record the batch's range; not storing it until it is recorded",
				"topic", c.Topic, "partition", c.Partition, "error", err, "retry_in", wait)
			if !sleep(ctx, wait) {
				return notStored(fmt.Errorf("recording the batch's intent: %w", err))
			}
		}
		token := fmt.Sprintf("%s/%d/%d-%d", c.Topic, c.Partition, b.first, b.last)
		for _, s := range p.sinks {
			if err := s.Write(ctx, b.flows, token); err != nil {
				return notStored(err)
			}
		}
		p.m.written.Add(float64(n))
		p.m.pending.Add(-int64(n))
	}
	// Commit, retrying while the partition is held: the next batch must
	// not start before this one is committed, so that at most one batch per
	// partition is stored and not committed (the one the intent names).
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := c.Commit(b.last + 1)
		if err == nil {
			break
		}
		if c.Context().Err() == nil {
			p.limiter.Log(p.r.Logger, "commit", "commit failed; retrying", "topic", c.Topic, "partition", c.Partition, "error", err)
			if sleep(c.Context(), wait) {
				continue
			}
		}
		p.limiter.Log(p.r.Logger, "commit", "commit failed while the partition was handed over; the next owner replays the batch",
			"topic", c.Topic, "partition", c.Partition, "first", b.first, "last", b.last, "error", err)
		b.reset()
		return false
	}
	if n > 0 {
		p.m.flushes.WithLabelValues(trigger).Observe(time.Since(start).Seconds())
	}
	b.reset()
	return true
}

func (b *partitionBatch) reset() {
	clear(b.flows)
	b.flows = b.flows[:0]
	b.first, b.last, b.replayEnd = -1, -1, -1
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// intentLog keeps, per partition, the offset range of the last batch
// written, in one small file each.
type intentLog struct{ dir string }

type intent struct{ first, last int64 }

func (l intentLog) path(topic string, partition int) string {
	return filepath.Join(l.dir, fmt.Sprintf("%s.%d.intent", topic, partition))
}

func (l intentLog) load(topic string, partition int) (intent, bool) {
	b, err := os.ReadFile(l.path(topic, partition))
	if err != nil {
		return intent{}, false
	}
	var in intent
	if _, err := fmt.Sscanf(string(b), "%d %d", &in.first, &in.last); err != nil || in.first < 0 || in.last < in.first {
		return intent{}, false
	}
	return in, true
}

func (l intentLog) save(topic string, partition int, first, last int64) error {
	return atomicfile.WriteFile(l.path(topic, partition), fmt.Appendf(nil, "%d %d\n", first, last), 0o640)
}
