// Package kafka is the SIEM sinks' Kafka transport: each event is one
// message of a topic (its value the ECS or OCSF document, its key the
// event ID),
// produced with acknowledgement from every in-sync replica. Connection and
// security settings are those of pipeline/kafka.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/pipeline/kafka"
	"sluice/pipeline/siem"
)

// Config is a kafka sink's `kafka:` settings.
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// Topic receives the documents (default sluice-siem).
	Topic string `yaml:"topic"`
	// ClientID names this client to the brokers (default sluice-siem).
	ClientID    string        `yaml:"client-id"`
	DialTimeout time.Duration `yaml:"dial-timeout"`
	// CreateTopic creates Topic when missing, with TopicPartitions and
	// TopicReplicationFactor (default true, 3 partitions, 1 replica).
	CreateTopic            bool `yaml:"create-topic"`
	TopicPartitions        int  `yaml:"topic-partitions"`
	TopicReplicationFactor int  `yaml:"topic-replication-factor"`
	// Compression: none, gzip, snappy, lz4 or zstd (default zstd).
	Compression string `yaml:"compression"`
	// WriteTimeout bounds one produce request (default 10s); a request
	// that times out is retried by the sink.
	WriteTimeout time.Duration `yaml:"write-timeout"`
	// Key is what messages are keyed (partitioned) by: id, the event ID
	// (the only choice yet), which spreads events evenly and lets a
	// compacted topic or a consumer deduplicate redeliveries.
	Key string `yaml:"key"`

	TLS  kafka.TLSConfig  `yaml:"tls"`
	SASL kafka.SASLConfig `yaml:"sasl"`
}

// DefaultConfig produces to sluice-siem on a local broker.
func DefaultConfig() Config {
	return Config{
		Brokers:                []string{"127.0.0.1:9092"},
		Topic:                  "sluice-siem",
		ClientID:               "sluice-siem",
		DialTimeout:            10 * time.Second,
		CreateTopic:            true,
		TopicPartitions:        3,
		TopicReplicationFactor: 1,
		Compression:            "zstd",
		WriteTimeout:           10 * time.Second,
		Key:                    "id",
		SASL:                   kafka.SASLConfig{Mechanism: "none"},
	}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
		}
	}
	check(len(c.Brokers) > 0, "brokers", "at least one broker is needed")
	for i, b := range c.Brokers {
		_, port, err := net.SplitHostPort(b)
		check(err == nil && port != "", fmt.Sprintf("brokers[%d]", i), "want host:port, got %q", b)
	}
	check(kafka.ValidTopic(c.Topic), "topic", "want 1 to 249 characters among [a-zA-Z0-9._-], got %q", c.Topic)
	check(c.DialTimeout > 0, "dial-timeout", "must be positive, got %s", c.DialTimeout)
	if c.CreateTopic {
		check(c.TopicPartitions >= 1, "topic-partitions", "must be at least 1, got %d", c.TopicPartitions)
		check(c.TopicReplicationFactor >= 1, "topic-replication-factor", "must be at least 1, got %d", c.TopicReplicationFactor)
	}
	_, err := kafka.CompressionCodec(c.Compression)
	check(err == nil, "compression", "%v", err)
	check(c.WriteTimeout > 0, "write-timeout", "must be positive, got %s", c.WriteTimeout)
	check(c.Key == "id", "key", "want id, got %q", c.Key)
	if _, err := c.TLS.Build("tls"); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.SASL.Build(); err != nil {
		errs = append(errs, fmt.Errorf("sasl.%w", err))
	}
	return errors.Join(errs...)
}

// Transport produces events to the topic. Send is safe for concurrent use.
type Transport struct {
	cfg       Config
	transport *kafkago.Transport
	writer    *kafkago.Writer

	topicOnce sync.Mutex
	topicDone bool

	msgs []kafkago.Message
	keys []byte // the messages' keys; dropped after a failed send
	mu   sync.Mutex
}

// New builds the transport; it connects on the first Send.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("siem kafka: %w", err)
	}
	tlsConfig, _ := cfg.TLS.Build("tls")
	mechanism, _ := cfg.SASL.Build()
	compression, _ := kafka.CompressionCodec(cfg.Compression)
	t := &Transport{cfg: cfg, transport: &kafkago.Transport{
		ClientID: cfg.ClientID, DialTimeout: cfg.DialTimeout, TLS: tlsConfig, SASL: mechanism,
	}}
	t.writer = &kafkago.Writer{
		Addr:         kafkago.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafkago.Murmur2Balancer{},
		RequiredAcks: kafkago.RequireAll,
		// The sink retries with its own backoff; one attempt here keeps a
		// dead broker from stalling a send for long.
		MaxAttempts:  1,
		BatchSize:    10_000,
		BatchBytes:   16 << 20,
		BatchTimeout: time.Millisecond,
		WriteTimeout: cfg.WriteTimeout,
		Compression:  compression,
		Transport:    t.transport,
	}
	return t, nil
}

// Name is "kafka".
func (*Transport) Name() string { return "kafka" }

