package kafka

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sluice/pipeline/record"
)

// Benchmarks against the real broker (SLUICE_KAFKA_BROKERS):
//
//	go test -run '^$' -bench 'Broker' -benchtime 200000x ./pipeline/kafka
//
// They report records/s and the bytes each record costs on the wire: the
// FlowBatch encoding before compression, and the topic's size on the broker
// (zstd record batches, with Kafka's framing) per record.

// BenchmarkBrokerProduce sends batches of 1000 records from 25 exporters,
// as the collector hands them over, and waits for every acknowledgement.
func BenchmarkBrokerProduce(b *testing.B) {
	brokers := brokersForBench(b)
	ctx := context.Background()
	r := newTestReporter(b)
	cfg := testConfig(b, brokers, 4)
	p, err := NewProducer(r, cfg, ProducerDependencies{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		b.Fatal(err)
	}
	flows := randomFlows(1, 10000, 25)
	const chunk = 1000
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	for sent := 0; sent < b.N; {
		off := sent % len(flows)
		n := min(chunk, b.N-sent, len(flows)-off)
		sent += n
		wg.Add(1)
		if err := p.Send(ctx, flows[off:off+n], func(err error) {
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
			wg.Done()
		}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	if err := p.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	records := metricValue(b, r.Gatherer(), "producer_records_total")
	b.ReportMetric(records/elapsed.Seconds(), "records/s")
	b.ReportMetric(metricValue(b, r.Gatherer(), "producer_bytes_total")/records, "encoded-B/record")
	if size := topicBytes(b, cfg); size > 0 {
		b.ReportMetric(float64(size)/records, "wire-B/record")
	}
}

// BenchmarkBrokerConsume produces b.N records first, then times a consumer
// group member (the Group of `sluice pipeline`) reading and decoding them.
func BenchmarkBrokerConsume(b *testing.B) {
	brokers := brokersForBench(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := testConfig(b, brokers, 4)
	p, err := NewProducer(newTestReporter(b), cfg, ProducerDependencies{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		b.Fatal(err)
	}
	flows := randomFlows(2, 10000, 25)
	for sent := 0; sent < b.N; sent += len(flows) {
		produceAll(b, ctx, p, flows[:min(len(flows), b.N-sent)], 1000)
	}
	p.Stop(context.Background())

	r := newTestReporter(b)
	g, err := NewGroup(r, cfg, GroupDependencies{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	var once sync.Once
	runCtx, stop := context.WithCancel(ctx)
	go func() {
		g.Run(runCtx, func(c *Claim) {
			buf := make([]record.Flow, 0, 4096)
			for {
				msg, err := c.Fetch(c.Context(), buf[:0])
				if err != nil {
					return
				}
				mu.Lock()
				got += len(msg.Flows)
				if got >= b.N {
					once.Do(func() { close(done) })
				}
				mu.Unlock()
			}
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("consumed %d of %d records", got, b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(metricValue(b, r.Gatherer(), "consumer_bytes_total")/float64(b.N), "encoded-B/record")
}

func brokersForBench(b *testing.B) []string {
	b.Helper()
	return brokersForTest(b)
}

// topicBytes sums the topic's log segments on the broker started by
// deploy/dev/kafka.sh (found by its port): the record batches as the
// producer sent them, compressed and framed, so their size per record is
// what a record costs on the wire. 0 when the broker's directory is not
// found.
func topicBytes(tb testing.TB, cfg Config) int64 {
	_, port, _ := net.SplitHostPort(cfg.Brokers[0])
	cache := os.Getenv("SLUICE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "sluice")
	}
	logs, _ := filepath.Glob(filepath.Join(cache, "run", "kafka-"+port, "data", cfg.Topic+"-*", "*.log"))
	var total int64
	for _, l := range logs {
		if fi, err := os.Stat(l); err == nil {
			total += fi.Size()
		}
	}
	if total == 0 {
		tb.Logf("the topic's log was not found under %s: no wire-B/record", cache)
	}
	return total
}
