package siem

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	sent         *prometheus.CounterVec // by kind
	acknowledged *prometheus.CounterVec
	retried      prometheus.Counter
	dropped      *prometheus.CounterVec // by reason
	filtered     *prometheus.CounterVec
	sendErrors   prometheus.Counter
	sendDuration prometheus.Histogram
	spoolWaits   prometheus.Counter
	receiverUp   prometheus.Gauge
}

// Reasons an event can be dropped. Every one is counted from 0, so an
// operator can alert on any increase; none happens unless a format cannot
// encode a record (a bug, logged).
var dropReasons = []string{"encode-error"}

func newMetrics(m *reporter.Metrics, s *Sink) (metrics, error) {
	x := metrics{
		sent:         m.CounterVec("events_sent_total", "Events handed to the transport, first attempts only.", "kind"),
		acknowledged: m.CounterVec("events_acknowledged_total", "Events the receiver acknowledged.", "kind"),
		retried:      m.Counter("events_retried_total", "Events sent again after a failed attempt."),
		dropped:      m.CounterVec("events_dropped_total", "Events not delivered, by reason.", "reason"),
		filtered:     m.CounterVec("events_filtered_total", "Flows and alerts the sink's filter (or kinds) left out.", "kind"),
		sendErrors:   m.Counter("send_errors_total", "Failed sends to the receiver (each is retried)."),
		sendDuration: m.Histogram("send_duration_seconds", "Time of one successful send, to the receiver's acknowledgement.",
			prometheus.ExponentialBuckets(0.001, 4, 9)),
		spoolWaits: m.Counter("spool_full_waits_total", "Times a write waited because the sink's spool was full."),
		receiverUp: m.Gauge("receiver_up", "1 when the last attempt to reach the receiver (a send, or a readiness probe) succeeded, 0 when it failed or before any."),
	}
	for _, k := range []Kind{KindFlow, KindAlert} {
		x.sent.WithLabelValues(k.String())
		x.acknowledged.WithLabelValues(k.String())
		x.filtered.WithLabelValues(k.String())
	}
	for _, r := range dropReasons {
		x.dropped.WithLabelValues(r)
	}
	m.GaugeFunc("pending_events", "Delivery wait: events in the send under way. Delivery spool: spool entries (up to max-batch-events events, and up to the least of spool.segment-bytes, spool.max-bytes/2 and 64 MiB, each) not yet acknowledged by the receiver.",
		func() float64 { return float64(s.pending()) })
	m.GaugeFunc("lag_seconds", "Age of the oldest event not yet acknowledged, from when the sink took it; 0 when none waits.",
		func() float64 { return s.lag().Seconds() })
	if err := m.Err(); err != nil {
		return x, fmt.Errorf("siem: register metrics: %w", err)
	}
	return x, nil
}