// Send produces every event and returns once all in-sync replicas have
// them all.
func (t *Transport) Send(ctx context.Context, events []siem.Event) error {
	if err := t.ensureTopic(ctx); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buildMessages(events)
	// kafka-go's WriteMessages returns ctx.Err() when ctx ends while the
	// batch is still queued in its partition writer, and that batch is
	// produced later with the Keys and Values it was given: the sink would
	// by then have reused the buffers they point into (a data race, and
	// messages whose key is one event's ID and whose value another's
	// body). So ctx's cancellation is not passed on: with MaxAttempts 1 a
	// produce ends within WriteTimeout (kafka-go bounds each request by
	// it), and the metadata lookup before it within DialTimeout; the
	// bound below covers both. Should it still fire, the key arena is
	// dropped (below) and the sink drops its buffers after a failed
	// send, so a late produce reads memory nobody writes to any more.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*t.cfg.WriteTimeout+t.cfg.DialTimeout)
	defer cancel()
	err := t.produce(ctx, wctx)
	if err != nil {
		t.keys = nil
	}
	return err
}

// buildMessages makes one message per event in t.msgs: the key is the
// event ID, copied into the transport's key arena, the value the event's
// body, and the headers a shared read-only slice per kind, so that
// building allocates nothing per event once the buffers have grown.
func (t *Transport) buildMessages(events []siem.Event) {
	t.msgs, t.keys = t.msgs[:0], t.keys[:0]
	for i := range events {
		ev := &events[i]
		k0 := len(t.keys)
		t.keys = append(t.keys, ev.ID...)
		t.msgs = append(t.msgs, kafkago.Message{Key: t.keys[k0:len(t.keys):len(t.keys)], Value: ev.Body, Time: ev.Time,
			Headers: kindHeaders[ev.Kind]})
	}
}

// produce writes t.msgs under wctx; ctx (the caller's) only ends the
// waits between partial retries.
func (t *Transport) produce(ctx, wctx context.Context) error {
	// A produce fails per message (a partition whose leader moved, right
	// after the topic's creation say): the messages that failed are sent
	// again here, a few times, so that those acknowledged are not
	// duplicated by the sink's retry of the whole send.
	msgs := t.msgs
	for attempt := 1; ; attempt++ {
		err := t.writer.WriteMessages(wctx, msgs...)
		if err == nil {
			return nil
		}
		var we kafkago.WriteErrors
		if attempt == partialAttempts || !errors.As(err, &we) || ctx.Err() != nil {
			return fmt.Errorf("siem kafka: produce to %s: %w", t.cfg.Topic, summarize(err))
		}
		failed := msgs[:0:0]
		for i, e := range we {
			if e != nil {
				failed = append(failed, msgs[i])
			}
		}
		msgs = failed
		select {
		case <-ctx.Done():
			return fmt.Errorf("siem kafka: produce to %s: %w (last: %w)", t.cfg.Topic, ctx.Err(), summarize(err))
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// partialAttempts bounds the produce attempts of one Send that resend
// only the messages that failed.
const partialAttempts = 3

// summarize cuts kafka-go's error per message down to how many failed and
// the first distinct error: the same refused connection repeated for each
// of a thousand messages says nothing more.
func summarize(err error) error {
	var we kafkago.WriteErrors
	if !errors.As(err, &we) {
		return err
	}
	for _, e := range we {
		if e != nil {
			return fmt.Errorf("%d of %d messages failed, first: %w", we.Count(), len(we), e)
		}
	}
	return err
}

// kindHeaders are the messages' headers by kind, shared by every message
// (kafka-go only reads them).
var kindHeaders = map[siem.Kind][]kafkago.Header{
	siem.KindFlow:  {{Key: "sluice-event-kind", Value: []byte("flow")}},
	siem.KindAlert: {{Key: "sluice-event-kind", Value: []byte("alert")}},
}

func (t *Transport) ensureTopic(ctx context.Context) error {
	if !t.cfg.CreateTopic {
		return nil
	}
	t.topicOnce.Lock()
	defer t.topicOnce.Unlock()
	if t.topicDone {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.WriteTimeout)
	defer cancel()
	if err := kafka.EnsureTopic(ctx, t.transport, t.cfg.Brokers, t.cfg.Topic, t.cfg.TopicPartitions, t.cfg.TopicReplicationFactor); err != nil {
		return fmt.Errorf("siem kafka: %w", err)
	}
	t.topicDone = true
	return nil
}

// Ready asks the brokers for the topic's metadata over a new connection:
// the producer's pooled ones may answer from what they cached.
func (t *Transport) Ready(ctx context.Context) error {
	probe := &kafkago.Transport{ClientID: t.transport.ClientID, DialTimeout: t.transport.DialTimeout,
		TLS: t.transport.TLS, SASL: t.transport.SASL}
	defer probe.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(t.cfg.Brokers...), Transport: probe}
	if _, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{t.cfg.Topic}}); err != nil {
		return fmt.Errorf("siem kafka: brokers %v: %w", t.cfg.Brokers, err)
	}
	return nil
}

// Close closes the producer.
func (t *Transport) Close() error {
	err := t.writer.Close()
	t.transport.CloseIdleConnections()
	return err
}

var _ siem.Transport = (*Transport)(nil)
