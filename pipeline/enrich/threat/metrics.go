package threat

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

// feedMetrics are one feed's, resolved once so that Match does no label
// lookup.
type feedMetrics struct {
	entries, lastSuccess prometheus.Gauge
	loadErrors, badLines prometheus.Counter
	matches              prometheus.Counter
}

type metrics struct {
	prefixes prometheus.Gauge
	feeds    []feedMetrics
}

func newMetrics(r *reporter.Reporter, names []string) (*metrics, error) {
	entries := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "feed_entries", Help: "Addresses and prefixes the feed lists, as last loaded.",
	}, []string{"feed"})
	lastSuccess := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "feed_last_success_timestamp_seconds", Help: "When the feed was last loaded (or found unchanged) successfully, Unix seconds.",
	}, []string{"feed"})
	loadErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "feed_load_errors_total", Help: "Fetches or reads of the feed that failed; the previous entries were kept.",
	}, []string{"feed"})
	badLines := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "feed_bad_lines_total", Help: "Lines of the feed that were neither comments nor entries.",
	}, []string{"feed"})
	matches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "feed_matches_total", Help: "Addresses the feed matched.",
	}, []string{"feed"})
	m := &metrics{prefixes: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "table_prefixes", Help: "Distinct prefixes in the merged table of all feeds.",
	})}
	for _, name := range names {
		m.feeds = append(m.feeds, feedMetrics{
			entries:     entries.WithLabelValues(name),
			lastSuccess: lastSuccess.WithLabelValues(name),
			loadErrors:  loadErrors.WithLabelValues(name),
			badLines:    badLines.WithLabelValues(name),
			matches:     matches.WithLabelValues(name),
		})
	}
	for _, c := range []prometheus.Collector{entries, lastSuccess, loadErrors, badLines, matches, m.prefixes} {
		if err := r.Registerer().Register(c); err != nil {
			return nil, fmt.Errorf("register threat metrics: %w", err)
		}
	}
	return m, nil
}
