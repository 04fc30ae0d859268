package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

func newTestReporter(t testing.TB) *reporter.Reporter {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return reporter.New(logger).Sub("pipeline/kafka")
}

// metricValue sums a metric's series whose labels include the given
// name=value pairs.
func metricValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range families {
		if !strings.HasSuffix(mf.GetName(), name) {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// testConfig points at brokers with a topic and group of the test's own, so
// tests never see each other's records.
func testConfig(t testing.TB, brokers []string, partitions int) Config {
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	suffix := fmt.Sprintf("%s-%d", strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()), time.Now().UnixNano())
	cfg.Topic = "sluice-test-" + suffix
	cfg.Consumer.GroupID = "sluice-test-" + suffix
	cfg.TopicPartitions = partitions
	cfg.Producer.BatchTimeout = 20 * time.Millisecond
	// Fail fast on a group member that went away between tests.
	cfg.Consumer.SessionTimeout = 10 * time.Second
	cfg.Consumer.HeartbeatInterval = time.Second
	cfg.Consumer.MaxWait = 200 * time.Millisecond
	return cfg
}

// randomFlows makes n records with every field set, spread over the given
// number of exporters.
func randomFlows(seed uint64, n, exporters int) []record.Flow {
	r := rand.New(rand.NewPCG(seed, seed))
	addrs := make([]record.Addr, exporters)
	for i := range addrs {
		addrs[i] = recordpb.RandomFlow(r).ExporterAddress
	}
	flows := make([]record.Flow, n)
	for i := range flows {
		flows[i] = recordpb.RandomFlow(r)
		flows[i].ExporterAddress = addrs[r.IntN(exporters)]
	}
	return flows
}

// produceAll sends flows in chunks of chunk records and waits for every
// done callback; it fails the test on any delivery error.
func produceAll(t testing.TB, ctx context.Context, p *Producer, flows []record.Flow, chunk int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for start := 0; start < len(flows); start += chunk {
		wg.Add(1)
		err := p.Send(ctx, flows[start:min(start+chunk, len(flows))], func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			wg.Done()
		})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("delivery: %v", err)
	}
}

// consumeExactly joins the consumer group as one member, reads every
// partition and commits each message, until want records arrived and every
// partition is read to its end; then it leaves the group and checks that
// no more than want came. It returns the records in arrival order (each
// partition's in its order) and checks that every exporter's records came
// through one partition, as the message key routes them.
func consumeExactly(t testing.TB, ctx context.Context, r *reporter.Reporter, cfg Config, want int) []record.Flow {
	t.Helper()
	g, err := NewGroup(r, cfg, GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []record.Flow
	var failure error
	partitionOf := map[record.Addr]int{}
	next := map[int]int64{} // partition → offset after the last message read
	// reached is closed when want records are in.
	reached := make(chan struct{})
	if want == 0 {
		close(reached)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- g.Run(runCtx, func(c *Claim) {
			mu.Lock()
			next[c.Partition] = max(next[c.Partition], c.Start)
			mu.Unlock()
			var flows []record.Flow
			for {
				msg, err := c.Fetch(c.Context(), flows[:0])
				if err != nil {
					return
				}
				flows = msg.Flows
				mu.Lock()
				next[c.Partition] = msg.Offset + 1
				for _, f := range msg.Flows {
					if p, ok := partitionOf[f.ExporterAddress]; ok && p != c.Partition && failure == nil {
						failure = fmt.Errorf("exporter %s in partitions %d and %d", f.ExporterAddress, p, c.Partition)
					}
					partitionOf[f.ExporterAddress] = c.Partition
				}
				before := len(got)
				got = append(got, msg.Flows...)
				if before < want && len(got) >= want {
					close(reached)
				}
				mu.Unlock()
				if err := c.Commit(msg.Offset + 1); err != nil {
					mu.Lock()
					failure = errors.Join(failure, err)
					mu.Unlock()
				}
			}
		})
	}()
	select {
	case <-reached:
	case <-ctx.Done():
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d records consumed: %v", len(got), want, ctx.Err())
	}
	// Nothing more may arrive: once every partition is read to its end (a
	// message read twice comes before the end, in its partition's order),
	// nothing is left to read.
	ends := endOffsets(t, ctx, cfg)
	testenv.EventuallyState(t, time.Minute, "every partition read to its end", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for p, end := range ends {
			if next[p] < end {
				return false, fmt.Sprintf("read up to %v, ends at %v", next, ends)
			}
		}
		return true, ""
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if failure != nil {
		t.Fatal(failure)
	}
	if len(got) != want {
		t.Fatalf("consumed %d records, want %d", len(got), want)
	}
	return got
}

// endOffsets is the end (high-water mark) of each partition of the topic.
func endOffsets(t testing.TB, ctx context.Context, cfg Config) map[int]int64 {
	t.Helper()
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: 5 * time.Second}
	meta, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{cfg.Topic}})
	if err != nil {
		t.Fatal(err)
	}
	var req []kafkago.OffsetRequest
	for _, topic := range meta.Topics {
		if topic.Error != nil {
			t.Fatalf("topic %s: %v", topic.Name, topic.Error)
		}
		for _, p := range topic.Partitions {
			req = append(req, kafkago.LastOffsetOf(p.ID))
		}
	}
	if len(req) == 0 {
		t.Fatalf("topic %s has no partitions", cfg.Topic)
	}
	res, err := client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{cfg.Topic: req}})
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int]int64{}
	for _, p := range res.Topics[cfg.Topic] {
		if p.Error != nil {
			t.Fatalf("partition %d: %v", p.Partition, p.Error)
		}
		ends[p.Partition] = p.LastOffset
	}
	return ends
}

// checkSameRecords asserts that got holds exactly the records of want: each
// record's encoding byte for byte and its decoded value, and, for each
// exporter, the order in which they were produced.
func checkSameRecords(t testing.TB, want, got []record.Flow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	byEncoding := make(map[string][]int, len(want))
	for i := range want {
		key := string(recordpb.AppendFlow(nil, &want[i]))
		byEncoding[key] = append(byEncoding[key], i)
	}
	lastIndex := map[record.Addr]int{}
	for i := range got {
		key := string(recordpb.AppendFlow(nil, &got[i]))
		indexes := byEncoding[key]
		if len(indexes) == 0 {
			t.Fatalf("record %d was not produced (or came twice): %+v", i, got[i])
		}
		j := indexes[0]
		byEncoding[key] = indexes[1:]
		if got[i] != want[j] {
			t.Fatalf("record %d decodes to\n%+v\nwant\n%+v", i, got[i], want[j])
		}
		exporter := got[i].ExporterAddress
		if last, ok := lastIndex[exporter]; ok && j < last {
			t.Fatalf("exporter %s: record %d arrived after record %d", exporter, j, last)
		}
		lastIndex[exporter] = j
	}
}
