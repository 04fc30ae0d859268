package detect

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	runs     *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	alerts   *prometheus.CounterVec
	open     *prometheus.GaugeVec

	watermark       prometheus.Gauge
	pending         prometheus.Gauge
	deliveryRetries *prometheus.CounterVec
	windowsSkipped  prometheus.Counter
	alertsDelivered *prometheus.CounterVec
	alertsDropped   *prometheus.CounterVec
	alertsCapped    *prometheus.CounterVec
	yieldSeconds    prometheus.Counter
	yieldTimeouts   prometheus.Counter
	backedOff       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	f := reporter.NewMetrics(reg)
	m := &metrics{
		runs:     f.CounterVec("runs_total", "Evaluations of each detection (one query over one or more windows).", "detection"),
		errors:   f.CounterVec("errors_total", "Failed evaluations of each detection; the windows are evaluated again at the next run.", "detection"),
		duration: f.HistogramVec("duration_seconds", "Duration of each detection's evaluations.", prometheus.ExponentialBuckets(0.005, 2, 14), "detection"),
		alerts:   f.CounterVec("alerts_total", "Alert records each detection emitted, by state (open: raised, updated, closed).", "detection", "state"),
		open:     f.GaugeVec("alerts_open", "Ongoing events of each detection.", "detection"),

		watermark:       f.Gauge("watermark_seconds", "End of the last evaluated window, in flow time (Unix seconds)."),
		pending:         f.Gauge("alerts_pending", "Alert records waiting to be stored or handed to a sink."),
		deliveryRetries: f.CounterVec("delivery_retries_total", "Failed attempts to store alerts or hand them to a sink, each retried.", "target"),
		alertsDelivered: f.CounterVec("alerts_delivered_total", "Alert records stored or accepted by a sink.", "target"),
		alertsDropped:   f.CounterVec("alerts_dropped_total", "Alert records dropped before a target took them: the queue (max-pending) was full.", "target"),
		alertsCapped:    f.CounterVec("alerts_capped_total", "Events not raised: more new alerts than max-new-alerts in one evaluation.", "detection"),
		windowsSkipped:  f.Counter("windows_skipped_total", "Window ends skipped: after downtime longer than max-catch-up, or by a detection stopped at max-query-time (its next query reads the newest window only)."),
		yieldSeconds:    f.Counter("yield_seconds_total", "Time the detections' queries waited for ingestion's backlog to clear."),
		yieldTimeouts:   f.Counter("yield_timeouts_total", "Queries run while ingestion still had a backlog, after waiting max-yield."),
		backedOff:       f.CounterVec("backed_off_total", "Runs that skipped a detection after its consecutive failures (retried later, not at every run).", "detection"),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}
