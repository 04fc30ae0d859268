package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/writer"
)

// writeCtx bounds a write: the writer retries failed inserts for as long as
// its context lives.
func writeCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// migrateSchema creates the schema without TTLs: generated flows carry
// dates from 2020 to 2035, which TTL merges would delete mid-test.
func migrateSchema(t testing.TB) {
	t.Helper()
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WithQuery(queryTSV).Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
}

func queryTSV(ctx context.Context, sql string) (string, error) {
	out, err := engine.Query(ctx, sql, "TSV")
	return string(out), err
}

func query(t testing.TB, sql string) string {
	t.Helper()
	out, err := engine.Query(t.Context(), sql, "TSVRaw")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func count(t testing.TB, table string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(query(t, "SELECT count() FROM "+table)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func truncate(t testing.TB) {
	t.Helper()
	tables := []string{migrate.FlowsTable}
	for _, r := range migrate.Rollups {
		tables = append(tables, r.QualifiedTable())
	}
	for _, table := range tables {
		if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+table); err != nil {
			t.Fatal(err)
		}
	}
}

func newWriter(t testing.TB) *writer.Writer {
	t.Helper()
	w, _ := newWriterMetrics(t)
	return w
}

// newWriterMetrics returns a writer into the shared engine and the
// registry of its metrics.
func newWriterMetrics(t testing.TB) (*writer.Writer, prometheus.Gatherer) {
	t.Helper()
	r := reporter.New(slog.New(slog.NewTextHandler(t.Output(), nil)))
	w, err := writer.New(r, writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
	if err != nil {
		t.Fatal(err)
	}
	return w, r.Gatherer()
}

func TestMigrateTwice(t *testing.T) {
	migrateSchema(t)
	migrateSchema(t)

	var want strings.Builder
	for i, c := range record.Columns {
		fmt.Fprintf(&want, "%d\t%s\t%s\t%s\n", i+1, c.Name, c.Type, c.Doc)
	}
	got := query(t, "SELECT position, name, type, comment FROM system.columns WHERE database = 'sluice' AND table = 'flows' ORDER BY position")
	if got != want.String() {
		t.Errorf("sluice.flows columns:\n%s\nwant (record.Columns):\n%s", got, want.String())
	}
	got = query(t, "SELECT name, engine FROM system.tables WHERE database = 'sluice' ORDER BY name")
	tables := []string{"flows\tMergeTree", "schema_migrations\tReplacingMergeTree", "alerts\tReplacingMergeTree",
		"asn_names\tMergeTree", "asn_names_dict\tDictionary",
		"exporters\tReplacingMergeTree",
		"icmp_types\tMergeTree", "icmp_types_dict\tDictionary", "protocols\tMergeTree", "protocols_dict\tDictionary",
		"services\tMergeTree", "services_dict\tDictionary", "interface_counters\tMergeTree"}
	for _, r := range migrate.Rollups {
		tables = append(tables, r.Table+"\tSummingMergeTree", r.Table+"_mv\tMaterializedView")
	}
	slices.Sort(tables)
	if want := strings.Join(tables, "\n") + "\n"; got != want {
		t.Errorf("tables:\n%s\nwant:\n%s", got, want)
	}
	got = query(t, "SELECT name, type_full FROM system.data_skipping_indices WHERE database = 'sluice' AND table = 'flows' ORDER BY name")
	if want := "idx_DstAS\tbloom_filter(0.01)\nidx_DstAddr\tbloom_filter(0.01)\nidx_DstPort\tbloom_filter(0.01)\nidx_SrcAS\tbloom_filter(0.01)\nidx_SrcAddr\tbloom_filter(0.01)\nidx_SrcPort\tbloom_filter(0.01)\nidx_TimeFlowStart\tminmax\n"; got != want {
		t.Errorf("skip indexes:\n%s\nwant:\n%s", got, want)
	}
	// The reference data answers through its dictionaries, once, after two runs.
	got = query(t, "SELECT dictGet('sluice.protocols_dict', 'Name', toUInt64(6)), dictGet('sluice.services_dict', 'Name', (toUInt8(6), toUInt16(443))), "+
		"dictGet('sluice.icmp_types_dict', 'Name', (toUInt16(34525), toUInt8(135))), (SELECT count() FROM sluice.protocols), (SELECT count() FROM sluice.protocols WHERE Proto = 17)")
	if !strings.HasPrefix(got, "TCP\thttps\tneighbor-solicitation\t") || !strings.HasSuffix(got, "\t1\n") {
		t.Errorf("reference data: %q", got)
	}
	got = query(t, "SELECT version FROM sluice.schema_migrations ORDER BY version")
	want.Reset()
	for _, v := range migrate.Versions() {
		fmt.Fprintf(&want, "%d\n", v)
	}
	if got != want.String() {
		t.Errorf("schema_migrations after two runs:\n%s\nwant:\n%s", got, want.String())
	}
}

// TestInsertRoundTrip writes generated flows through the writer (columns
// built by clickhouse-go, Native into chDB) and reads every field of every
// row back with SQL.
func TestInsertRoundTrip(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	w, reg := newWriterMetrics(t)
	_ = w

	var all []record.Flow
	for batch := range 3 {
		flows := clickhouse.GenerateFlows(2000+batch, uint64(batch))
		if err := w.Write(writeCtx(t), flows, fmt.Sprintf("roundtrip-%d", batch)); err != nil {
			t.Fatal(err)
		}
		all = append(all, flows...)
	}

	var exprs []string
	for _, c := range record.Columns {
		name := clickhouse.QuoteIdentifier(c.Name)
		switch c.Kind {
		case record.KindDateTime:
			exprs = append(exprs, "toUnixTimestamp("+name+")")
		case record.KindDateTime64ms:
			exprs = append(exprs, "toUnixTimestamp64Milli("+name+")")
		case record.KindFeedSet:
			exprs = append(exprs, "arrayStringConcat("+name+", ',')")
		default:
			exprs = append(exprs, name)
		}
	}
	got := strings.Split(strings.TrimSuffix(query(t, "SELECT "+strings.Join(exprs, ", ")+" FROM sluice.flows"), "\n"), "\n")
	want := make([]string, len(all))
	for i := range all {
		want[i] = tsvRow(&all[i])
	}
	sameRows(t, got, want)

	if got := counterValue(t, reg, "sluice_storage_writer_rows_inserted_total"); got != float64(len(all)) {
		t.Errorf("rows_inserted_total = %v, want %d", got, len(all))
	}
}

// sameRows compares the rows read with those written, in any order.
func sameRows(t *testing.T, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if len(got) != len(want) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row differs:\n got: %s\nwant: %s", got[i], want[i])
		}
	}
}

// enumNames finds the names of an Enum8 type's values, in value order.
var enumNames = regexp.MustCompile(`'([^']*)' = \d+`)

// tsvRow formats a flow as the round-trip query's TSV output: times as Unix
// seconds and milliseconds, the enum by name, addresses as ClickHouse
// prints them (IPv4 mapped as ::ffff:a.b.c.d).
func tsvRow(f *record.Flow) string {
	fields := make([]string, len(record.Columns))
	for i, c := range record.Columns {
		switch c.Kind {
		case record.KindDateTime:
			fields[i] = strconv.FormatInt(int64(c.Uint(f))/1e9, 10)
		case record.KindDateTime64ms:
			fields[i] = strconv.FormatInt(int64(c.Uint(f)), 10)
		case record.KindEnum8:
			fields[i] = enumNames.FindAllStringSubmatch(c.Type, -1)[c.Uint(f)][1]
		case record.KindString:
			fields[i] = *c.Str(f)
		case record.KindCommunityID:
			fields[i] = c.Hash(f).String()
		case record.KindFeedSet:
			fields[i] = strings.Join(record.FeedSet(c.Uint(f)).Names(nil), ",")
		case record.KindIPv6:
			a := *c.Addr(f)
			if ip := netip.AddrFrom16(a); ip.Is4In6() {
				fields[i] = "::ffff:" + ip.Unmap().String()
			} else {
				fields[i] = ip.String()
			}
		default:
			fields[i] = strconv.FormatUint(c.Uint(f), 10)
		}
	}
	return strings.Join(fields, "\t")
}

func counterValue(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestReplayedBatchInsertsNothing(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	w := newWriter(t)
	flows := clickhouse.GenerateFlows(1000, 42)
	for range 3 {
		if err := w.Write(writeCtx(t), flows, "partition-3-offsets-100-1099"); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, migrate.FlowsTable); n != len(flows) {
		t.Errorf("after three writes with one token: %d rows, want %d", n, len(flows))
	}
	rollupFlows := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(query(t, "SELECT sum(Flows) FROM sluice.flows_1m")))
		return n
	}
	// The rollups' views see every insert, replays included: they must
	// deduplicate as the raw table does.
	if n := rollupFlows(); n != len(flows) {
		t.Errorf("after three writes with one token, the 1m rollup counts %d flows, want %d", n, len(flows))
	}
	if err := w.Write(writeCtx(t), flows, "partition-3-offsets-1100-2099"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, migrate.FlowsTable); n != 2*len(flows) {
		t.Errorf("after a write with a new token: %d rows, want %d", n, 2*len(flows))
	}
	if n := rollupFlows(); n != 2*len(flows) {
		t.Errorf("after a write with a new token, the 1m rollup counts %d flows, want %d", n, 2*len(flows))
	}
}

