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
	f := r.Metrics()
	entries := f.GaugeVec("feed_entries", "Addresses and prefixes the feed lists, as last loaded.", "feed")
	lastSuccess := f.GaugeVec("feed_last_success_timestamp_seconds", "When the feed was last loaded (or found unchanged) successfully, Unix seconds.", "feed")
	loadErrors := f.CounterVec("feed_load_errors_total", "Fetches or reads of the feed that failed; the previous entries were kept.", "feed")
	badLines := f.CounterVec("feed_bad_lines_total", "Lines of the feed that were neither comments nor entries.", "feed")
	matches := f.CounterVec("feed_matches_total", "Addresses the feed matched.", "feed")
	m := &metrics{prefixes: f.Gauge("table_prefixes", "Distinct prefixes in the merged table of all feeds.")}
	for _, name := range names {
		m.feeds = append(m.feeds, feedMetrics{
			entries:     entries.WithLabelValues(name),
			lastSuccess: lastSuccess.WithLabelValues(name),
			loadErrors:  loadErrors.WithLabelValues(name),
			badLines:    badLines.WithLabelValues(name),
			matches:     matches.WithLabelValues(name),
		})
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register threat metrics: %w", err)
	}
	return m, nil
}
