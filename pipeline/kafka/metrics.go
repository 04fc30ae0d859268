package kafka

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

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
	m := producerMetrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_messages_total", Help: "Kafka messages (record batches) acknowledged by the brokers.",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_records_total", Help: "Flow records acknowledged by the brokers.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_bytes_total", Help: "Encoded record bytes acknowledged by the brokers, before compression.",
		}),
		failedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_failed_records_total", Help: "Flow records Kafka did not take, after every retry.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "producer_errors_total", Help: "Failed produce requests (each may hold many messages), after every retry.",
		}),
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "producer_in_flight_messages", Help: "Messages handed to Kafka and not yet acknowledged.",
	}, inFlight)
	for _, c := range []prometheus.Collector{m.messages, m.records, m.bytes, m.failedRecords, m.errors, gauge} {
		if err := reg.Register(c); err != nil {
			return m, fmt.Errorf("registering producer metrics: %w", err)
		}
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
	m := consumerMetrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_messages_total", Help: "Kafka messages fetched and decoded.",
		}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_records_total", Help: "Flow records decoded from fetched messages.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_bytes_total", Help: "Message value bytes fetched (after decompression).",
		}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consumer_decode_errors_total", Help: "Fetched messages skipped because they could not be decoded, by reason.",
		}, []string{"reason"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consumer_commits_total", Help: "Offset commits sent to the group coordinator.",
		}),
	}
	// Both reasons appear at 0 from the start, so alerts see the series.
	m.decodeErrors.WithLabelValues(reasonMalformed)
	m.decodeErrors.WithLabelValues(reasonSchema)
	// The decoder's process-wide bounds, shared by every consumer.
	internOverflows := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "consumer_strings_not_interned_total", Help: "Decoded string values copied instead of shared because the intern table was full (memory, not data, is at stake).",
	}, func() float64 { return float64(record.InternOverflows()) })
	feedsRefused := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "consumer_feed_names_refused_total", Help: "Threat-feed names left out of decoded records: the process's 64-feed registry was full, or the name too long.",
	}, func() float64 { return float64(recordpb.FeedsRefused()) })
	for _, c := range []prometheus.Collector{m.messages, m.records, m.bytes, m.decodeErrors, m.commits, internOverflows, feedsRefused} {
		if err := reg.Register(c); err != nil {
			return m, fmt.Errorf("registering consumer metrics: %w", err)
		}
	}
	return m, nil
}
