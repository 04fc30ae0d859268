package kafka

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestProduceConsumeKfake is the fast round trip through franz-go's
// in-process fake Kafka: topic creation, keyed batches, a consumer group and
// explicit commits. The real broker is functional_test.go's.
func TestProduceConsumeKfake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := newTestReporter(t)
	cfg := testConfig(t, cluster.ListenAddrs(), 3)
	p, err := NewProducer(r, cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	want := randomFlows(1, 3000, 7)
	produceAll(t, ctx, p, want, 500)
	// A message no consumer can decode, on the same topic: it is skipped and
	// counted, not fatal.
	garbage := &kafkago.Writer{Addr: kafkago.TCP(cfg.Brokers...), Topic: cfg.Topic}
	if err := garbage.WriteMessages(ctx, kafkago.Message{Key: []byte("x"), Value: []byte{0x0a, 0x05, 0x01}}); err != nil {
		t.Fatal(err)
	}
	garbage.Close()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, r.Gatherer(), "producer_records_total"); got != float64(len(want)) {
		t.Errorf("producer_records_total = %v, want %d", got, len(want))
	}

	got := consumeExactly(t, ctx, r, cfg, len(want))
	checkSameRecords(t, want, got)
	if n := metricValue(t, r.Gatherer(), "consumer_decode_errors_total", "reason", "malformed"); n != 1 {
		t.Errorf("consumer_decode_errors_total{reason=malformed} = %v, want 1", n)
	}
	if n := metricValue(t, r.Gatherer(), "consumer_records_total"); n != float64(len(want)) {
		t.Errorf("consumer_records_total = %v, want %d", n, len(want))
	}
}

// TestSendBackPressureAndClose covers Send's edges: more messages than
// in-flight tokens, a context that ends while Send waits for a token, and
// Send after Close. In every case done runs exactly once.
func TestSendBackPressureAndClose(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := newTestReporter(t)
	cfg := testConfig(t, cluster.ListenAddrs(), 2)
	cfg.Producer.MaxInFlightMessages = 1
	// Room for each exporter's 100 random records (enrichment strings
	// included) in one message, so the message count below is exact.
	cfg.Producer.MaxMessageBytes = 1 << 20
	cfg.Producer.BatchBytes = 2 << 20
	cfg.Consumer.MaxBytes = 2 << 20
	p, err := NewProducer(r, cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	// 10 exporters: 10 messages through a single token.
	flows := randomFlows(4, 1000, 10)
	produceAll(t, ctx, p, flows, len(flows))
	if n := metricValue(t, r.Gatherer(), "producer_messages_total"); n != 10 {
		t.Errorf("producer_messages_total = %v, want 10", n)
	}

	canceled, cancelSend := context.WithCancel(ctx)
	cancelSend()
	var calls atomic.Int32
	var doneErr atomic.Value
	err = p.Send(canceled, flows, func(err error) {
		calls.Add(1)
		if err != nil {
			doneErr.Store(err)
		}
	})
	if err == nil {
		t.Fatal("Send with a canceled context and no free token succeeded")
	}
	if err := p.Stop(context.Background()); err != nil { // waits for every done
		t.Fatal(err)
	}
	if calls.Load() != 1 || doneErr.Load() == nil {
		t.Fatalf("done called %d times, error %v; want once, with an error", calls.Load(), doneErr.Load())
	}
	if n := metricValue(t, r.Gatherer(), "producer_in_flight_messages"); n != 0 {
		t.Errorf("producer_in_flight_messages = %v after Close, want 0", n)
	}

	calls.Store(0)
	err = p.Send(ctx, flows, func(err error) {
		calls.Add(1)
		if !errors.Is(err, ErrClosed) {
			t.Errorf("done after Close got %v, want ErrClosed", err)
		}
	})
	if !errors.Is(err, ErrClosed) || calls.Load() != 1 {
		t.Fatalf("Send after Close: %v, done called %d times", err, calls.Load())
	}
}
