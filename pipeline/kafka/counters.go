package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// sFlow counter samples travel on their own topic, "<topic>-counters", as
// JSON arrays of record.Counter: one message per batch of the collector's
// counter path, whose token is the message's sluice-message-id. The
// pipeline's counter consumer (its own group, "<group-id>-counters")
// inserts each message under that token and commits it only afterwards, so
// a message written twice by a producer retry, or consumed again after a
// crash, is stored once.

// CountersSuffix names the counter topic and consumer group after the
// flows' ones.
const CountersSuffix = "-counters"

// CountersConfig returns cfg for the counter topic and consumer group.
func CountersConfig(cfg Config) Config {
	cfg.Topic += CountersSuffix
	cfg.Consumer.GroupID += CountersSuffix
	cfg.Consumer.DeadLetterTopic = ""
	return cfg
}

// CounterProducer writes batches of counter samples to the counter topic;
// it is the CounterSink of `sluice collect`.
type CounterProducer struct {
	p          *Producer
	mu         sync.Mutex
	topicReady bool
}

// CounterProducerDependencies is what a CounterProducer is handed: nothing
// yet.
type CounterProducerDependencies struct{}

// NewCounterProducer builds the producer of the counter topic (cfg is the
// flows' configuration); it connects to nothing until the first write.
func NewCounterProducer(r *reporter.Reporter, cfg Config, _ CounterProducerDependencies) (*CounterProducer, error) {
	r = r.Package().Sub("counters")
	p, err := newProducer(r, CountersConfig(cfg))
	if err != nil {
		return nil, err
	}
	return &CounterProducer{p: p}, nil
}

// Start does nothing: the topic is made ready at the first write, so that
// a collector starts while Kafka is down.
func (c *CounterProducer) Start(ctx context.Context) error { return c.p.Start(ctx) }

// WriteCounters sends rows as one message whose ID is token, and returns
// once Kafka has acknowledged it (or failed).
func (c *CounterProducer) WriteCounters(ctx context.Context, rows []record.Counter, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.topicReady {
		if err := c.p.EnsureTopic(ctx); err != nil {
			return err
		}
		c.topicReady = true
	}
	value, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode counter samples: %w", err)
	}
	done := make(chan error, 1)
	if err := c.p.SendEncoded(ctx, nil, value, len(rows), Identity{ID: token}, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop flushes and closes the producer, within ctx.
func (c *CounterProducer) Stop(ctx context.Context) error { return c.p.Stop(ctx) }

// CounterConsumer consumes the counter topic in its own consumer group and
// hands each message's samples to its Store, committing once Store returns
// nil.
type CounterConsumer struct {
	r       *reporter.Reporter
	cfg     Config
	deps    CounterConsumerDependencies
	limiter *reporter.Limiter

	messages, samples, invalid, retries prometheus.Counter

	// stopFetch ends the rejoin loop; cancelWrites gives up on a store or
	// commit in progress, once Stop's ctx is done. done closes when the
	// loop has returned.
	stopFetch, cancelWrites context.CancelFunc
	done                    chan struct{}
}

// CounterConsumerDependencies is what a CounterConsumer is handed.
type CounterConsumerDependencies struct {
	// Store writes a message's samples under token (its message ID, or
	// its offset), idempotently: a message may come again after a crash.
	Store func(ctx context.Context, rows []record.Counter, token string) error
}

// NewCounterConsumer builds the consumer (cfg is the flows'
// configuration); Start joins the group.
func NewCounterConsumer(r *reporter.Reporter, cfg Config, deps CounterConsumerDependencies) (*CounterConsumer, error) {
	r = r.Package().Sub("counters")
	if deps.Store == nil {
		return nil, errors.New("counter consumer: needs a store")
	}
	cfg = CountersConfig(cfg)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka configuration: %w", err)
	}
	m := r.Metrics()
	c := &CounterConsumer{r: r, cfg: cfg, deps: deps, limiter: r.NewLimiter(5, 10*time.Second),
		messages: m.Counter("messages_total", "Counter-topic messages stored and committed."),
		samples:  m.Counter("samples_total", "sFlow counter samples stored from the counter topic."),
		invalid:  m.Counter("invalid_messages_total", "Counter-topic messages that were not a JSON array of counter samples: logged and skipped."),
		retries:  m.Counter("store_retries_total", "Failed stores of a counter-topic message, retried before its offset is committed."),
	}
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("register counter consumer metrics: %w", err)
	}
	return c, nil
}

