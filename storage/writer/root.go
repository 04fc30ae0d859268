// Package writer stores batches of flow records, the exporters and
// interfaces they carry (the exporters table), and batches of interface
// counter samples: it builds each batch's columns once
// (storage/clickhouse, from record.Columns for flows, schema.Exporters for
// the exporters table and schema.Counters for counters) and
// inserts them through an Inserter under a deduplication token, retrying
// until the insert succeeds or the caller gives up, so that storage being
// briefly unavailable loses nothing and a replayed batch is stored once.
// The embedded engine (storage/embedded) is the Inserter of the all-in-one
// deployment.
package writer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/schema"
)

// Inserter stores one batch whose columns the writer built once with
// clickhouse-go: the embedded engine (storage/embedded) encodes them as
// Native format, a server connection (storage/server) appends them to a
// native-protocol batch. A non-empty dedupToken makes a replay of the same
// batch insert nothing. The block is only valid during the call.
type Inserter interface {
	Insert(ctx context.Context, table, dedupToken string, block clickhouse.Block) error
}

// Dependencies are the writer's collaborators.
type Dependencies struct {
	Inserter Inserter // required
}

// Writer is the batch writer. Write and WriteCounters may be called from
// several goroutines; the batches of each are encoded and inserted one at a
// time, reusing one set of column buffers per table.
type Writer struct {
	cfg      Config
	inserter Inserter
	logger   *slog.Logger
	metrics  *metrics

	// tokenPrefix and tokenSeq name batches that come without a
	// deduplication token, so that the writer's own retries stay idempotent.
	tokenPrefix string
	tokenSeq    atomic.Uint64

	mu        sync.Mutex // guards builder and exporters
	builder   *clickhouse.BlockBuilder
	exporters *clickhouse.ExportersBuilder
	// fillExporters is whether the flows go to the schema's flows table,
	// whose exporters and interfaces the exporters table lists: flows
	// stored elsewhere (a copy of the table) must not add to it.
	fillExporters bool

	countersMu      sync.Mutex // guards countersBuilder
	countersBuilder *clickhouse.TableBuilder[record.Counter]

	// failing holds the error of the last insert attempt while inserts
	// fail, nil once one succeeds: readiness reports it.
	failing atomic.Pointer[error]
}

// Ready returns the last insert error while storage is failing, and nil
// when the last insert attempt succeeded (or none was made yet): a
// deployment whose inserts fail is not ready.
func (w *Writer) Ready() error {
	if p := w.failing.Load(); p != nil {
		return *p
	}
	return nil
}

// New returns a writer; it starts nothing. Its logger and metrics are
// those of r's package (storage/writer).
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Writer, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	if deps.Inserter == nil {
		return nil, fmt.Errorf("writer: no inserter")
	}
	m, err := newMetrics(r.Registerer())
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	exporters, err := clickhouse.NewExportersBuilder()
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	countersBuilder, err := clickhouse.NewTableBuilder(&schema.Counters)
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	fillExporters := cfg.Table == migrate.FlowsTable
	if !fillExporters {
		r.Logger.Info("flows go to another table than the schema's: the exporters table lists the exporters of "+
			migrate.FlowsTable+" only and is not filled", "table", cfg.Table, "exporters_table", exportersTable)
	}
	return &Writer{
		cfg:             cfg,
		inserter:        deps.Inserter,
		logger:          r.Logger,
		metrics:         m,
		tokenPrefix:     fmt.Sprintf("sluice-writer-%d-", time.Now().UnixNano()),
		builder:         builder,
		exporters:       exporters,
		fillExporters:   fillExporters,
		countersBuilder: countersBuilder,
	}, nil
}

// Start does nothing: the writer has no background work, it inserts in
// its callers' goroutines.
func (w *Writer) Start(context.Context) error { return nil }

// Stop does nothing, as Start: a write in progress is bounded by its
// caller's context, not by the writer's lifecycle.
func (w *Writer) Stop(context.Context) error { return nil }

// Write stores a batch of flows, as WriteBatches does a list of one.
func (w *Writer) Write(ctx context.Context, flows []record.Flow, dedupToken string) error {
	return w.WriteBatches(ctx, [][]record.Flow{flows}, dedupToken)
}

