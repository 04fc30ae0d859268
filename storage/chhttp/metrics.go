package chhttp

import (
	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	requests  *prometheus.CounterVec // by user kind and outcome
	refused   *prometheus.CounterVec // bad requests, by reason
	queued    prometheus.Gauge
	running   prometheus.Gauge
	duration  prometheus.Histogram
	respBytes prometheus.Counter
}

func newMetrics(r *reporter.Reporter) (*metrics, error) {
	m := r.Metrics()
	out := &metrics{
		requests: m.CounterVec("requests_total", "Queries answered, by user kind (analyst, writer) and outcome (ok, error).", "user", "outcome"),
		refused: m.CounterVec("refused_total", "Requests refused before or by the engine, by reason (auth, setting, readonly, busy, query, bad_request, not_found).",
			"reason"),
		queued:    m.Gauge("queries_queued", "Queries waiting for their turn."),
		running:   m.Gauge("queries_running", "Queries running in the engine."),
		duration:  m.Histogram("query_duration_seconds", "Time from a query's turn to its answer.", prometheus.ExponentialBuckets(0.001, 4, 10)),
		respBytes: m.Counter("response_bytes_total", "Bytes of query results sent, before compression."),
	}
	return out, m.Err()
}
