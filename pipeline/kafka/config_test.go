package kafka

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValidates(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	f := func(change func(*Config), wantKey string) {
		t.Helper()
		cfg := DefaultConfig()
		change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), wantKey+": ") {
			t.Errorf("error %v, want one starting with %q", err, wantKey+": ")
		}
	}
	f(func(c *Config) { c.Brokers = nil }, "brokers")
	f(func(c *Config) { c.Brokers = []string{"localhost"} }, "brokers[0]")
	f(func(c *Config) { c.Topic = "flows/v1" }, "topic")
	f(func(c *Config) { c.TopicPartitions = 0 }, "topic-partitions")
	f(func(c *Config) { c.Producer.Compression = "brotli" }, "producer.compression")
	f(func(c *Config) { c.Producer.RequiredAcks = "2" }, "producer.required-acks")
	f(func(c *Config) { c.Producer.BatchBytes = int64(c.Producer.MaxMessageBytes) }, "producer.batch-bytes")
	f(func(c *Config) { c.Producer.BatchTimeout = 0 }, "producer.batch-timeout")
	f(func(c *Config) { c.Producer.MaxInFlightMessages = 0 }, "producer.max-in-flight-messages")
	f(func(c *Config) { c.Consumer.GroupID = "" }, "consumer.group-id")
	f(func(c *Config) { c.Consumer.StartOffset = "earliest" }, "consumer.start-offset")
	f(func(c *Config) { c.Consumer.MaxBytes = 1 << 10 }, "consumer.max-bytes")
	f(func(c *Config) { c.Consumer.HeartbeatInterval = time.Minute }, "consumer.heartbeat-interval")
	f(func(c *Config) { c.HealthCheckInterval = 0 }, "health-check-interval")

	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topic = nil, ""
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "brokers: ") || !strings.Contains(err.Error(), "topic: ") {
		t.Errorf("error %v, want every invalid key reported", err)
	}
}
