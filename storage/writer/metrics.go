package writer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	rowsInserted    prometheus.Counter
	batchesInserted prometheus.Counter
	// Counter samples are counted apart, so that the flow counts stay
	// what they were.
	counterRowsInserted    prometheus.Counter
	counterBatchesInserted prometheus.Counter
	insertErrors           prometheus.Counter
	insertDuration         prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	// Names are bare: the caller's registerer adds the component prefix
	// (sluice_storage_writer_ under `sluice run`).
	m := &metrics{
		rowsInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rows_inserted_total",
			Help: "Flows inserted into storage.",
		}),
		batchesInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "batches_inserted_total",
			Help: "Batches inserted into storage.",
		}),
		counterRowsInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "counter_rows_inserted_total",
			Help: "Interface counter samples inserted into storage.",
		}),
		counterBatchesInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "counter_batches_inserted_total",
			Help: "Batches of interface counter samples inserted into storage.",
		}),
		insertErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "insert_errors_total",
			Help: "Failed insert attempts; each is retried while the caller waits.",
		}),
		insertDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "insert_duration_seconds",
			Help:    "Duration of insert attempts, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	for _, c := range []prometheus.Collector{m.rowsInserted, m.batchesInserted, m.counterRowsInserted, m.counterBatchesInserted, m.insertErrors, m.insertDuration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
