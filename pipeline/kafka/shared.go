package kafka

import (
	"context"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// What other Kafka clients of sluice (the SIEM sinks' transport) share
// with the record producer: the security settings and topic creation.

// Build returns the SASL mechanism, nil for none, or the first invalid key.
func (c SASLConfig) Build() (sasl.Mechanism, error) { return c.build() }

// CompressionCodec parses a compression name as producer.compression does.
func CompressionCodec(name string) (kafkago.Compression, error) { return compressionCodec(name) }

// EnsureTopic creates topic unless it exists and waits until every
// partition has a leader.
func EnsureTopic(ctx context.Context, transport *kafkago.Transport, brokers []string, topic string, partitions, replicationFactor int) error {
	return ensureTopic(ctx, transport, Config{Brokers: brokers, Topic: topic, TopicPartitions: partitions, TopicReplicationFactor: replicationFactor})
}

// ValidTopic applies Kafka's rules for topic names.
func ValidTopic(name string) bool { return validTopic(name) }
