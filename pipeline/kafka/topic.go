package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// ensureTopic creates cfg.Topic with the configured partitions and replicas
// unless it exists, then waits until the brokers' metadata shows every
// partition with a leader: right after creation a produce can otherwise fail
// with "unknown topic or partition". kafka-go's Client sends the creation to
// the controller itself.
func ensureTopic(ctx context.Context, transport *kafkago.Transport, cfg Config) error {
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: transport}
	res, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{Topics: []kafkago.TopicConfig{{
		Topic:             cfg.Topic,
		NumPartitions:     cfg.TopicPartitions,
		ReplicationFactor: cfg.TopicReplicationFactor,
	}}})
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", cfg.Topic, err)
	}
	if err := res.Errors[cfg.Topic]; err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", cfg.Topic, err)
	}

	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := topicReady(ctx, client, cfg.Topic)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topic %s: %w (last: %w)", cfg.Topic, ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

func topicReady(ctx context.Context, client *kafkago.Client, topic string) error {
	md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return t.Error
		}
		if len(t.Partitions) == 0 {
			return errors.New("no partitions yet")
		}
		for _, p := range t.Partitions {
			if p.Leader.ID < 0 || p.Leader.Host == "" {
				return fmt.Errorf("partition %d has no leader yet", p.ID)
			}
		}
		return nil
	}
	return errors.New("not in metadata yet")
}
