package syslog

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	events   prometheus.Counter
	bytes    prometheus.Counter
	batches  prometheus.Counter
	resent   prometheus.Counter
	connects prometheus.Counter
	errors   *prometheus.CounterVec
}

func newMetrics(r *reporter.Reporter, sink string, connected func() float64) (metrics, error) {
	f := r.Metrics().With(prometheus.Labels{"sink": sink})
	m := metrics{
		events:   f.Counter("events_sent_total", "Events written and flushed to the syslog receiver (TCP has no acknowledgement beyond that)."),
		bytes:    f.Counter("event_bytes_sent_total", "Event bytes (MSG, without the syslog header) written and flushed."),
		batches:  f.Counter("batches_sent_total", "Batches (Send calls) written and flushed."),
		resent:   f.Counter("events_resent_total", "Events written again over a new connection after a failed attempt: the receiver may see them twice."),
		connects: f.Counter("connects_total", "Connections opened to the receiver (TLS handshake included)."),
		errors:   f.CounterVec("send_errors_total", "Failed send attempts, by reason (connect, write, context), and connections found closed by the receiver before a batch (closed_by_receiver).", "reason"),
	}
	for _, reason := range []string{reasonConnect, reasonWrite, reasonContext, "closed_by_receiver"} {
		m.errors.WithLabelValues(reason)
	}
	f.GaugeFunc("connected", "1 while a connection to the receiver is open.", connected)
	if err := f.Err(); err != nil {
		return m, fmt.Errorf("registering syslog metrics: %w", err)
	}
	return m, nil
}
