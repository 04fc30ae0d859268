package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/pipeline/spool"
)

// Forwarder is the collector's Output in the split deployment (`sluice
// collect`). Put encodes a batch into one message per exporter and appends
// the messages to the on-disk spool; Start launches the delivery of the
// spool to Kafka in
// order and deletes what Kafka acknowledged. While Kafka is unreachable the
// spool grows, up to its bound and policy; when Kafka returns, the spool
// drains, oldest first. The collector is never held up by Kafka.
//
// Order: the spool is read in order and acknowledged in order (an entry is
// acknowledged once it and every entry before it were delivered). Up to
// max-in-flight-messages entries are out of the spool at a time, in memory.
// When a delivery fails, no new entry is read: the undelivered entries are
// sent again one at a time, oldest first (with back-off while they keep
// failing), until Kafka took them all; only then does reading resume. So during an outage one message is
// retried and the rest wait on disk; and no entry is sent ahead of an older
// one that failed, except those already handed to Kafka alongside it (at
// most max-in-flight-messages, as with any Kafka producer that has several
// requests in flight and no idempotence).
type Forwarder struct {
	r           *reporter.Reporter
	cfg         ForwarderConfig
	producer    sender
	spool       *spool.Spool
	limiter     *reporter.Limiter
	maxValue    int
	maxInFlight int
	// A failed message is sent again after minBackoff, doubled at each
	// failure up to maxBackoff.
	minBackoff, maxBackoff time.Duration

	healthy atomic.Bool // the last delivery succeeded
	failing atomic.Bool // the last delivery failed
	probe   *brokerProbe

	mu sync.Mutex
	// window holds the entries read from the spool and not yet
	// acknowledged, in spool order; at most maxInFlight.
	window  []*delivery
	sending int // deliveries of window handed to the producer, not completed
	failed  int // deliveries of window to send (again)
	// changed is closed, and replaced, when a delivery completes.
	changed chan struct{}
	// interrupt, when set, cancels run's wait for a new spool entry.
	interrupt context.CancelFunc

	// stopRun ends the delivery goroutine, which closes runDone.
	stopRun context.CancelFunc
	runDone chan struct{}

	encodedRecords prometheus.Counter
	droppedRecords prometheus.Counter
	retries        prometheus.Counter
}

// sender is what the forwarder needs of the Producer.
type sender interface {
	EnsureTopic(ctx context.Context) error
	SendEncoded(ctx context.Context, key, value []byte, records int, id Identity, done func(error)) error
}

// delivery is one spool entry on its way to Kafka, with the buffer that
// holds its key and value.
type delivery struct {
	entry spool.Entry
	buf   []byte
	state deliveryState
}

type deliveryState int

const (
	toSend deliveryState = iota // read, never sent or failed
	sending
	delivered
)

var deliveryPool = sync.Pool{New: func() any { return new(delivery) }}

// ForwarderConfig tunes the forwarder's stop.
type ForwarderConfig struct {
	// DrainStall is how long Stop waits for Kafka to take a spooled
	// message before it leaves the rest spooled for the next start; 0
	// means the default.
	DrainStall time.Duration
}

// DefaultForwarderConfig waits up to 10s for progress while draining.
func DefaultForwarderConfig() ForwarderConfig {
	return ForwarderConfig{DrainStall: 10 * time.Second}
}

// ForwarderDependencies is what a Forwarder is handed. It does not own
// them: they are components of their own, started before the forwarder
// and stopped after it.
type ForwarderDependencies struct {
	Producer *Producer
	Spool    *spool.Spool
}

