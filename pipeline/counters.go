package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// CounterSink stores sFlow interface counter samples. A write retried under
// the same token must store the rows once.
type CounterSink interface {
	WriteCounters(ctx context.Context, rows []record.Counter, token string) error
}

// Counters carries the collector's counter samples to a CounterSink: the
// storage in `sluice run` and `sluice pipeline`, Kafka in `sluice collect`.
// They are few (one sample per interface every ~20 s), so this path favours
// simplicity: a bounded queue, a batch per flush interval, each batch
// retried under its own token until the sink takes it.
type Counters struct {
	r        *reporter.Reporter
	sink     CounterSink
	in       chan record.Counter
	interval time.Duration
	limiter  *reporter.Limiter
	run      string // names this process's batches in their tokens
	seq      uint64

	received, written, dropped, retries prometheus.Counter

	cancelWrite context.CancelFunc
	done        chan error
}

// CountersConfig is the counter path's configuration.
type CountersConfig struct {
	// FlushInterval is the longest a sample waits before being written.
	FlushInterval time.Duration
}

// CountersDependencies is what the counter path is handed.
type CountersDependencies struct {
	// Sink takes the samples: the storage, or Kafka.
	Sink CounterSink
}

// counterQueue bounds the samples waiting for the sink: a few minutes of
// 10,000 interfaces.
const counterQueue = 65536

// NewCounters builds the counter path; Start starts it.
func NewCounters(r *reporter.Reporter, cfg CountersConfig, deps CountersDependencies) (*Counters, error) {
	r = r.Package()
	sink, flushInterval := deps.Sink, cfg.FlushInterval
	if sink == nil {
		return nil, errors.New("counters: no sink")
	}
	if flushInterval <= 0 {
		return nil, errors.New("counters: flush interval must be positive")
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	c := &Counters{
		r: r, sink: sink, in: make(chan record.Counter, counterQueue), interval: flushInterval,
		limiter: r.NewLimiter(5, 10*time.Second), run: hex.EncodeToString(id),
	}
	m := r.Metrics()
	c.received = m.Counter("counters_received_total", "sFlow interface counter samples taken from the collector.")
	c.written = m.Counter("counters_written_total", "sFlow interface counter samples the sink (storage or Kafka) took.")
	c.dropped = m.Counter("counters_dropped_total", "sFlow interface counter samples dropped: the queue to the sink was full, or the stop deadline passed.")
	c.retries = m.Counter("counters_write_retries_total", "Failed writes of a batch of counter samples, retried with the same deduplication token.")
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("register counter metrics: %w", err)
	}
	return c, nil
}

// PutCounter queues a sample without blocking the collector; a full queue
// drops it (counted).
func (c *Counters) PutCounter(x *record.Counter) {
	select {
	case c.in <- *x:
		c.received.Inc()
	default:
		c.dropped.Inc()
		if ok, suppressed := c.limiter.Allow("full"); ok {
			c.r.Warn("counter sample queue full; sample dropped", "suppressed", suppressed)
		}
	}
}

// Start writes batches in the background until Stop.
func (c *Counters) Start(context.Context) error {
	writeCtx, cancel := context.WithCancel(context.Background())
	c.cancelWrite, c.done = cancel, make(chan error, 1)
	go func() { c.done <- c.writeLoop(writeCtx) }()
	return nil
}

// Stop ends the input, writes what is held and returns. Call it after the
// collector has stopped: no sample may come after. If ctx ends first, what
// is not written is dropped, counted and logged. Stop then still returns
// nil: interface counters are sampled again every interval, and losing the
// last one does not make the stop a failure (records are another matter).
func (c *Counters) Stop(ctx context.Context) error {
	close(c.in)
	defer c.cancelWrite()
	var err error
	select {
	case err = <-c.done:
	case <-ctx.Done():
		c.cancelWrite()
		err = <-c.done
	}
	if err == nil {
		return nil
	}
	held := 0
	for range c.in { // closed above: what the loop never read
		held++
	}
	c.dropped.Add(float64(held))
	c.r.Error("counter samples not stored", "queued", held, "err", err)
	return nil
}

// writeLoop writes batches until the input is closed, then writes the rest.
// ctx bounds the writes: once it ends, what is not written is dropped and
// counted.
func (c *Counters) writeLoop(ctx context.Context) error {
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	var batch []record.Counter
	for {
		select {
		case x, ok := <-c.in:
			if !ok {
				return c.write(ctx, batch)
			}
			batch = append(batch, x)
			if len(batch) < 10_000 {
				continue
			}
		case <-tick.C:
		}
		if err := c.write(ctx, batch); err != nil {
			return err
		}
		batch = batch[:0]
	}
}

// write hands one batch to the sink, retrying with back-off under the same
// token until it is taken or ctx ends.
func (c *Counters) write(ctx context.Context, rows []record.Counter) error {
	if len(rows) == 0 {
		return nil
	}
	c.seq++
	token := fmt.Sprintf("counters/%s/%d", c.run, c.seq)
	backoff := 100 * time.Millisecond
	for {
		err := c.sink.WriteCounters(ctx, rows, token)
		if err == nil {
			c.written.Add(float64(len(rows)))
			return nil
		}
		c.retries.Inc()
		if ok, suppressed := c.limiter.Allow("write"); ok {
			c.r.Warn("cannot write counter samples; retrying", "rows", len(rows), "err", err, "suppressed", suppressed)
		}
		select {
		case <-ctx.Done():
			c.dropped.Add(float64(len(rows)))
			return fmt.Errorf("counters: %d samples not written: %w", len(rows), ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