// Every rollup holds exactly the raw table's aggregate, scaled by the
// sampling rate, for every bucket and dimension.
func TestRollupsEqualRawAggregate(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	w := newWriter(t)
	for seed := range uint64(4) {
		// Realistic values: a few exporters and interfaces, so buckets
		// really aggregate, and counters whose products fit in UInt64.
		flows := realisticFlows(5000, 100+seed, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(time.Duration(seed)*time.Hour))
		if err := w.Write(writeCtx(t), flows, fmt.Sprintf("rollup-test-%d", seed)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range migrate.Rollups {
		dims := strings.Join(r.Dimensions, ", ")
		bucket := map[time.Duration]string{time.Minute: "toStartOfMinute", 5 * time.Minute: "toStartOfFiveMinutes", time.Hour: "toStartOfHour"}[r.Interval]
		raw := query(t, fmt.Sprintf("SELECT %s(TimeReceived) AS T, %s, sum(Bytes * SamplingRate), sum(Packets * SamplingRate), count() FROM sluice.flows GROUP BY T, %s ORDER BY ALL", bucket, dims, dims))
		rolled := query(t, fmt.Sprintf("SELECT TimeReceived, %s, sum(Bytes), sum(Packets), sum(Flows) FROM %s GROUP BY ALL ORDER BY ALL", dims, r.QualifiedTable()))
		if raw != rolled {
			t.Errorf("%s differs from the raw aggregate (%d vs %d bytes of TSV)", r.Table, len(rolled), len(raw))
		}
		if strings.Count(raw, "\n") < 10 {
			t.Fatalf("%s: only %d buckets: the test aggregates nothing", r.Table, strings.Count(raw, "\n"))
		}
	}
}

// Rollups created over existing flows are filled from them, once.
func TestRollupBackfill(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	w := newWriter(t)
	flows := clickhouse.GenerateFlows(2000, 7)
	for i := range flows {
		flows[i].Bytes, flows[i].SamplingRate = 100, 10
	}
	if err := w.Write(writeCtx(t), flows, "backfill-test"); err != nil {
		t.Fatal(err)
	}
	// As if the rollups were new: drop them, then migrate again.
	for _, r := range migrate.Rollups {
		for _, stmt := range []string{"DROP VIEW IF EXISTS " + r.QualifiedTable() + "_mv", "DROP TABLE IF EXISTS " + r.QualifiedTable()} {
			if err := engine.Exec(t.Context(), stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.MigrationsTable); err != nil {
		t.Fatal(err)
	}
	migrateSchema(t)
	migrateSchema(t) // the second run must not backfill again
	for _, r := range migrate.Rollups {
		got := query(t, "SELECT sum(Flows), sum(Bytes) FROM "+r.QualifiedTable())
		if want := fmt.Sprintf("%d\t%d\n", len(flows), len(flows)*100*10); got != want {
			t.Errorf("%s after backfill: %q, want %q", r.Table, got, want)
		}
	}
}

func TestQueryReadOnly(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	if err := newWriter(t).Write(writeCtx(t), clickhouse.GenerateFlows(10, 1), ""); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	allowed := map[string]string{
		"SELECT count() FROM sluice.flows":                                                        "10\n",
		"  select count() from sluice.flows ; ":                                                   "10\n",
		"WITH x AS (SELECT 1 AS a) SELECT a FROM (SELECT a FROM x UNION ALL SELECT 2) ORDER BY a": "1\n2\n", // a UNION's parts come in any order
		"SELECT 1 EXCEPT SELECT 2":                                                                "1\n",
		"SELECT count() FROM (SELECT * FROM sluice.flows) -- comment":                             "10\n",
		"SHOW TABLES FROM sluice LIKE '%migrations'":                                              "schema_migrations\n",
		"EXISTS TABLE sluice.flows":                                                               "1\n",
		"DESCRIBE TABLE sluice.schema_migrations":                                                 "",
		"SHOW CREATE TABLE sluice.schema_migrations":                                              "",
		"EXPLAIN SELECT count() FROM sluice.flows":                                                "",
		"SELECT name FROM system.tables WHERE database = 'sluice' AND name = 'flows'":             "flows\n",
	}
	for q, want := range allowed {
		out, err := engine.QueryReadOnly(ctx, q, "TSV")
		if err != nil {
			t.Errorf("%q refused: %v", q, err)
			continue
		}
		if want != "" && string(out) != want {
			t.Errorf("%q = %q, want %q", q, out, want)
		}
	}

	refused := []string{
		"INSERT INTO sluice.flows (SrcPort) VALUES (1)",
		"INSERT INTO sluice.flows SELECT * FROM sluice.flows",
		"ALTER TABLE sluice.flows DELETE WHERE 1",
		"ALTER TABLE sluice.flows DROP COLUMN SrcPort",
		"DROP TABLE sluice.flows",
		"TRUNCATE TABLE sluice.flows",
		"CREATE TABLE sluice.x (a UInt8) ENGINE = Memory",
		"RENAME TABLE sluice.flows TO sluice.y",
		"SYSTEM STOP MERGES",
		"SET readonly = 0",
		"OPTIMIZE TABLE sluice.flows FINAL",
		"SELECT 1; DROP TABLE sluice.flows",
		"SELECT 1 SETTINGS readonly = 0",
		"SELECT * FROM (SELECT * FROM file('/etc/hostname', 'LineAsString') SETTINGS readonly = 0)",
		"SELECT * FROM file('/etc/hostname', 'LineAsString')",
		"SELECT file('/etc/hostname')",
		"SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
		"SELECT * FROM executable('true', 'TSV', 'a String')",
		"SELECT 1,2 UNION ALL SELECT * FROM file('/etc/hostname', 'CSV')",
		"DESCRIBE TABLE file('/etc/hostname', 'CSVWithNames')",
		"SELECT 1 INTO OUTFILE '" + dataDir + "/leak.tsv'",
		"EXPLAIN SELECT 1 INTO OUTFILE '" + dataDir + "/leak2.tsv'",
		"SHOW TABLES INTO OUTFILE '" + dataDir + "/leak3.tsv'",
		"EXPLAIN indexes = 1 SELECT 1",
		"KILL QUERY WHERE 1",
		"",
		";",
	}
	for _, q := range refused {
		_, err := engine.QueryReadOnly(ctx, q, "TSV")
		if err == nil {
			t.Errorf("%q was run", q)
			continue
		}
		t.Logf("%q refused: %.150s", q, err)
	}
	// The refusals changed nothing.
	if n := count(t, migrate.FlowsTable); n != 10 {
		t.Errorf("sluice.flows has %d rows after refused statements, want 10", n)
	}
	if got := query(t, "EXISTS TABLE sluice.x"); got != "0\n" {
		t.Error("CREATE TABLE was run")
	}
	// And the session is still writable.
	if err := engine.Exec(ctx, "CREATE TABLE IF NOT EXISTS sluice.rw_check (a UInt8) ENGINE = Memory"); err != nil {
		t.Errorf("session became read-only: %v", err)
	}
	_ = engine.Exec(ctx, "DROP TABLE IF EXISTS sluice.rw_check")

	if _, err := engine.QueryReadOnly(ctx, "DROP TABLE sluice.flows", "TSV"); !errors.Is(err, embedded.ErrNotReadOnly) {
		t.Errorf("DROP refused with %v, want ErrNotReadOnly", err)
	}
	if _, err := engine.QueryReadOnly(ctx, "SELECT 1", "TSV FORMAT JSON"); err == nil {
		t.Error("bad format accepted")
	}
}

// TestReopen closes the engine and opens it again on the same directory, in
// the same process: the data survives.
func TestReopen(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	if err := newWriter(t).Write(writeCtx(t), clickhouse.GenerateFlows(123, 7), "reopen"); err != nil {
		t.Fatal(err)
	}
	r := reporter.New(slog.New(slog.DiscardHandler))
	other := embedded.DefaultConfig()
	other.DataDir = t.TempDir()
	if _, err := embedded.Open(t.Context(), r, other); err == nil {
		t.Fatal("a second engine opened while one is open")
	}
	if err := engine.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := engine.Exec(t.Context(), "SELECT 1"); !errors.Is(err, embedded.ErrClosed) {
		t.Errorf("Exec after Stop: %v, want ErrClosed", err)
	}
	cfg := embedded.DefaultConfig()
	cfg.DataDir = dataDir
	var err error
	engine, err = embedded.Open(t.Context(), r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, migrate.FlowsTable); n != 123 {
		t.Errorf("after reopening: %d rows, want 123", n)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := engine.Exec(ctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Exec: %v, want context.Canceled", err)
	}
	if err := engine.InsertNative(ctx, migrate.FlowsTable, "", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("InsertNative: %v, want context.Canceled", err)
	}
}

func TestInsertNativeRefusesBadTable(t *testing.T) {
	for _, table := range []string{"", "a.b.c", "sluice."} {
		if err := engine.InsertNative(t.Context(), table, "", nil); err == nil {
			t.Errorf("table %q accepted", table)
		}
	}
}

// A read-only query that runs too long, returns too much or uses too much
// memory is stopped: the engine serves inserts in between queries, so an
// unbounded query would stall ingestion.
func TestQueryReadOnlyLimits(t *testing.T) {
	defer embedded.SetQueryLimits(engine, clickhouse.DefaultQueryLimits())
	embedded.SetQueryLimits(engine, clickhouse.QueryLimits{MaxExecutionTime: time.Second, MaxResultBytes: 1 << 20, MaxMemoryUsage: 4 << 30})
	start := time.Now()
	_, err := engine.QueryReadOnly(t.Context(), "SELECT count() FROM numbers(100000000000)", "TSV")
	if err == nil {
		t.Fatal("a query beyond max-execution-time succeeded")
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Fatalf("the time limit did not stop the query (%s)", elapsed)
	}
	if _, err := engine.QueryReadOnly(t.Context(), "SELECT number FROM numbers(10000000)", "TSV"); err == nil {
		t.Fatal("a result beyond max-result-bytes was returned")
	}
	embedded.SetQueryLimits(engine, clickhouse.QueryLimits{MaxExecutionTime: time.Minute, MaxResultBytes: 1 << 30, MaxMemoryUsage: 1 << 20})
	if _, err := engine.QueryReadOnly(t.Context(), "SELECT groupArray(number) FROM numbers(10000000)", "TSV"); err == nil {
		t.Fatal("a query beyond max-memory-usage succeeded")
	}
	embedded.SetQueryLimits(engine, clickhouse.DefaultQueryLimits())
	out, err := engine.QueryReadOnly(t.Context(), "SELECT count() FROM numbers(1000)", "TSV")
	if err != nil || string(out) != "1000\n" {
		t.Fatalf("a small query under the limits: %q, %v", out, err)
	}
}

// A statement that fails after writing rows (stopped at a time or result
// limit) leaves none of them in the next statement's answer: chDB hands
// them over with it, so that an analyst's next query read another's rows,
// and QueryReadOnly took them for the statement to run.
func TestFailedStatementLeavesNoRows(t *testing.T) {
	defer embedded.SetQueryLimits(engine, clickhouse.DefaultQueryLimits())
	embedded.SetQueryLimits(engine, clickhouse.QueryLimits{MaxExecutionTime: time.Minute, MaxResultBytes: 1 << 20, MaxMemoryUsage: 4 << 30})
	failing := map[string]func() error{
		"stopped at max_execution_time": func() error {
			_, err := engine.Query(t.Context(), "SELECT sleepEachRow(0.5) FROM numbers(10) SETTINGS max_block_size = 1, max_execution_time = 1", "TSV")
			return err
		},
		"stopped at max-result-bytes": func() error {
			_, err := engine.QueryReadOnly(t.Context(), "SELECT number FROM numbers(10000000)", "TSV")
			return err
		},
	}
	for name, fail := range failing {
		if err := fail(); err == nil {
			t.Fatalf("%s: the statement succeeded", name)
		}
		if out, err := engine.Query(t.Context(), "SELECT 42", "TSV"); err != nil || string(out) != "42\n" {
			t.Errorf("%s: the next query answered %.80q, %v", name, out, err)
		}
		if err := fail(); err == nil {
			t.Fatalf("%s: the statement succeeded", name)
		}
		if out, err := engine.QueryReadOnly(t.Context(), "SELECT 43", "TSV"); err != nil || string(out) != "43\n" {
			t.Errorf("%s: the next read-only query answered %.80q, %v", name, out, err)
		}
	}
}

func TestQueryLimitsValidate(t *testing.T) {
	if err := clickhouse.DefaultQueryLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	err := clickhouse.QueryLimits{}.Validate()
	for _, key := range []string{"max-execution-time", "max-result-bytes", "max-memory-usage"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

// The users script cannot run here (the embedded engine has no access
// control), but every statement must parse with the engine's own parser.
func TestUsersScriptParses(t *testing.T) {
	u := migrate.DefaultUsers()
	u.WriterPassword, u.AnalystPassword = "w", "a"
	stmts, err := migrate.UsersDDL(u)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range stmts {
		if _, err := engine.Query(t.Context(), "SELECT formatQuery("+clickhouse.QuoteString(stmt)+")", "TSV"); err != nil {
			t.Errorf("%s: %v", stmt, err)
		}
	}
}

// Cluster mode's DDL cannot run on the embedded engine, but every
// statement must parse with the engine's own parser.
func TestClusterDDLParses(t *testing.T) {
	cfg := migrate.DefaultConfig()
	cfg.Cluster = "sluice_cluster"
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range m.Statements() {
		if _, err := engine.Query(t.Context(), "SELECT formatQuery("+clickhouse.QuoteString(stmt)+")", "TSV"); err != nil {
			t.Errorf("%.300s: %v", stmt, err)
		}
	}
}

// A database at schema version 1, the first released (its DDL kept in
// storage/migrate/testdata/flows_v1.sql), holding flows, migrates to the
// latest version without losing a row: new columns appear with their
// defaults, the rollups are backfilled from the old rows.
func TestMigrateFromVersion1(t *testing.T) {
	for _, stmt := range []string{"DROP DATABASE IF EXISTS sluice SYNC", "CREATE DATABASE sluice"} {
		if err := engine.Exec(t.Context(), stmt); err != nil {
			t.Fatal(err)
		}
	}
	v1, err := os.ReadFile("../migrate/testdata/flows_v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		string(v1),
		// What version 1 recorded, as it did.
		"CREATE TABLE sluice.schema_migrations (`version` UInt32, `description` String, `applied_at` DateTime DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version",
		"INSERT INTO sluice.schema_migrations (version, description) VALUES (1, 'create flows table')",
		"INSERT INTO sluice.flows (TimeReceived, FlowType, ExporterAddress, SamplingRate, SrcAddr, DstAddr, Proto, Bytes, Packets) " +
			"SELECT toDateTime('2026-11-20 10:00:00') + number, 'IPFIX', toIPv6('::ffff:192.0.2.1'), 100, toIPv6('::ffff:10.0.0.1'), toIPv6('::ffff:203.0.113.9'), 6, 1000 + number, 1 FROM numbers(5000)",
	} {
		if err := engine.Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%.80s: %v", stmt, err)
		}
	}
	before := query(t, "SELECT count(), sum(Bytes), sum(Bytes * SamplingRate) FROM sluice.flows")
	migrateSchema(t)
	if after := query(t, "SELECT count(), sum(Bytes), sum(Bytes * SamplingRate) FROM sluice.flows"); after != before {
		t.Fatalf("flows after migrating from version 1: %q, before: %q", after, before)
	}
	var want strings.Builder
	for i, c := range record.Columns {
		fmt.Fprintf(&want, "%d\t%s\t%s\n", i+1, c.Name, c.Type)
	}
	if got := query(t, "SELECT position, name, type FROM system.columns WHERE database = 'sluice' AND table = 'flows' ORDER BY position"); got != want.String() {
		t.Errorf("columns after migrating from version 1:\n%s\nwant:\n%s", got, want.String())
	}
	for _, r := range migrate.Rollups {
		got := query(t, "SELECT sum(Flows), sum(Bytes) FROM "+r.QualifiedTable())
		if want := query(t, "SELECT count(), sum(Bytes * SamplingRate) FROM sluice.flows"); got != want {
			t.Errorf("%s after migrating from version 1: %q, want %q", r.Table, got, want)
		}
	}
	got := query(t, "SELECT groupArray(version) FROM (SELECT version FROM sluice.schema_migrations FINAL ORDER BY version)")
	if want := fmt.Sprintf("[%s]\n", versions()); got != want {
		t.Errorf("versions recorded: %s, want %s", got, want)
	}
}

func versions() string {
	var v []string
	for _, i := range migrate.Versions() {
		v = append(v, fmt.Sprint(i))
	}
	return strings.Join(v, ",")
}

// Versions already applied are not run again: in particular a rollup's
// backfill, which would count the raw rows a second time into a rollup
// that is merely empty at that moment.
func TestMigrateSkipsAppliedVersions(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	w := newWriter(t)
	if err := w.Write(writeCtx(t), clickhouse.GenerateFlows(1000, 9), "skip-applied"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE sluice.flows_1h"); err != nil {
		t.Fatal(err)
	}
	migrateSchema(t) // a restart
	if n := count(t, "sluice.flows_1h"); n != 0 {
		t.Fatalf("a restart re-ran the backfill: the hourly rollup has %d rows", n)
	}
}
