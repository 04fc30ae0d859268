package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/testenv"
	"sluice/pipeline/kafka"
)

// kafkaGroup is a test's view of one consumer group on one topic, as the
// broker sees it: how far the group has committed against how far the
// topic goes.
type kafkaGroup struct {
	client       *kafkago.Client
	topic, group string
}

// flowsGroup is the flows' topic and consumer group of the configuration
// at config (a kafkaTestConfig); countersGroup the counter samples' ones.
func flowsGroup(t *testing.T, config string) *kafkaGroup { return newKafkaGroup(t, config, false) }

func countersGroup(t *testing.T, config string) *kafkaGroup { return newKafkaGroup(t, config, true) }

func newKafkaGroup(t *testing.T, config string, counters bool) *kafkaGroup {
	t.Helper()
	cfg, err := LoadConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Kafka
	if counters {
		k = kafka.CountersConfig(k)
	}
	return &kafkaGroup{client: kafkaClient(k), topic: k.Topic, group: k.Consumer.GroupID}
}

func kafkaClient(cfg kafka.Config) *kafkago.Client {
	return &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: 5 * time.Second}
}

// committed returns the group's committed offsets of the topic's
// partitions, -1 for a partition it has committed nothing in.
func committed(ctx context.Context, client *kafkago.Client, group, topic string, partitions []int) (map[int]int64, error) {
	res, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err != nil {
		return nil, err
	}
	if res.Error != nil {
		return nil, res.Error
	}
	offsets := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		offsets[p.Partition] = p.CommittedOffset
	}
	return offsets, nil
}

// consumed reports whether the group has committed every message of the
// topic: in every partition, its committed offset is the end offset. The
// pipeline commits a message only once the store has it, so every message
// produced so far is then stored. state says where each partition stands.
func (g *kafkaGroup) consumed() (ok bool, state string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := g.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{g.topic}})
	if err != nil {
		return false, "metadata: " + err.Error()
	}
	var partitions []int
	for _, tp := range md.Topics {
		if tp.Name != g.topic {
			continue
		}
		if tp.Error != nil {
			return false, fmt.Sprintf("topic %s: %v", g.topic, tp.Error)
		}
		for _, p := range tp.Partitions {
			partitions = append(partitions, p.ID)
		}
	}
	if len(partitions) == 0 {
		return false, fmt.Sprintf("topic %s has no partition", g.topic)
	}
	slices.Sort(partitions)
	requests := make([]kafkago.OffsetRequest, len(partitions))
	for i, p := range partitions {
		requests[i] = kafkago.LastOffsetOf(p)
	}
	ends, err := g.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{g.topic: requests}})
	if err != nil {
		return false, "list offsets: " + err.Error()
	}
	end := map[int]int64{}
	for _, p := range ends.Topics[g.topic] {
		if p.Error != nil {
			return false, fmt.Sprintf("end offset of partition %d: %v", p.Partition, p.Error)
		}
		end[p.Partition] = p.LastOffset
	}
	done, err := committed(ctx, g.client, g.group, g.topic, partitions)
	if err != nil {
		return false, fmt.Sprintf("offsets of group %s: %v", g.group, err)
	}
	ok = true
	var parts []string
	for _, p := range partitions {
		e, have := end[p]
		if !have {
			return false, fmt.Sprintf("no end offset for partition %d", p)
		}
		c := max(done[p], 0) // -1, nothing committed, is right for an empty partition
		ok = ok && c == e
		parts = append(parts, fmt.Sprintf("%d: %d of %d", p, c, e))
	}
	return ok, fmt.Sprintf("group %s committed, by partition of %s, %s", g.group, g.topic, strings.Join(parts, ", "))
}

// writerMetrics are the pipeline-tier metrics that move when a store is
// written: pending is a gauge of what is held and not yet written (""
// when the path holds nothing between its commits), the others counters
// that move with every write.
type writerMetrics struct {
	pending string
	moving  []string
}

var (
	// The flows' loop gathers records (received), holds them (pending)
	// until every sink has them (written) or gives up on them (failed).
	flowWrites = writerMetrics{pending: "sluice_pipeline_records_pending", moving: []string{
		"sluice_pipeline_records_received_total", "sluice_pipeline_records_written_total", "sluice_pipeline_records_failed_total",
	}}
	// The counter consumer stores each message before committing it, and
	// holds nothing between.
	counterWrites = writerMetrics{moving: []string{
		"sluice_pipeline_kafka_counters_messages_total", "sluice_pipeline_kafka_counters_samples_total",
		"sluice_pipeline_kafka_counters_store_retries_total",
	}}
)

// settled waits until g has committed every message of its topic, so that
// the stores have every message produced, and the pipelines procs hold
// nothing unwritten, then calls read, which reads the stores. A read is
// kept only when the pipelines' write metrics were the same after it as
// before it, with nothing pending: no write started or ended while it ran,
// and no duplicate can come later, since nothing is left to consume. Until
// then read is called again; past a minute the test fails with the state
// seen last.
func settled(t *testing.T, g *kafkaGroup, procs []*tier, m writerMetrics, read func()) {
	t.Helper()
	snapshot := func() (idle bool, state string) {
		idle = true
		var parts []string
		for i, p := range procs {
			if m.pending != "" {
				n := p.metric(m.pending)
				idle = idle && n == 0
				parts = append(parts, fmt.Sprintf("%d: pending %v", i, n))
			}
			for _, name := range m.moving {
				parts = append(parts, fmt.Sprintf("%d: %s %v", i, strings.TrimPrefix(name, "sluice_pipeline_"), p.metric(name)))
			}
		}
		return idle, strings.Join(parts, ", ")
	}
	testenv.EventuallyState(t, time.Minute, "the pipelines to have stored and committed every message, and the stores read with no write under way",
		func() (bool, string) {
			if ok, state := g.consumed(); !ok {
				return false, state
			}
			idle, before := snapshot()
			if !idle {
				return false, "pipelines hold records: " + before
			}
			read()
			if _, after := snapshot(); after != before {
				return false, fmt.Sprintf("written while the stores were read: %s, then %s", before, after)
			}
			return true, ""
		})
}
