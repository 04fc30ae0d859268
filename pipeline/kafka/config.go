package kafka

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/pipeline/recordpb"
)

// Config is the Kafka configuration (the `kafka:` section), shared by the
// producer (collectors) and the consumer (pipeline workers).
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// Topic carries the records; its name ends with the schema version
	// (recordpb.SchemaVersion) so an incompatible schema gets a new topic.
	Topic string `yaml:"topic"`
	// ClientID names this process to the brokers (logs, quotas).
	ClientID string `yaml:"client-id"`
	// DialTimeout bounds connecting to a broker.
	DialTimeout time.Duration `yaml:"dial-timeout"`
	// CreateTopic makes the producer create Topic (EnsureTopic) when it is
	// missing, with TopicPartitions and TopicReplicationFactor. An existing
	// topic is left as it is.
	CreateTopic bool `yaml:"create-topic"`
	// TopicPartitions bounds how many consumers share the work: records are
	// keyed by exporter, so an exporter's records stay in one partition.
	TopicPartitions int `yaml:"topic-partitions"`
	// TopicReplicationFactor is the number of copies of each partition.
	TopicReplicationFactor int `yaml:"topic-replication-factor"`
	// HealthCheckInterval is how often the collector's forwarder and the
	// pipeline's consumer send the brokers a request (ApiVersions), each
	// answer bounded by the same interval: their Kafka gauges
	// (forwarder_kafka_up, consumer_kafka_up) turn 0 within about twice
	// this once the brokers stop answering, traffic or not.
	HealthCheckInterval time.Duration `yaml:"health-check-interval"`

	// TLS encrypts the connections to the brokers.
	TLS TLSConfig `yaml:"tls"`
	// SASL authenticates this client to the brokers.
	SASL SASLConfig `yaml:"sasl"`

	Producer ProducerConfig `yaml:"producer"`
	Consumer ConsumerConfig `yaml:"consumer"`
}

// ProducerConfig tunes the producer.
type ProducerConfig struct {
	// Compression of record batches: none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// RequiredAcks before a write counts as done: all (every in-sync
	// replica), leader, or none (fire and forget: records can be lost).
	RequiredAcks string `yaml:"required-acks"`
	// MaxMessageBytes caps one Kafka message's value (a FlowBatch of one
	// exporter's records, before compression); larger batches are split.
	MaxMessageBytes int `yaml:"max-message-bytes"`
	// BatchBytes caps one produce request per partition (uncompressed); it
	// must leave room for at least one message of MaxMessageBytes.
	BatchBytes int64 `yaml:"batch-bytes"`
	// BatchSize caps the messages in one produce request per partition.
	BatchSize int `yaml:"batch-size"`
	// BatchTimeout is how long a partial produce request waits for more
	// messages: the latency a slow exporter's records may see.
	BatchTimeout time.Duration `yaml:"batch-timeout"`
	// MaxInFlightMessages bounds the messages handed to Kafka and not yet
	// acknowledged; Send blocks beyond it, so a slow broker pushes back on
	// the collector instead of filling memory.
	MaxInFlightMessages int `yaml:"max-in-flight-messages"`
	// MaxAttempts is how many times a produce request is tried before its
	// records are reported failed.
	MaxAttempts int `yaml:"max-attempts"`
	// WriteTimeout bounds one produce request.
	WriteTimeout time.Duration `yaml:"write-timeout"`
}

