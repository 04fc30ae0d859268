package rollup

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	passes   prometheus.Counter
	errors   prometheus.Counter
	duration prometheus.Histogram
	windows  *prometheus.CounterVec
	cursor   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	f := reporter.NewMetrics(reg)
	m := &metrics{
		passes:   f.Counter("passes_total", "Passes of the roller that completed: every window touched since the previous pass rolled up."),
		errors:   f.Counter("errors_total", "Passes that failed; their windows are rolled up at the next pass."),
		duration: f.Histogram("pass_duration_seconds", "Duration of each pass.", prometheus.ExponentialBuckets(0.01, 2, 14)),
		windows:  f.CounterVec("windows_total", "Windows rolled up into the coarse rollups, by grain (5m, 1h), each counted once per family.", "grain"),
		cursor:   f.Gauge("cursor_seconds", "Insert time (Unix seconds) up to which every touched window is rolled up."),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}
