package kafka

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

type producerMetrics struct {
	messages      prometheus.Counter
	records       prometheus.Counter
	bytes         prometheus.Counter
	failedRecords prometheus.Counter
	errors        prometheus.Counter
}

func newProducerMetrics(reg prometheus.Registerer, inFlight func() float64) (producerMetrics, error) {
	f := reporter.NewMetrics(reg)
	m := producerMetrics{
		messages:      f.Counter("producer_messages_total", "Kafka messages (record batches) acknowledged by the brokers."),
		records:       f.Counter("producer_records_total", "Flow records acknowledged by the brokers."),
		bytes:         f.Counter("producer_bytes_total", "Encoded record bytes acknowledged by the brokers, before compression."),
		failedRecords: f.Counter("producer_failed_records_total", "Flow records Kafka did not take, after every retry."),
		errors:        f.Counter("producer_errors_total", "Failed produce requests (each may hold many messages), after every retry."),
	}
	f.GaugeFunc("producer_in_flight_messages", "Messages handed to Kafka and not yet acknowledged.", inFlight)
	if err := f.Err(); err != nil {
		return m, fmt.Errorf("registering producer metrics: %w", err)
	}
	return m, nil
}

type consumerMetrics struct {
	messages     prometheus.Counter
	records      prometheus.Counter
	bytes        prometheus.Counter
	decodeErrors *prometheus.CounterVec
	commits      prometheus.Counter
}

// Reasons a consumed message is skipped (consumer_decode_errors_total).
const (
	reasonMalformed = "malformed"
	reasonSchema    = "schema_version"
)

func newConsumerMetrics(reg prometheus.Registerer) (consumerMetrics, error) {
	f := reporter.NewMetrics(reg)
	m := consumerMetrics{
		messages:     f.Counter("consumer_messages_total", "Kafka messages fetched and decoded."),
		records:      f.Counter("consumer_records_total", "Flow records decoded from fetched messages."),
		bytes:        f.Counter("consumer_bytes_total", "Message value bytes fetched (after decompression)."),
		decodeErrors: f.CounterVec("consumer_decode_errors_total", "Fetched messages skipped because they could not be decoded, by reason.", "reason"),
		commits:      f.Counter("consumer_commits_total", "Offset commits sent to the group coordinator."),
	}
	// Both reasons appear at 0 from the start, so alerts see the series.
	m.decodeErrors.WithLabelValues(reasonMalformed)
	m.decodeErrors.WithLabelValues(reasonSchema)
	// The decoder's process-wide bounds, shared by every consumer.
	f.CounterFunc("consumer_strings_not_interned_total", "Decoded string values copied instead of shared because the intern table was full (memory, not data, is at stake).", func() float64 { return float64(record.InternOverflows()) })
	f.CounterFunc("consumer_feed_names_refused_total", "Threat-feed names left out of decoded records: the process's 64-feed registry was full, or the name too long.", func() float64 { return float64(recordpb.FeedsRefused()) })
	if err := f.Err(); err != nil {
		return m, fmt.Errorf("registering consumer metrics: %w", err)
	}
	return m, nil
}