// WriteBatches stores batches of flows in one insert, appending the
// columns of each in turn: the pipeline hands over the batches it gathered
// as they are, without copying their records into one slice. dedupToken
// identifies the insert (for batches read from Kafka: their partition and
// offsets), so that writing it again after a crash stores nothing twice;
// when empty, the writer makes one up for its own retries. Once the flows
// are stored, the exporters and interfaces they carry are inserted into
// the exporters table under dedupToken + "/exporters" (see
// clickhouse.ExportersBuilder), when the flows go to the schema's flows
// table (storage.writer.table at its default). WriteBatches returns once both are stored,
// or with the last insert error when ctx ends first; a caller that writes
// the batches again under the same token then stores what is missing.
func (w *Writer) WriteBatches(ctx context.Context, batches [][]record.Flow, dedupToken string) error {
	rows := 0
	for _, flows := range batches {
		rows += len(flows)
	}
	if rows == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.builder.Reset()
	w.exporters.Reset()
	for _, flows := range batches {
		// One pass: each flow is still in the CPU's cache when its
		// exporter and interfaces are counted.
		for i := range flows {
			w.builder.Append(&flows[i])
			if w.fillExporters {
				w.exporters.AddFlow(&flows[i])
			}
		}
	}
	token := w.token(dedupToken)
	if err := w.insert(ctx, w.cfg.Table, token, w.builder); err != nil {
		return err
	}
	w.metrics.rowsInserted.Add(float64(rows))
	w.metrics.batchesInserted.Inc()
	if w.exporters.Rows() == 0 {
		return nil
	}
	if err := w.insert(ctx, exportersTable, token+exportersTokenSuffix, w.exporters); err != nil {
		return err
	}
	w.metrics.exporterRowsInserted.Add(float64(w.exporters.Rows()))
	return nil
}

// exportersTable is where WriteBatches stores the exporters and
// interfaces of the flows.
var exportersTable = migrate.ExportersTable

// exportersTokenSuffix tells the exporters insert of a batch apart from
// its flows insert, which has the batch's token.
const exportersTokenSuffix = "/exporters"

// WriteCounters stores a batch of interface counter samples in
// interface_counters, as Write stores flows: columns built from
// schema.Counters, inserted as one block under dedupToken (or a token of
// the writer's own when empty), retried until stored or ctx ends.
func (w *Writer) WriteCounters(ctx context.Context, rows []record.Counter, dedupToken string) error {
	if len(rows) == 0 {
		return nil
	}
	w.countersMu.Lock()
	defer w.countersMu.Unlock()
	w.countersBuilder.Reset()
	w.countersBuilder.AppendRows(rows)
	if err := w.insert(ctx, countersTable, w.token(dedupToken), w.countersBuilder); err != nil {
		return err
	}
	w.metrics.counterRowsInserted.Add(float64(len(rows)))
	w.metrics.counterBatchesInserted.Inc()
	return nil
}

// countersTable is where WriteCounters stores counter samples.
var countersTable = schema.Counters.Qualified()

// token returns dedupToken, or when it is empty one the writer makes up, so
// that its own retries stay idempotent.
func (w *Writer) token(dedupToken string) string {
	if dedupToken != "" {
		return dedupToken
	}
	return fmt.Sprintf("%s%d", w.tokenPrefix, w.tokenSeq.Add(1))
}

// insert stores one block, retrying with a growing wait until it is stored
// or ctx ends.
func (w *Writer) insert(ctx context.Context, table, dedupToken string, block clickhouse.Block) error {
	wait := w.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.inserter.Insert(ctx, table, dedupToken, block)
		w.metrics.insertDuration.Observe(time.Since(start).Seconds())
		if err == nil {
			w.failing.Store(nil)
			if attempt > 1 {
				w.logger.Info("insert succeeded after retries", "table", table, "attempts", attempt)
			}
			return nil
		}
		w.metrics.insertErrors.Inc()
		failed := fmt.Errorf("storage: insert into %s failing (attempt %d): %w", table, attempt, err)
		w.failing.Store(&failed)
		if ctx.Err() != nil {
			return fmt.Errorf("writer: insert %d rows into %s, gave up after %d attempts: %w", block.Rows(), table, attempt, err)
		}
		// One line per attempt: the growing wait already limits the rate.
		w.logger.Warn("insert failed, retrying", "table", table, "rows", block.Rows(),
			"attempt", attempt, "retry_in", wait, "error", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("writer: insert %d rows into %s, gave up after %d attempts: %w", block.Rows(), table, attempt, err)
		case <-timer.C:
		}
		wait = min(2*wait, w.cfg.RetryMax)
	}
}