// ConsumerConfig tunes the consumer.
type ConsumerConfig struct {
	// GroupID is the consumer group: the pipeline workers sharing the topic.
	GroupID string `yaml:"group-id"`
	// StartOffset is where a group with no committed offset starts:
	// first (everything retained) or last (only new records).
	StartOffset string `yaml:"start-offset"`
	// MinBytes and MaxBytes bound one fetch; MaxWait is how long the broker
	// may wait to gather MinBytes.
	MinBytes int           `yaml:"min-bytes"`
	MaxBytes int           `yaml:"max-bytes"`
	MaxWait  time.Duration `yaml:"max-wait"`
	// SessionTimeout is how long the group waits for a silent worker (one
	// killed, or cut off) before giving its partitions to the others: the
	// standstill of those partitions after a worker dies. A worker that
	// stops cleanly leaves the group at once and does not cost it. The
	// brokers accept from group.min.session.timeout.ms (6s by default) to
	// group.max.session.timeout.ms (30 min); shorter evicts a worker that
	// misses heartbeats briefly (a long GC or network pause, an overloaded
	// broker), longer makes a dead worker's partitions wait longer.
	SessionTimeout time.Duration `yaml:"session-timeout"`
	// HeartbeatInterval is how often a worker tells the group it is alive,
	// and so how soon it learns that a rebalance started: a third of
	// session-timeout or less, so that a lost heartbeat or two do not
	// evict it.
	HeartbeatInterval time.Duration `yaml:"heartbeat-interval"`
	// RebalanceTimeout is how long workers have to rejoin during a rebalance.
	// A worker losing a partition first stores and commits what it holds
	// for it, within half this time.
	RebalanceTimeout time.Duration `yaml:"rebalance-timeout"`
	// QueueMessages is how many fetched messages wait per partition; with
	// max-bytes it bounds the consumer's memory.
	QueueMessages int `yaml:"queue-messages"`
	// DeadLetterTopic receives, unchanged, every message that is not a
	// valid record batch (with headers saying where it came from and why);
	// empty: such messages are only counted, logged and skipped.
	DeadLetterTopic string `yaml:"dead-letter-topic"`
	// DedupStateBytes bounds the deduplication state committed with each
	// partition's offset (as the commit's metadata): which collectors'
	// messages were consumed, so that a message a collector sends again
	// after a crash is skipped by whichever worker reads it. It must not
	// exceed the brokers' offset.metadata.max.bytes (4096 by default). The
	// collectors seen last in the partition are kept; about 100 fit in the
	// default while they send steadily. 56 bytes of it stay free for the
	// intent of the gathering being stored (see pipeline.FromKafka). 0
	// keeps no state across restarts.
	DedupStateBytes int `yaml:"dedup-state-bytes"`
}

// DefaultConfig talks to a local broker on the default topic, compresses with
// zstd and waits for every in-sync replica: records are only acknowledged
// upstream once Kafka cannot lose them.
func DefaultConfig() Config {
	return Config{
		Brokers:                []string{"127.0.0.1:9092"},
		Topic:                  recordpb.DefaultTopic,
		ClientID:               "sluice",
		DialTimeout:            10 * time.Second,
		CreateTopic:            true,
		TopicPartitions:        8,
		TopicReplicationFactor: 1,
		HealthCheckInterval:    time.Second,
		SASL:                   SASLConfig{Mechanism: "none"},
		Producer: ProducerConfig{
			Compression:         "zstd",
			RequiredAcks:        "all",
			MaxMessageBytes:     256 << 10,
			BatchBytes:          1 << 20,
			BatchSize:           100,
			BatchTimeout:        100 * time.Millisecond,
			MaxInFlightMessages: 512,
			MaxAttempts:         10,
			WriteTimeout:        10 * time.Second,
		},
		Consumer: ConsumerConfig{
			GroupID:     "sluice-pipeline",
			StartOffset: "first",
			MinBytes:    1,
			MaxBytes:    16 << 20,
			MaxWait:     500 * time.Millisecond,
			// A killed worker's partitions move about 7 s later (the
			// brokers' least session timeout, and a heartbeat).
			SessionTimeout:    6 * time.Second,
			HeartbeatInterval: time.Second,
			RebalanceTimeout:  30 * time.Second,
			QueueMessages:     16,
			DedupStateBytes:   4000,
		},
	}
}

// messageOverhead is an upper bound on what a message adds to its value in a
// produce request (key, headers, record framing), to check MaxMessageBytes
// against BatchBytes.
const messageOverhead = 256

