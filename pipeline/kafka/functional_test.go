package kafka

import (
	"context"
	"os"
	"strings"
	"testing"

	"sluice/internal/testenv"
	"time"
)

// brokersForTest returns the real broker's bootstrap addresses from
// SLUICE_KAFKA_BROKERS (`make test` sets it after deploy/dev/kafka.sh start).
// Without it the test is skipped, except in CI, where the broker is
// mandatory.
func brokersForTest(t testing.TB) []string {
	t.Helper()
	testenv.SkipIfShort(t, "needs the real Kafka broker")
	brokers := os.Getenv("SLUICE_KAFKA_BROKERS")
	if brokers == "" {
		testenv.Missing(t, "the Kafka broker (SLUICE_KAFKA_BROKERS; export SLUICE_KAFKA_BROKERS=$(deploy/dev/kafka.sh start))")
	}
	return strings.Split(brokers, ",")
}

// TestRealBrokerRoundTrip produces randomized records with every field set
// to a real Apache Kafka broker and reads them back through a consumer
// group: exactly the records produced, byte for byte, each exporter's in
// order; then the group resumes after its commits.
func TestRealBrokerRoundTrip(t *testing.T) {
	brokers := brokersForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const records = 20000
	r := newTestReporter(t)
	cfg := testConfig(t, brokers, 4)
	// Small messages, so that exporters' batches are split and many
	// produce requests are in flight at once.
	cfg.Producer.MaxMessageBytes = 64 << 10 // the smallest allowed is twice the largest record
	cfg.Producer.MaxInFlightMessages = 16
	p, err := NewProducer(r, cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	want := randomFlows(2, records, 25)
	produceAll(t, ctx, p, want, 1000)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := metricValue(t, r.Gatherer(), "producer_records_total"); n != records {
		t.Errorf("producer_records_total = %v, want %d", n, records)
	}
	if n := metricValue(t, r.Gatherer(), "producer_failed_records_total"); n != 0 {
		t.Errorf("producer_failed_records_total = %v, want 0", n)
	}
	messages := metricValue(t, r.Gatherer(), "producer_messages_total")
	t.Logf("%d records in %v messages (%.0f encoded bytes/record before compression)",
		records, messages, metricValue(t, r.Gatherer(), "producer_bytes_total")/records)

	got := consumeExactly(t, ctx, r, cfg, records)
	checkSameRecords(t, want, got)
	if n := metricValue(t, r.Gatherer(), "consumer_messages_total"); n != messages {
		t.Errorf("consumer_messages_total = %v, want %v (as produced)", n, messages)
	}

	// One more record, read by a new member of the group: it must get that
	// record alone, not the 20000 again, so the commits were honoured (the
	// group would otherwise start from the first offset).
	p, err = NewProducer(newTestReporter(t), cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	sentinel := randomFlows(3, 1, 1)
	produceAll(t, ctx, p, sentinel, 1)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkSameRecords(t, sentinel, consumeExactly(t, ctx, newTestReporter(t), cfg, 1))
}
