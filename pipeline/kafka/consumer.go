package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/reporter"
)

// Consumer reads record batches as a member of a consumer group. Offsets are
// committed only by Commit, never automatically: the caller commits a
// message once every sink has its records, so a crash replays rather than
// loses them.
type Consumer struct {
	r       *reporter.Reporter
	cfg     Config
	limiter *reporter.Limiter
	metrics consumerMetrics

	mu     sync.Mutex
	reader *kafkago.Reader
}

// Message is one fetched Kafka message, decoded.
type Message struct {
	// Flows are the message's records, appended to the slice given to Fetch.
	Flows []record.Flow
	// Exporter is the message key: the exporter all Flows come from.
	Exporter record.Addr
	// Where the message is: Commit needs these.
	Topic     string
	Partition int
	Offset    int64
}

// NewConsumer checks the configuration and builds the consumer; it joins the
// group only at Start.
func NewConsumer(r *reporter.Reporter, cfg Config) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka configuration: %w", err)
	}
	c := &Consumer{r: r, cfg: cfg, limiter: reporter.NewLimiter(5, 10*time.Second)}
	var err error
	if c.metrics, err = newConsumerMetrics(r.Registerer()); err != nil {
		return nil, err
	}
	return c, nil
}

// Start joins the consumer group, in the background: Fetch waits until
// partitions are assigned.
func (c *Consumer) Start() error {
	k := c.cfg.Consumer
	start, _ := startOffset(k.StartOffset)
	logError := kafkago.LoggerFunc(func(format string, args ...any) {
		c.limiter.Log(c.r.Logger, "kafka-go", "kafka client error", "error", fmt.Sprintf(format, args...))
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reader != nil {
		return errors.New("kafka consumer already started")
	}
	c.reader = kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           c.cfg.Brokers,
		GroupID:           k.GroupID,
		Topic:             c.cfg.Topic,
		Dialer:            c.cfg.dialer(),
		MinBytes:          k.MinBytes,
		MaxBytes:          k.MaxBytes,
		MaxWait:           k.MaxWait,
		StartOffset:       start,
		SessionTimeout:    k.SessionTimeout,
		HeartbeatInterval: k.HeartbeatInterval,
		RebalanceTimeout:  k.RebalanceTimeout,
		// 0: CommitMessages commits synchronously, and only it commits.
		CommitInterval: 0,
		ErrorLogger:    logError,
	})
	return nil
}

// Fetch returns the next message, its records appended to flows (pass a
// reused slice cut to length 0). It blocks until a message arrives or ctx
// ends.
//
// A message that cannot be decoded, or that announces another schema
// version, is skipped: counted in consumer_decode_errors_total and logged
// with its partition and offset. Committing any later message of the
// partition commits past it.
func (c *Consumer) Fetch(ctx context.Context, flows []record.Flow) (Message, error) {
	c.mu.Lock()
	reader := c.reader
	c.mu.Unlock()
	if reader == nil {
		return Message{}, errors.New("kafka consumer not started")
	}
	for {
		km, err := reader.FetchMessage(ctx)
		if err != nil {
			return Message{}, fmt.Errorf("fetching from Kafka topic %s: %w", c.cfg.Topic, err)
		}
		c.metrics.bytes.Add(float64(len(km.Value)))
		if version, ok := schemaVersion(km.Headers); ok && version != recordpb.SchemaVersion {
			c.skip(km, reasonSchema, fmt.Errorf("schema version %q, want %q", version, recordpb.SchemaVersion))
			continue
		}
		decoded, err := recordpb.UnmarshalBatch(km.Value, flows)
		if err != nil {
			c.skip(km, reasonMalformed, err)
			continue
		}
		c.metrics.messages.Inc()
		c.metrics.records.Add(float64(len(decoded) - len(flows)))
		return Message{
			Flows:     decoded,
			Exporter:  record.AddrFromSlice(km.Key),
			Topic:     km.Topic,
			Partition: km.Partition,
			Offset:    km.Offset,
		}, nil
	}
}

// schemaVersion reads the schema header. A message without one is taken as
// the topic's version: a third-party producer may not set headers.
func schemaVersion(headers []kafkago.Header) (string, bool) {
	for _, h := range headers {
		if h.Key == recordpb.SchemaHeader {
			return string(h.Value), true
		}
	}
	return "", false
}

func (c *Consumer) skip(km kafkago.Message, reason string, err error) {
	c.metrics.decodeErrors.WithLabelValues(reason).Inc()
	c.limiter.Log(c.r.Logger, reason, "skipping undecodable Kafka message",
		"topic", km.Topic, "partition", km.Partition, "offset", km.Offset, "reason", reason, "error", err)
}

// Commit records that msgs are handled: after a restart or rebalance the
// group resumes after them. Commit a partition's messages in offset order
// (committing an earlier one after a later one moves the group back).
func (c *Consumer) Commit(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	c.mu.Lock()
	reader := c.reader
	c.mu.Unlock()
	if reader == nil {
		return errors.New("kafka consumer not started")
	}
	commits := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		commits[i] = kafkago.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	}
	if err := reader.CommitMessages(ctx, commits...); err != nil {
		return fmt.Errorf("committing offsets of Kafka topic %s: %w", c.cfg.Topic, err)
	}
	c.metrics.commits.Inc()
	return nil
}

// Close leaves the group. Uncommitted messages are fetched again by whoever
// gets their partitions.
func (c *Consumer) Close() error {
	c.mu.Lock()
	reader := c.reader
	c.reader = nil
	c.mu.Unlock()
	if reader == nil {
		return nil
	}
	if err := reader.Close(); err != nil {
		return fmt.Errorf("closing kafka consumer: %w", err)
	}
	return nil
}
