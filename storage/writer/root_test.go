package writer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
)

// insertFunc adapts a function to Inserter. The writer's storage path is
// tested against the real engine in storage/embedded; these tests cover its
// retry logic, which needs an insert that fails on demand.
type insertFunc func(ctx context.Context, table, token string, data []byte) error

// Insert hands the test the Native encoding of the batch, to compare
// retries byte for byte.
func (f insertFunc) Insert(ctx context.Context, table, token string, block clickhouse.Block) error {
	data, err := block.EncodeNative(nil)
	if err != nil {
		return err
	}
	return f(ctx, table, token, data)
}

func newTestWriter(t *testing.T, ins Inserter) (*Writer, prometheus.Gatherer) {
	t.Helper()
	return newTestWriterConfig(t, ins, DefaultConfig())
}

func newTestWriterConfig(t *testing.T, ins Inserter, cfg Config) (*Writer, prometheus.Gatherer) {
	t.Helper()
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 4*time.Millisecond
	w, err := New(r, cfg, Dependencies{Inserter: ins})
	if err != nil {
		t.Fatal(err)
	}
	return w, r.Gatherer()
}

// metricValue reads the writer's metric name (without its package prefix).
func metricValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "sluice_storage_writer_"+name {
			m := f.GetMetric()[0]
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// flakyStorage records every insert attempt into table and fails the first
// failures of them; inserts into other tables (the exporters table after
// the flows) succeed, and are recorded apart.
type flakyStorage struct {
	t        *testing.T
	table    string
	failures int
	attempts int
	seen     [][]byte
	tokens   []string
	others   []string // "table token" of the inserts into other tables
}

func (s *flakyStorage) insert(_ context.Context, table, token string, data []byte) error {
	if table != s.table {
		s.others = append(s.others, table+" "+token)
		return nil
	}
	s.attempts++
	s.seen = append(s.seen, bytes.Clone(data))
	s.tokens = append(s.tokens, token)
	if s.attempts <= s.failures {
		return errors.New("storage unavailable")
	}
	return nil
}

func TestWriteRetriesUntilStored(t *testing.T) {
	storage := &flakyStorage{t: t, table: "sluice.flows", failures: 2}
	w, reg := newTestWriter(t, insertFunc(storage.insert))
	flows := clickhouse.GenerateFlows(100, 1)
	if err := w.Write(t.Context(), flows, ""); err != nil {
		t.Fatal(err)
	}
	if storage.attempts != 3 {
		t.Fatalf("%d attempts, want 3", storage.attempts)
	}
	for i := 1; i < len(storage.seen); i++ {
		if !bytes.Equal(storage.seen[i], storage.seen[0]) || storage.tokens[i] != storage.tokens[0] {
			t.Errorf("attempt %d sent other data or token than the first", i+1)
		}
	}
	if storage.tokens[0] == "" {
		t.Error("no token made up for a batch without one")
	}
	// Once the flows are stored, their exporters and interfaces are, under
	// the batch's token with a suffix.
	if want := []string{"sluice.exporters " + storage.tokens[0] + "/exporters"}; !slices.Equal(storage.others, want) {
		t.Errorf("other inserts %q, want %q", storage.others, want)
	}
	exporterRows := exportersRows(t, flows)
	for name, want := range map[string]float64{
		"rows_inserted_total":          100,
		"batches_inserted_total":       1,
		"exporter_rows_inserted_total": float64(exporterRows),
		"insert_errors_total":          2,
		"insert_duration_seconds":      4,
	} {
		if got := metricValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	// The next batch without a token gets another one.
	if err := w.Write(t.Context(), flows, ""); err != nil {
		t.Fatal(err)
	}
	if storage.tokens[len(storage.tokens)-1] == storage.tokens[0] {
		t.Error("two batches got the same made-up token")
	}
}

func TestWriteGivesUpWithContext(t *testing.T) {
	cause := errors.New("storage unavailable")
	w, reg := newTestWriter(t, insertFunc(func(context.Context, string, string, []byte) error { return cause }))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := w.Write(ctx, clickhouse.GenerateFlows(10, 1), "token")
	if !errors.Is(err, cause) {
		t.Fatalf("Write = %v, want the insert error", err)
	}
	if got := metricValue(t, reg, "insert_errors_total"); got < 2 {
		t.Errorf("insert_errors_total = %v, want several attempts", got)
	}
	if got := metricValue(t, reg, "rows_inserted_total"); got != 0 {
		t.Errorf("rows_inserted_total = %v, want 0", got)
	}
}

func TestWriteEmptyBatch(t *testing.T) {
	w, _ := newTestWriter(t, insertFunc(func(context.Context, string, string, []byte) error {
		t.Error("empty batch inserted")
		return nil
	}))
	if err := w.Write(t.Context(), nil, "token"); err != nil {
		t.Fatal(err)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	bad := DefaultConfig()
	bad.RetryMax = bad.RetryMin / 2
	if err := bad.Validate(); err == nil {
		t.Error("retry-max below retry-min accepted")
	}
	if _, err := New(reporter.New(slog.New(slog.DiscardHandler)), DefaultConfig(), Dependencies{}); err == nil {
		t.Error("writer without inserter accepted")
	}
}

// Ready reports a failing storage while inserts fail and clears once one
// succeeds: /readyz shows it.
func TestReadyTracksFailingInserts(t *testing.T) {
	fail := make(chan bool, 10)
	observed := make(chan error, 10)
	var w *Writer
	w, _ = newTestWriter(t, insertFunc(func(context.Context, string, string, []byte) error {
		if <-fail {
			return errors.New("disk full")
		}
		observed <- w.Ready() // still failing from the attempt before
		return nil
	}))
	if w.Ready() != nil {
		t.Fatal("a new writer must not report an error")
	}
	fail <- true
	fail <- false // the flows
	fail <- false // their exporters
	if err := w.Write(t.Context(), clickhouse.GenerateFlows(3, 1), ""); err != nil {
		t.Fatal(err)
	}
	if err := <-observed; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Ready during the retry = %v, want the insert error", err)
	}
	if err := w.Ready(); err != nil {
		t.Fatalf("Ready after a successful insert = %v", err)
	}
}

// exportersRows returns the number of exporters table rows of flows.
func exportersRows(t *testing.T, flows []record.Flow) int {
	t.Helper()
	b, err := clickhouse.NewExportersBuilder()
	if err != nil {
		t.Fatal(err)
	}
	b.AddFlows(flows)
	return b.Rows()
}

// Flows written to another table than the schema's (a copy, for a test
// or a trial) leave the exporters table alone: it lists the exporters of
// sluice.flows, which these flows are not in.
func TestWriteElsewhereLeavesExportersAlone(t *testing.T) {
	storage := &flakyStorage{t: t, table: "sluice.flows_trial"}
	cfg := DefaultConfig()
	cfg.Table = storage.table
	w, reg := newTestWriterConfig(t, insertFunc(storage.insert), cfg)
	if err := w.Write(t.Context(), clickhouse.GenerateFlows(100, 1), "trial-1"); err != nil {
		t.Fatal(err)
	}
	if storage.attempts != 1 || len(storage.others) != 0 {
		t.Errorf("inserts: %d into %s, others %q; want 1 and none", storage.attempts, storage.table, storage.others)
	}
	if got := metricValue(t, reg, "exporter_rows_inserted_total"); got != 0 {
		t.Errorf("exporter_rows_inserted_total = %v, want 0", got)
	}
}

// A failing exporters insert is retried as the flows' is, under the
// batch's token with a suffix, and the flows are not inserted again.
func TestWriteRetriesExporters(t *testing.T) {
	var tables, tokens []string
	exportersFailures := 2
	w, reg := newTestWriter(t, insertFunc(func(_ context.Context, table, token string, data []byte) error {
		tables, tokens = append(tables, table), append(tokens, token)
		if table == "sluice.exporters" && exportersFailures > 0 {
			exportersFailures--
			return errors.New("exporters table unavailable")
		}
		return nil
	}))
	flows := clickhouse.GenerateDemoShapedFlows(500, 1)
	if err := w.Write(t.Context(), flows, "batch-1"); err != nil {
		t.Fatal(err)
	}
	wantTables := []string{"sluice.flows", "sluice.exporters", "sluice.exporters", "sluice.exporters"}
	wantTokens := []string{"batch-1", "batch-1/exporters", "batch-1/exporters", "batch-1/exporters"}
	if !slices.Equal(tables, wantTables) || !slices.Equal(tokens, wantTokens) {
		t.Fatalf("inserts into %q with tokens %q, want %q with %q", tables, tokens, wantTables, wantTokens)
	}
	if got, want := metricValue(t, reg, "exporter_rows_inserted_total"), float64(exportersRows(t, flows)); got != want || want == 0 {
		t.Errorf("exporter_rows_inserted_total = %v, want %v", got, want)
	}
	if got := metricValue(t, reg, "rows_inserted_total"); got != 500 {
		t.Errorf("rows_inserted_total = %v, want 500", got)
	}
}

// The writer is the pipeline's storage for counter samples too.
var _ pipeline.CounterSink = (*Writer)(nil)

// A counters batch goes the flows' way: retried with the same bytes and
// token until stored, into interface_counters, counted apart from flows.
func TestWriteCountersRetriesUntilStored(t *testing.T) {
	storage := &flakyStorage{t: t, table: "sluice.interface_counters", failures: 1}
	w, reg := newTestWriter(t, insertFunc(storage.insert))
	rows := []record.Counter{{TimeReceived: 1_700_000_000e9, IfIndex: 3}, {TimeReceived: 1_700_000_020e9, IfIndex: 3, IfInOctets: 1 << 40}}
	if err := w.WriteCounters(t.Context(), rows, "counters/run/1"); err != nil {
		t.Fatal(err)
	}
	if storage.attempts != 2 || !bytes.Equal(storage.seen[0], storage.seen[1]) || storage.tokens[0] != "counters/run/1" || storage.tokens[1] != storage.tokens[0] {
		t.Fatalf("%d attempts, tokens %q; want 2 attempts of the same bytes under the batch's token", storage.attempts, storage.tokens)
	}
	for name, want := range map[string]float64{
		"counter_rows_inserted_total":    2,
		"counter_batches_inserted_total": 1,
		"rows_inserted_total":            0,
		"insert_errors_total":            1,
	} {
		if got := metricValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := w.WriteCounters(t.Context(), nil, "empty"); err != nil || storage.attempts != 2 {
		t.Errorf("empty batch: %v, %d attempts", err, storage.attempts)
	}
}