// NewForwarder builds the forwarder; Start starts delivering.
func NewForwarder(r *reporter.Reporter, cfg ForwarderConfig, deps ForwarderDependencies) (*Forwarder, error) {
	r = r.Package()
	if cfg.DrainStall == 0 {
		cfg.DrainStall = DefaultForwarderConfig().DrainStall
	}
	switch {
	case cfg.DrainStall < 0:
		return nil, fmt.Errorf("forwarder: drain stall must not be negative, got %s", cfg.DrainStall)
	case deps.Producer == nil || deps.Spool == nil:
		return nil, errors.New("forwarder: needs a producer and a spool")
	}
	p, s := deps.Producer, deps.Spool
	m := r.Metrics()
	f := &Forwarder{
		r: r, cfg: cfg, producer: p, spool: s,
		limiter:        r.NewLimiter(5, 10*time.Second),
		maxValue:       p.cfg.Producer.MaxMessageBytes - (recordpb.MaxFlowSize() + 4),
		maxInFlight:    p.cfg.Producer.MaxInFlightMessages,
		minBackoff:     100 * time.Millisecond,
		maxBackoff:     5 * time.Second,
		changed:        make(chan struct{}),
		probe:          newBrokerProbe(p.cfg),
		encodedRecords: m.Counter("forwarder_records_total", "Flow records encoded and spooled for Kafka."),
		droppedRecords: m.Counter("forwarder_dropped_records_total", "Flow records dropped because the spool could not be written (disk errors; a full spool counts in spool_dropped_records_total)."),
		retries:        m.Counter("forwarder_retries_total", "Messages sent to Kafka again after a failed delivery."),
	}
	m.GaugeFunc("forwarder_kafka_up", "1 while the brokers answer the health check (kafka.health-check-interval) and the last delivery to Kafka did not fail; 0 otherwise.", func() float64 {
		if f.probe.up() && !f.failing.Load() {
			return 1
		}
		return 0
	})
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("registering forwarder metrics: %w", err)
	}
	return f, nil
}

// encoding is Put's scratch space, pooled.
type encoding struct {
	index    map[record.Addr]int
	messages []encodedMessage
}

type encodedMessage struct {
	exporter record.Addr
	value    []byte
	records  int
}

var encodingPool = sync.Pool{New: func() any { return &encoding{index: map[record.Addr]int{}} }}

// Put spools a collector batch and releases it. It never blocks on Kafka;
// records the spool cannot take are dropped and counted.
func (f *Forwarder) Put(_ context.Context, b *record.Batch) error {
	e := encodingPool.Get().(*encoding)
	defer func() {
		clear(e.index)
		for i := range e.messages {
			e.messages[i].value = e.messages[i].value[:0]
			e.messages[i].records = 0
		}
		e.messages = e.messages[:0]
		encodingPool.Put(e)
	}()
	for i := range b.Flows {
		fl := &b.Flows[i]
		j, ok := e.index[fl.ExporterAddress]
		if !ok {
			j = len(e.messages)
			if j < cap(e.messages) {
				e.messages = e.messages[:j+1]
			} else {
				e.messages = append(e.messages, encodedMessage{})
			}
			e.messages[j].exporter = fl.ExporterAddress
			e.index[fl.ExporterAddress] = j
		}
		m := &e.messages[j]
		m.value = recordpb.AppendBatchFlow(m.value, fl)
		m.records++
		if len(m.value) > f.maxValue {
			f.append(m)
		}
	}
	for i := range e.messages {
		if e.messages[i].records > 0 {
			f.append(&e.messages[i])
		}
	}
	b.Release()
	return nil
}

func (f *Forwarder) append(m *encodedMessage) {
	err := f.spool.Append(m.exporter[:], m.value, m.records)
	switch {
	case err == nil:
		f.encodedRecords.Add(float64(m.records))
	case errors.Is(err, spool.ErrFull):
		f.limiter.Log(f.r.Logger, "spool-full", "spool full, records dropped", "records", m.records)
	default:
		f.droppedRecords.Add(float64(m.records))
		f.limiter.Log(f.r.Logger, "spool-error", "cannot spool records; dropped", "records", m.records, "error", err)
	}
	m.value = m.value[:0]
	m.records = 0
}

// Start launches the delivery of the spool to Kafka, which runs until
// Stop. Delivery first creates the topic when configured to, retrying while
// Kafka is unreachable (the spool takes the records meanwhile).
func (f *Forwarder) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.stopRun, f.runDone = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { f.run(runCtx) })
	wg.Go(func() { f.probe.run(runCtx) })
	go func() {
		wg.Wait()
		close(f.runDone)
	}()
	return nil
}

