package spool

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

func (s *Spool) registerMetrics(labels prometheus.Labels) error {
	m := s.r.Metrics()
	if labels != nil {
		m = m.With(labels)
	}
	s.appended = m.Counter("appended_records_total", "Flow records written to the spool.")
	s.appendedBytes = m.Counter("appended_bytes_total", "Bytes written to the spool.")
	s.dropped = m.CounterVec("dropped_records_total", "Flow records dropped: because the spool was full, by policy; or found corrupt on disk (corrupt).", "policy")
	s.dropped.WithLabelValues(s.cfg.Policy)
	s.cursorErrors = m.Counter("cursor_errors_total", "Failed writes of the cursor file (the delivered position); after a crash, entries since the last good write are sent again.")
	m.GaugeFunc("bytes", "Bytes on disk in the spool (entries not yet acknowledged, and their segments).", func() float64 { _, b := s.Pending(); return float64(b) })
	m.GaugeFunc("entries", "Entries in the spool not yet acknowledged (Kafka messages, SIEM events, or the queue overflow's batches).", func() float64 { n, _ := s.Pending(); return float64(n) })
	m.GaugeFunc("capacity_bytes", "Configured bound of the spool.", func() float64 { return float64(s.cfg.MaxBytes) })
	if err := m.Err(); err != nil {
		return fmt.Errorf("spool: register metrics: %w", err)
	}
	return nil
}
