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
	m := &metrics{lookups: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lookups_total", Help: "Addresses looked up.",
	})}
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "misses_total", Help: "Lookups of an address the database does not list, by database (geo, asn).",
	}, []string{"database"})
	decodeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "decode_errors_total", Help: "Lookups whose database record could not be read, by database.",
	}, []string{"database"})
	loads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loads_total", Help: "Database files loaded (result=ok) or refused (result=failed, the previous one kept), by database.",
	}, []string{"database", "result"})
	buildEpoch := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "build_epoch_seconds", Help: "Build time (Unix seconds) of the database in use, from its metadata.",
	}, []string{"database"})
	collectors := []prometheus.Collector{m.lookups, misses, decodeErrors, loads, buildEpoch}
	for _, s := range sources {
		s.m = sourceMetrics{
			misses:        misses.WithLabelValues(s.role),
			decodeErrors:  decodeErrors.WithLabelValues(s.role),
			reloadsOK:     loads.WithLabelValues(s.role, "ok"),
			reloadsFailed: loads.WithLabelValues(s.role, "failed"),
			buildEpoch:    buildEpoch.WithLabelValues(s.role),
		}
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "decoded_records", Help: "Decoded records held for the database in use: every record of its IPv4 networks, decoded at load, and those IPv6 lookups met since (a record of both counts twice).",
			ConstLabels: prometheus.Labels{"database": s.role},
		}, func() float64 {
			if db := s.current.Load(); db != nil {
				return float64(db.ipv4.decoded) + float64(db.records.filled.Load())
			}
			return 0
		}))
	}
	for _, c := range collectors {
		if err := r.Registerer().Register(c); err != nil {
			return nil, fmt.Errorf("register geoip metrics: %w", err)
		}
	}
	return m, nil
}
