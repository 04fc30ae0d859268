package geoip

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	lookups prometheus.Counter
}

// sourceMetrics are one database's counters, resolved once so that the
// lookup path does no label lookup.
type sourceMetrics struct {
	misses, decodeErrors     prometheus.Counter
	reloadsOK, reloadsFailed prometheus.Counter
	buildEpoch               prometheus.Gauge
}

func newMetrics(r *reporter.Reporter, sources []*source) (*metrics, error) {
	f := r.Metrics()
	m := &metrics{lookups: f.Counter("lookups_total", "Addresses looked up.")}
	misses := f.CounterVec("misses_total", "Lookups of an address the database does not list, by database (geo, asn).", "database")
	decodeErrors := f.CounterVec("decode_errors_total", "Lookups whose database record could not be read, by database.", "database")
	loads := f.CounterVec("loads_total", "Database files loaded (result=ok) or refused (result=failed, the previous one kept), by database.", "database", "result")
	buildEpoch := f.GaugeVec("build_epoch_seconds", "Build time (Unix seconds) of the database in use, from its metadata.", "database")
	for _, s := range sources {
		s.m = sourceMetrics{
			misses:        misses.WithLabelValues(s.role),
			decodeErrors:  decodeErrors.WithLabelValues(s.role),
			reloadsOK:     loads.WithLabelValues(s.role, "ok"),
			reloadsFailed: loads.WithLabelValues(s.role, "failed"),
			buildEpoch:    buildEpoch.WithLabelValues(s.role),
		}
		f.With(prometheus.Labels{"database": s.role}).GaugeFunc("decoded_records", "Decoded records held for the database in use: every record of its IPv4 networks, decoded at load, and those IPv6 lookups met since (a record of both counts twice).", func() float64 {
			if db := s.current.Load(); db != nil {
				return float64(db.ipv4.decoded) + float64(db.records.filled.Load())
			}
			return 0
		})
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register geoip metrics: %w", err)
	}
	return m, nil
}