// Start joins the group and consumes until Stop. A failure (Kafka,
// storage) is logged and the consumer joins again a second later: what
// was not committed comes back.
func (c *CounterConsumer) Start(ctx context.Context) error {
	base := context.WithoutCancel(ctx)
	fetchCtx, stopFetch := context.WithCancel(base)
	writeCtx, cancelWrites := context.WithCancel(base)
	c.stopFetch, c.cancelWrites, c.done = stopFetch, cancelWrites, make(chan struct{})
	go func() {
		defer close(c.done)
		for fetchCtx.Err() == nil {
			if err := c.run(fetchCtx, writeCtx); err != nil {
				c.r.Error("counter samples: consumer stopped; joining again", "err", err)
				sleep(fetchCtx, time.Second)
			}
		}
	}()
	return nil
}

// Stop stops fetching and lets the message in hand be stored and
// committed while ctx allows; then it gives up on it (uncommitted, it is
// consumed again by the group's next member) and returns an error.
func (c *CounterConsumer) Stop(ctx context.Context) error {
	c.stopFetch()
	defer c.cancelWrites()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
	}
	select {
	case <-c.done: // ended just as ctx did: nothing was given up
		return nil
	default:
	}
	c.cancelWrites()
	<-c.done
	return fmt.Errorf("counter consumer: gave up storing the message in hand (left uncommitted): %w", ctx.Err())
}

// run consumes until ctx ends. Stores and commits get writeCtx, which
// bounds one in progress at shutdown; what is not stored is not committed.
func (c *CounterConsumer) run(ctx, writeCtx context.Context) error {
	// Join a group on a topic that exists, or the reader gets no partition
	// until the next rebalance: the collectors may not have created it yet.
	if c.cfg.CreateTopic {
		if err := ensureTopic(ctx, c.cfg.transport(), c.cfg); err != nil {
			return fmt.Errorf("counter topic: %w", err)
		}
	}
	start, _ := startOffset(c.cfg.Consumer.StartOffset)
	k := c.cfg.Consumer
	reader := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: c.cfg.Brokers, GroupID: k.GroupID, Topic: c.cfg.Topic, Dialer: c.cfg.dialer(),
		MinBytes: k.MinBytes, MaxBytes: k.MaxBytes, MaxWait: k.MaxWait, StartOffset: start,
		SessionTimeout: k.SessionTimeout, HeartbeatInterval: k.HeartbeatInterval, RebalanceTimeout: k.RebalanceTimeout,
		CommitInterval:        0, // CommitMessages commits synchronously, and only it commits
		WatchPartitionChanges: true,
		ErrorLogger: kafkago.LoggerFunc(func(format string, args ...any) {
			c.limiter.Log(c.r.Logger, "kafka-go", "kafka client error", "error", fmt.Sprintf(format, args...))
		}),
	})
	defer reader.Close()
	for {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch counter samples: %w", err)
		}
		var rows []record.Counter
		if err := json.Unmarshal(m.Value, &rows); err != nil {
			c.invalid.Inc()
			c.limiter.Log(c.r.Logger, "invalid", "invalid counter-topic message skipped",
				"partition", m.Partition, "offset", m.Offset, "err", err)
		} else if err := c.store(writeCtx, m, rows); err != nil {
			return err
		}
		if err := reader.CommitMessages(writeCtx, m); err != nil {
			return fmt.Errorf("commit counter samples: %w", err)
		}
		c.messages.Inc()
	}
}

// store retries until the rows are stored or ctx ends. The token is the
// message ID (stable across producer retries), else its offset.
func (c *CounterConsumer) store(ctx context.Context, m kafkago.Message, rows []record.Counter) error {
	token := header(m.Headers, MessageIDHeader)
	if token == "" {
		token = m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
	}
	backoff := 100 * time.Millisecond
	for {
		err := c.deps.Store(ctx, rows, token)
		if err == nil {
			c.samples.Add(float64(len(rows)))
			return nil
		}
		c.retries.Inc()
		c.limiter.Log(c.r.Logger, "store", "cannot store counter samples; retrying", "rows", len(rows), "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}