// Validate reports every invalid key, by its path under `kafka:`.
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
	check(validTopic(c.Topic), "topic", "want 1 to 249 characters among [a-zA-Z0-9._-], got %q", c.Topic)
	check(c.DialTimeout > 0, "dial-timeout", "must be positive, got %s", c.DialTimeout)
	check(c.HealthCheckInterval > 0, "health-check-interval", "must be positive, got %s", c.HealthCheckInterval)
	if c.CreateTopic {
		check(c.TopicPartitions >= 1, "topic-partitions", "must be at least 1, got %d", c.TopicPartitions)
		check(c.TopicReplicationFactor >= 1, "topic-replication-factor", "must be at least 1, got %d", c.TopicReplicationFactor)
	}

	p := c.Producer
	_, err := compressionCodec(p.Compression)
	check(err == nil, "producer.compression", "%v", err)
	_, err = requiredAcks(p.RequiredAcks)
	check(err == nil, "producer.required-acks", "%v", err)
	// Twice the largest record: a message must hold at least one record
	// whatever its enrichment strings, and the producer cuts a message once
	// less than one largest record's room is left.
	minMessage := 2 * (recordpb.MaxFlowSize() + 4)
	check(p.MaxMessageBytes >= minMessage, "producer.max-message-bytes", "must be at least %d (twice the largest record), got %d", minMessage, p.MaxMessageBytes)
	check(p.BatchBytes >= int64(p.MaxMessageBytes)+messageOverhead, "producer.batch-bytes",
		"must be at least producer.max-message-bytes + %d (%d), got %d", messageOverhead, p.MaxMessageBytes+messageOverhead, p.BatchBytes)
	check(p.BatchSize >= 1, "producer.batch-size", "must be at least 1, got %d", p.BatchSize)
	check(p.BatchTimeout > 0, "producer.batch-timeout", "must be positive, got %s", p.BatchTimeout)
	check(p.MaxInFlightMessages >= 1, "producer.max-in-flight-messages", "must be at least 1, got %d", p.MaxInFlightMessages)
	check(p.MaxAttempts >= 1, "producer.max-attempts", "must be at least 1, got %d", p.MaxAttempts)
	check(p.WriteTimeout > 0, "producer.write-timeout", "must be positive, got %s", p.WriteTimeout)

	k := c.Consumer
	check(k.GroupID != "", "consumer.group-id", "must not be empty")
	_, err = startOffset(k.StartOffset)
	check(err == nil, "consumer.start-offset", "%v", err)
	check(k.MinBytes >= 1, "consumer.min-bytes", "must be at least 1, got %d", k.MinBytes)
	check(k.MaxBytes >= k.MinBytes, "consumer.max-bytes", "must be at least consumer.min-bytes (%d), got %d", k.MinBytes, k.MaxBytes)
	check(k.MaxBytes >= p.MaxMessageBytes+messageOverhead, "consumer.max-bytes",
		"must hold a whole message: at least producer.max-message-bytes + %d (%d), got %d", messageOverhead, p.MaxMessageBytes+messageOverhead, k.MaxBytes)
	check(k.MaxWait > 0, "consumer.max-wait", "must be positive, got %s", k.MaxWait)
	check(k.SessionTimeout > 0, "consumer.session-timeout", "must be positive, got %s", k.SessionTimeout)
	check(k.HeartbeatInterval > 0 && 3*k.HeartbeatInterval <= k.SessionTimeout, "consumer.heartbeat-interval",
		"must be positive and at most a third of consumer.session-timeout (%s), got %s", k.SessionTimeout, k.HeartbeatInterval)
	check(k.RebalanceTimeout > 0, "consumer.rebalance-timeout", "must be positive, got %s", k.RebalanceTimeout)
	check(k.QueueMessages >= 1, "consumer.queue-messages", "must be at least 1, got %d", k.QueueMessages)
	check(k.DedupStateBytes == 0 || k.DedupStateBytes >= minDedupStateBytes, "consumer.dedup-state-bytes",
		"must be 0 (no state) or at least %d (a collector's mark and a batch intent), got %d", minDedupStateBytes, k.DedupStateBytes)
	check(k.DeadLetterTopic == "" || validTopic(k.DeadLetterTopic) && k.DeadLetterTopic != c.Topic, "consumer.dead-letter-topic",
		"want empty, or a valid topic name other than topic, got %q", k.DeadLetterTopic)
	if _, err := c.TLS.Build("tls"); err != nil {
		errs = append(errs, err)
	}
	for _, err := range unjoin(c.SASL.validate()) {
		errs = append(errs, fmt.Errorf("sasl.%w", err))
	}
	return errors.Join(errs...)
}

// validTopic applies Kafka's rules for topic names.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	return strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

func compressionCodec(name string) (kafkago.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("want none, gzip, snappy, lz4 or zstd, got %q", name)
}

func requiredAcks(name string) (kafkago.RequiredAcks, error) {
	switch name {
	case "all":
		return kafkago.RequireAll, nil
	case "leader":
		return kafkago.RequireOne, nil
	case "none":
		return kafkago.RequireNone, nil
	}
	return 0, fmt.Errorf("want all, leader or none, got %q", name)
}

func startOffset(name string) (int64, error) {
	switch name {
	case "first":
		return kafkago.FirstOffset, nil
	case "last":
		return kafkago.LastOffset, nil
	}
	return 0, fmt.Errorf("want first or last, got %q", name)
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
