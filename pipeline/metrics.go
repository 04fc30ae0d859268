package pipeline

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

// metrics are the pipeline's, whatever its source (the in-process queue or
// Kafka): one of the two runs in a process.
type metrics struct {
	// pending counts records gathered and not yet written, for the
	// metrics scrape, which runs on another goroutine.
	pending  atomic.Int64
	received prometheus.Counter
	written  prometheus.Counter
	failed   prometheus.Counter
	flushes  *prometheus.HistogramVec
}

func newMetrics(r *reporter.Reporter) (*metrics, error) {
	f := r.Metrics()
	m := &metrics{
		received: f.Counter("records_received_total", "Records taken from the source."),
		written:  f.Counter("records_written_total", "Records every sink acknowledged."),
		failed:   f.Counter("records_failed_total", "Records a sink could not take before shutdown (or, from Kafka, a partition's hand-over) gave up on them."),
		flushes: f.HistogramVec("flush_seconds", "Time to hand one gathered batch to every sink, by trigger.",
			prometheus.ExponentialBuckets(0.001, 2, 16), "trigger"),
	}
	f.GaugeFunc("records_pending", "Records gathered and not yet written.", func() float64 { return float64(m.pending.Load()) })
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register pipeline metrics: %w", err)
	}
	return m, nil
}