// Stop gives Kafka what it will take of the spool: it waits while the
// spool keeps draining, until DrainStall passes without progress or ctx
// ends. Then it stops delivering; what Kafka did not take stays spooled
// for the next start, and is logged, not lost. The producer and spool are
// left to their own Stop.
func (f *Forwarder) Stop(ctx context.Context) error {
	last, lastChange := f.Pending(), time.Now()
	// A bounded wait for Kafka's progress, polled: the spool has no
	// channel that says "acknowledged".
	for last > 0 && time.Since(lastChange) < f.cfg.DrainStall && sleep(ctx, 50*time.Millisecond) {
		if n := f.Pending(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	f.stopRun()
	<-f.runDone
	if n := f.Pending(); n > 0 {
		f.r.Warn("Kafka did not take every record before the stop; they stay spooled for the next start", "messages", n)
	}
	return nil
}

// run delivers the spool to Kafka until ctx ends.
func (f *Forwarder) run(ctx context.Context) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := f.producer.EnsureTopic(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		f.limiter.Log(f.r.Logger, "topic", "Kafka not ready; spooling", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return
		}
	}
	backoff := f.minBackoff
	for {
		f.mu.Lock()
		failed, inFlight, held, changed := f.failed, f.sending, len(f.window), f.changed
		f.mu.Unlock()
		switch {
		case failed > 0 && inFlight == 0:
			// Every delivery has completed and some failed: the oldest
			// entry not delivered is the window's head (the delivered
			// ones before it were acknowledged). It alone is sent: at
			// once if the last delivery succeeded, after a back-off
			// otherwise.
			if f.healthy.Load() {
				backoff = f.minBackoff
			} else {
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, f.maxBackoff)
			}
			f.mu.Lock()
			d := f.window[0]
			d.state = sending
			f.failed--
			f.sending++
			f.mu.Unlock()
			f.retries.Inc()
			if err := f.send(ctx, d, d.entry.Pos); err != nil && ctx.Err() != nil {
				return
			}
			continue
		case failed > 0 || held >= f.maxInFlight:
			// Wait for the deliveries under way.
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
			continue
		}
		backoff = f.minBackoff
		if err := f.next(ctx); err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return
			}
			if errors.Is(err, context.Canceled) {
				continue // a delivery failed while waiting
			}
			f.limiter.Log(f.r.Logger, "spool-read", "cannot read the spool", "error", err)
			if !sleep(ctx, time.Second) {
				return
			}
		}
	}
}

// next reads the next spool entry, waiting for one until ctx ends or a
// delivery fails, and sends it, unless a delivery failed meanwhile: then it
// waits its turn.
func (f *Forwarder) next(ctx context.Context) error {
	nextCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	if f.failed > 0 {
		f.mu.Unlock()
		return nil
	}
	f.interrupt = cancel
	f.mu.Unlock()
	d := deliveryPool.Get().(*delivery)
	e, err := f.spool.Next(nextCtx, d.buf)
	f.mu.Lock()
	f.interrupt = nil
	if err != nil {
		f.mu.Unlock()
		deliveryPool.Put(d)
		return err
	}
	d.entry, d.buf = e, e.Buf
	f.window = append(f.window, d)
	if f.failed > 0 {
		d.state = toSend
		f.failed++
		f.mu.Unlock()
		return nil
	}
	d.state = sending
	f.sending++
	acked := f.window[0].entry.Pos
	f.mu.Unlock()
	if err := f.send(ctx, d, acked); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// send hands d to the producer; d is already counted in f.sending. acked
// is the position of the window's head: every spool entry before it was
// acknowledged by Kafka, so their copies precede d in the topic (the
// AckedHeader promise).
func (f *Forwarder) send(ctx context.Context, d *delivery, acked spool.Pos) error {
	id := Identity{Spool: f.spool.Instance(), Entry: d.entry.Pos, AckedAt: acked}
	return f.producer.SendEncoded(ctx, d.entry.Key, d.entry.Value, d.entry.Records, id, func(err error) {
		f.completed(d, err)
	})
}

// completed records a delivery's outcome, and acknowledges the entries at
// the head of the window that are delivered. It runs on the producer's
// goroutine and does not block.
func (f *Forwarder) completed(d *delivery, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sending--
	if err != nil {
		f.healthy.Store(false)
		f.failing.Store(true)
		f.limiter.Log(f.r.Logger, "deliver", "Kafka did not take a spooled message; it stays spooled and is sent again", "error", err)
		d.state = toSend
		f.failed++
		if f.interrupt != nil {
			f.interrupt()
		}
	} else {
		f.healthy.Store(true)
		f.failing.Store(false)
		d.state = delivered
		for len(f.window) > 0 && f.window[0].state == delivered {
			head := f.window[0]
			f.window[0] = nil
			f.window = f.window[1:]
			f.spool.Ack(head.entry.Pos)
			head.entry = spool.Entry{}
			deliveryPool.Put(head)
		}
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// Pending is the number of spooled messages Kafka has not acknowledged yet.
func (f *Forwarder) Pending() int {
	n, _ := f.spool.Pending()
	return n
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
