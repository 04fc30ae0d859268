package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/pipeline/spool"
	"sluice/reporter"
)

// Forwarder is the collector's Output in the split deployment (`sluice
// collect`). Put encodes a batch into one message per exporter and appends
// the messages to the on-disk spool; Run delivers the spool to Kafka in
// order and deletes what Kafka acknowledged. While Kafka is unreachable the
// spool grows, up to its bound and policy; when Kafka returns, the spool
// drains, oldest first. The collector is never held up by Kafka.
type Forwarder struct {
	r        *reporter.Reporter
	producer *Producer
	spool    *spool.Spool
	limiter  *reporter.Limiter
	maxValue int

	inFlight atomic.Int64
	healthy  atomic.Bool // the last delivery succeeded
	mu       sync.Mutex
	retry    []*delivery // failed deliveries, sent again first

	encodedRecords prometheus.Counter
	droppedRecords prometheus.Counter
	retries        prometheus.Counter
}

// delivery is one spool entry on its way to Kafka, with the buffer that
// holds its key and value.
type delivery struct {
	entry spool.Entry
	buf   []byte
}

var deliveryPool = sync.Pool{New: func() any { return new(delivery) }}

// NewForwarder builds the forwarder; Run starts delivering.
func NewForwarder(r *reporter.Reporter, p *Producer, s *spool.Spool) (*Forwarder, error) {
	f := &Forwarder{
		r: r, producer: p, spool: s,
		limiter:  reporter.NewLimiter(5, 10*time.Second),
		maxValue: p.cfg.Producer.MaxMessageBytes - (recordpb.MaxFlowSize() + 4),
		encodedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forwarder_records_total", Help: "Flow records encoded and spooled for Kafka.",
		}),
		droppedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forwarder_dropped_records_total", Help: "Flow records dropped because the spool could not be written (disk errors; a full spool counts in spool_dropped_records_total).",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "forwarder_retries_total", Help: "Messages sent to Kafka again after a failed delivery.",
		}),
	}
	healthy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "forwarder_kafka_up", Help: "1 when the last delivery to Kafka succeeded, 0 while deliveries fail.",
	}, func() float64 {
		if f.healthy.Load() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{f.encodedRecords, f.droppedRecords, f.retries, healthy} {
		if err := r.Registerer().Register(c); err != nil {
			return nil, fmt.Errorf("registering forwarder metrics: %w", err)
		}
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

// Run delivers the spool to Kafka until ctx ends. It first creates the topic
// when configured to, retrying while Kafka is unreachable.
func (f *Forwarder) Run(ctx context.Context) error {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := f.producer.Start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		f.limiter.Log(f.r.Logger, "topic", "Kafka not ready; spooling", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
	backoff := 100 * time.Millisecond
	for {
		if retry := f.takeRetries(); len(retry) > 0 {
			if f.healthy.Load() {
				backoff = 100 * time.Millisecond
			}
			if !sleep(ctx, backoff) {
				f.putBack(retry)
				return nil
			}
			backoff = min(2*backoff, 5*time.Second)
			for i, d := range retry {
				f.retries.Inc()
				if err := f.send(ctx, d); err != nil && ctx.Err() != nil {
					f.putBack(retry[i+1:])
					return nil
				}
			}
			continue
		}
		d := deliveryPool.Get().(*delivery)
		e, err := f.spool.Next(ctx, d.buf)
		if err != nil {
			deliveryPool.Put(d)
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return nil
			}
			f.limiter.Log(f.r.Logger, "spool-read", "cannot read the spool", "error", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		d.entry, d.buf = e, e.Buf
		if err := f.send(ctx, d); err != nil && ctx.Err() != nil {
			return nil
		}
	}
}

func (f *Forwarder) send(ctx context.Context, d *delivery) error {
	f.inFlight.Add(1)
	return f.producer.SendEncoded(ctx, d.entry.Key, d.entry.Value, d.entry.Records, d.entry.ID, func(err error) {
		f.inFlight.Add(-1)
		if err != nil {
			f.healthy.Store(false)
			f.limiter.Log(f.r.Logger, "deliver", "Kafka did not take a spooled message; it stays spooled and is sent again", "error", err)
			f.putBack([]*delivery{d})
			return
		}
		f.healthy.Store(true)
		f.spool.Ack(d.entry.Pos)
		d.entry = spool.Entry{}
		deliveryPool.Put(d)
	})
}

func (f *Forwarder) putBack(ds []*delivery) {
	if len(ds) == 0 {
		return
	}
	f.mu.Lock()
	f.retry = append(f.retry, ds...)
	f.mu.Unlock()
}

// takeRetries returns the failed deliveries in spool order.
func (f *Forwarder) takeRetries() []*delivery {
	f.mu.Lock()
	retry := f.retry
	f.retry = nil
	f.mu.Unlock()
	slices.SortFunc(retry, func(a, b *delivery) int {
		if c := cmp.Compare(a.entry.Pos.Segment, b.entry.Pos.Segment); c != 0 {
			return c
		}
		return cmp.Compare(a.entry.Pos.Index, b.entry.Pos.Index)
	})
	return retry
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
