package writer

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
)

type metrics struct {
	rowsInserted    prometheus.Counter
	batchesInserted prometheus.Counter
	// Counter samples are counted apart, so that the flow counts stay
	// what they were.
	// Rows of the exporters table, one per exporter, interface and side
	// seen in a batch of flows.
	exporterRowsInserted   prometheus.Counter
	counterRowsInserted    prometheus.Counter
	counterBatchesInserted prometheus.Counter
	insertErrors           prometheus.Counter
	insertDuration         prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	// Names are bare: the caller's registerer adds the component prefix
	// (sluice_storage_writer_ under `sluice run`).
	f := reporter.NewMetrics(reg)
	m := &metrics{
		rowsInserted:           f.Counter("rows_inserted_total", "Flows inserted into storage."),
		batchesInserted:        f.Counter("batches_inserted_total", "Batches inserted into storage."),
		exporterRowsInserted:   f.Counter("exporter_rows_inserted_total", "Rows inserted into the exporters table: one per exporter, interface and side seen in a batch of flows."),
		counterRowsInserted:    f.Counter("counter_rows_inserted_total", "Interface counter samples inserted into storage."),
		counterBatchesInserted: f.Counter("counter_batches_inserted_total", "Batches of interface counter samples inserted into storage."),
		insertErrors:           f.Counter("insert_errors_total", "Failed insert attempts; each is retried while the caller waits."),
		insertDuration: f.Histogram("insert_duration_seconds", "Duration of insert attempts, successful or not.",
			prometheus.ExponentialBuckets(0.001, 2, 16)),
	}
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}
