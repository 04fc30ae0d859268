package hec

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	events   prometheus.Counter
	acked    prometheus.Counter
	retried  *prometheus.CounterVec
	requests prometheus.Counter
	bytes    prometheus.Counter
	ackPolls prometheus.Counter
	ackWait  prometheus.Histogram
	errors   *prometheus.CounterVec
}

func newMetrics(r *reporter.Reporter, sink string) (metrics, error) {
	f := r.Metrics().With(prometheus.Labels{"sink": sink})
	m := metrics{
		events:   f.Counter("events_sent_total", "Events the HEC accepted (HTTP 200), before indexer acknowledgement."),
		acked:    f.Counter("events_acked_total", "Events the indexers acknowledged (ack: true)."),
		retried:  f.CounterVec("events_retried_total", "Events posted again, by the status that refused them (503, 429, 5xx, network).", "status"),
		requests: f.Counter("requests_total", "Requests to the event endpoint the HEC accepted."),
		bytes:    f.Counter("request_bytes_total", "Request body bytes the HEC accepted, after compression."),
		ackPolls: f.Counter("ack_polls_total", "Requests to the ack endpoint."),
		ackWait: f.Histogram("ack_wait_seconds", "Time from a batch's last accepted request to its last acknowledgement.",
			[]float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}),
		errors: f.CounterVec("send_errors_total", "Failed sends, by reason: refused (4xx: bad data, too large, token; the sink sends again until someone acts), retries_exhausted, ack_timeout, context; and ack_disabled, requests the HEC took without an ackId (the token has indexer acknowledgement off; taken as delivered).", "reason"),
	}
	for _, reason := range []string{reasonRefused, reasonExhausted, reasonAck, reasonContext, reasonAckOff} {
		m.errors.WithLabelValues(reason)
	}
	if err := f.Err(); err != nil {
		return m, fmt.Errorf("registering hec metrics: %w", err)
	}
	return m, nil
}
