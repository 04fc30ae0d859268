package migrate_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/queries"
)

// BenchmarkRawTable measures what the raw table's own design costs an
// insert and what it buys the queries that read it (issue 15: codecs per
// column, the sort key, skip indexes, the part format), with no view (the
// rollups' cost is BenchmarkInsertViews'). Every variant is a copy of the
// migrated sluice.flows in a database of its own, changed by its
// statements; all of them get the same 50k-row batches, inserted as the
// writer does (Native, a deduplication token each), in turn: batch i goes
// into every table before batch i+1, starting at another table each time,
// so that the engine's drift over the run (measured: a copy of the table
// benchmarked after others cost 41-97 % more than the table first) falls
// on all alike. Then, for each variant:
//
//   - cpu-s/Mrows and rows/s of its inserts (the test process's CPU
//     during each insert, the engine's threads included: the merges
//     running then too, whichever table they belong to);
//   - settled-cpu-s/Mrows, when the run has one variant only: the same
//     from the first insert until the engine runs no merge, the cost of
//     the merges the inserts cause included (run the variants to compare
//     in turn, a process each: SLUICE_BENCH_VARIANTS=name);
//   - B/row: bytes on disk per row of its active parts once the engine
//     runs no merge, and merged-B/row after OPTIMIZE FINAL;
//   - ms/<query>: the median of 5 runs, after a warm-up, on the table as
//     background merges left it, of the query library's queries that
//     read the raw table over the whole data, of lookups an analyst types
//     (a busy port, AS and host, and a port and a host seen in about 5
//     flows: what the bloom filters are for) and of a port-scan-like
//     grouping over 5 minutes of flow time. The rounds go variant by
//     variant, query by query, in turn.
//
// The batches: with SLUICE_BENCH_FLOWS_DIR, the rows of the Native files
// in that directory, in order of TimeReceived (stored flows, for instance
// from `sluice run` fed by `sluice demo --time-scale 60`: BENCHMARKS.md,
// sixth round, says how); else 60 batches of
// clickhouse.GenerateDemoShapedFlows, whose addresses, ports and times
// are random and so compress worse than real traffic. SLUICE_BENCH_VARIANTS
// (comma-separated names) keeps some variants only.
//
//	SLUICE_BENCH_FLOWS_DIR=DIR go test -run '^$' -bench RawTable -benchtime 1x -timeout 2h ./storage/migrate
func BenchmarkRawTable(b *testing.B) {
	ctx := b.Context()
	batches := rawBenchBatches(b)
	variants := rawTableVariants
	if only := os.Getenv("SLUICE_BENCH_VARIANTS"); only != "" {
		variants = slices.DeleteFunc(slices.Clone(variants), func(v rawTableVariant) bool { return !slices.Contains(strings.Split(only, ","), v.name) })
	}
	tables := make([]string, len(variants))
	for i, v := range variants {
		tables[i] = createRawVariant(b, i, v)
	}
	results := make([]map[string]float64, len(variants))
	var cpu, wall []time.Duration = make([]time.Duration, len(variants)), make([]time.Duration, len(variants))
	rows := 0
	run := time.Now().UnixNano()
	start := clickhouse.ProcessCPU()
	for i, bt := range batches {
		for k := range variants {
			j := (i + k) % len(variants)
			c, w := clickhouse.ProcessCPU(), time.Now()
			if err := engine.InsertNative(ctx, tables[j], fmt.Sprintf("raw-%d-%d", run, i), bt.native); err != nil {
				b.Fatal(err)
			}
			cpu[j] += clickhouse.ProcessCPU() - c
			wall[j] += time.Since(w)
		}
		rows += bt.rows
	}
	waitForMerges(b)
	settled := clickhouse.ProcessCPU() - start
	for j, table := range tables {
		results[j] = map[string]float64{
			"cpu-s/Mrows": cpu[j].Seconds() / float64(rows) * 1e6,
			"rows/s":      float64(rows) / wall[j].Seconds(),
			"B/row":       bytesPerRow(b, table),
		}
		if len(tables) == 1 {
			results[j]["settled-cpu-s/Mrows"] = settled.Seconds() / float64(rows) * 1e6
		}
	}
	qs := rawBenchQueries(b, tables[0])
	times := make([]map[string][]float64, len(variants))
	for round := range 6 {
		for j, table := range tables {
			if times[j] == nil {
				times[j] = map[string][]float64{}
			}
			for _, q := range qs {
				ms := timeQuery(b, rawTableQuery.ReplaceAllString(q.sql, table))
				if round > 0 { // the first warms the caches
					times[j][q.name] = append(times[j][q.name], ms)
				}
			}
		}
	}
	for j, table := range tables {
		for name, ms := range times[j] {
			slices.Sort(ms)
			results[j]["ms/"+name] = ms[len(ms)/2]
		}
		if err := engine.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			b.Fatal(err)
		}
		results[j]["merged-B/row"] = bytesPerRow(b, table)
	}
	for j, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			// The figures were measured above, across the variants; a
			// sub-benchmark only reports them.
			for b.Loop() {
			}
			for unit, value := range results[j] {
				b.ReportMetric(value, unit)
			}
		})
	}
}

// rawTableQuery matches the raw table's name in a query, not a rollup's.
var rawTableQuery = regexp.MustCompile(`\bsluice\.flows\b`)

// rawTableVariant is one design of the flows table: statements run on its
// copy (ALTER TABLE {table} ...), or another sort key for the copy.
type rawTableVariant struct {
	name    string
	alter   func(tb testing.TB, table string) []string
	orderBy string
}

var rawTableVariants = []rawTableVariant{
	{name: "schema"},
	{name: "no-bloom", alter: dropIndexes("SrcAddr", "DstAddr", "SrcAS", "DstAS", "SrcPort", "DstPort")},
	{name: "bloom-addr-only", alter: dropIndexes("SrcAS", "DstAS", "SrcPort", "DstPort")},
	{name: "no-skip-index", alter: dropIndexes("SrcAddr", "DstAddr", "SrcAS", "DstAS", "SrcPort", "DstPort", "TimeFlowStart")},
	{name: "zstd1", alter: recodec(func(name, typ, codec string) string {
		if codec != "" {
			return strings.Replace(codec, "LZ4", "ZSTD(1)", 1)
		}
		return "CODEC(ZSTD(1))"
	})},
	// Schema 13 stores the times with plain LZ4; before, DoubleDelta.
	{name: "times-doubledelta", alter: recodec(timesCodec("CODEC(DoubleDelta, LZ4)"))},
	{name: "times-delta", alter: recodec(timesCodec("CODEC(Delta, LZ4)"))},
	{name: "ints-t64", alter: recodec(intsT64)},
	// The part format. Since schema version 12, parts of fewer than
	// 100,000 rows are compact: an insert's, not a merge's.
	{name: "wide-parts", alter: setting("min_rows_for_wide_part = 0, min_bytes_for_wide_part = 10485760")},
	{name: "compact-256m", alter: setting("min_rows_for_wide_part = 0, min_bytes_for_wide_part = 268435456")},
	{name: "compact-64m", alter: setting("min_rows_for_wide_part = 0, min_bytes_for_wide_part = 67108864")},
	{name: "t64-delta", alter: recodec(func(name, typ, codec string) string {
		return timesCodec("CODEC(Delta, LZ4)")(name, typ, intsT64(name, typ, codec))
	})},
	{name: "key-exporter", orderBy: "(toStartOfFiveMinutes(TimeReceived), ExporterAddress)"},
	{name: "key-time", orderBy: "TimeReceived"},
	{name: "key-exporter-src", orderBy: "(toStartOfFiveMinutes(TimeReceived), ExporterAddress, SrcAddr)"},
}

// timesCodec gives the three time columns another codec.
func timesCodec(want string) func(name, typ, codec string) string {
	return func(name, typ, codec string) string {
		if name == "TimeReceived" || name == "TimeFlowStart" || name == "TimeFlowEnd" {
			return want
		}
		return codec
	}
}

func intsT64(name, typ, codec string) string {
	if codec == "" && strings.HasPrefix(typ, "UInt") {
		return "CODEC(T64, LZ4)"
	}
	return codec
}

func setting(s string) func(testing.TB, string) []string {
	return func(_ testing.TB, table string) []string {
		return []string{"ALTER TABLE " + table + " MODIFY SETTING " + s}
	}
}

func dropIndexes(names ...string) func(testing.TB, string) []string {
	return func(_ testing.TB, table string) []string {
		var stmts []string
		for _, n := range names {
			stmts = append(stmts, "ALTER TABLE "+table+" DROP INDEX idx_"+n)
		}
		return stmts
	}
}

// recodec changes the codec of every column of the table for which codec
// returns another one (codec gets the column's name, type and current
// CODEC clause, "" for the default).
func recodec(codec func(name, typ, codec string) string) func(testing.TB, string) []string {
	return func(tb testing.TB, table string) []string {
		db, name, _ := strings.Cut(table, ".")
		out, err := engine.Query(tb.Context(), fmt.Sprintf("SELECT name, type, compression_codec FROM system.columns WHERE database = '%s' AND table = '%s' ORDER BY position", db, name), "TSVRaw")
		if err != nil {
			tb.Fatal(err)
		}
		var stmts []string
		for line := range strings.Lines(string(out)) {
			f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
			if want := codec(f[0], f[1], f[2]); want != f[2] {
				stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s %s", table, clickhouse.QuoteIdentifier(f[0]), f[1], want))
			}
		}
		if len(stmts) == 0 {
			tb.Fatal("the variant changes no codec")
		}
		return stmts
	}
}

// createRawVariant creates the i-th variant's copy of the flows table, in
// a database of its own, from the statement of a freshly migrated
// sluice.flows, and returns its name.
func createRawVariant(tb testing.TB, i int, v rawTableVariant) string {
	ctx := tb.Context()
	freshRawTable(tb)
	ddl, err := engine.Query(ctx, "SHOW CREATE TABLE "+migrate.FlowsTable, "TSVRaw")
	if err != nil {
		tb.Fatal(err)
	}
	db := fmt.Sprintf("raw_%02d", i)
	table := db + ".flows"
	stmt := strings.Replace(string(ddl), "CREATE TABLE "+migrate.FlowsTable, "CREATE TABLE "+table, 1)
	if v.orderBy != "" {
		const key = "ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, TimeReceived)"
		if !strings.Contains(stmt, key) {
			tb.Fatalf("the flows table's statement has no %q:\n%s", key, ddl)
		}
		stmt = strings.Replace(stmt, key, "ORDER BY "+v.orderBy, 1)
	}
	for _, s := range []string{"DROP DATABASE IF EXISTS " + db + " SYNC", "CREATE DATABASE " + db, stmt} {
		if err := engine.Exec(ctx, s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
	if v.alter != nil {
		for _, s := range v.alter(tb, table) {
			if err := engine.Exec(ctx, s); err != nil {
				tb.Fatalf("%s: %v", s, err)
			}
		}
	}
	return table
}

// freshRawTable migrates a new sluice database and drops every view of
// the flows table.
func freshRawTable(tb testing.TB) {
	ctx := tb.Context()
	if err := engine.Exec(ctx, "DROP DATABASE IF EXISTS sluice SYNC"); err != nil {
		tb.Fatal(err)
	}
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Migrate(ctx, engine.Exec); err != nil {
		tb.Fatal(err)
	}
	views, err := engine.Query(ctx, "SELECT name FROM system.tables WHERE database = 'sluice' AND engine = 'MaterializedView'", "TSVRaw")
	if err != nil {
		tb.Fatal(err)
	}
	for name := range strings.Lines(string(views)) {
		if err := engine.Exec(ctx, "DROP VIEW sluice."+clickhouse.QuoteIdentifier(strings.TrimSpace(name))); err != nil {
			tb.Fatal(err)
		}
	}
}

// rawBatch is one insert's Native data.
type rawBatch struct {
	native []byte
	rows   int
}

const rawBatchRows = 50_000

// rawBenchBatches are the batches every variant inserts, made once.
func rawBenchBatches(b *testing.B) []rawBatch {
	dir := os.Getenv("SLUICE_BENCH_FLOWS_DIR")
	if dir == "" {
		out := make([]rawBatch, 60)
		for i := range out {
			builder, err := clickhouse.NewBlockBuilder()
			if err != nil {
				b.Fatal(err)
			}
			builder.AppendFlows(clickhouse.GenerateDemoShapedFlows(rawBatchRows, uint64(i+1)))
			if out[i].native, err = builder.EncodeNative(nil); err != nil {
				b.Fatal(err)
			}
			out[i].rows = rawBatchRows
		}
		return out
	}
	return storedBatches(b, dir)
}

// storedBatches loads the Native files of dir into a table of their own
// (a fresh sluice.flows gives its columns), numbers the rows in order of
// TimeReceived and cuts them into batches.
func storedBatches(b testing.TB, dir string) []rawBatch {
	ctx := b.Context()
	files, err := filepath.Glob(filepath.Join(dir, "*.native"))
	if err != nil || len(files) == 0 {
		b.Fatalf("SLUICE_BENCH_FLOWS_DIR=%s: no *.native file (%v)", dir, err)
	}
	slices.Sort(files)
	freshRawTable(b)
	for _, stmt := range []string{
		"DROP DATABASE IF EXISTS sluice_bench SYNC",
		"CREATE DATABASE sluice_bench",
		"CREATE TABLE sluice_bench.loaded AS " + migrate.FlowsTable + " ENGINE = Memory",
	} {
		if err := engine.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := engine.InsertNative(ctx, "sluice_bench.loaded", "", data); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
	}
	if err := engine.Exec(ctx, "CREATE TABLE sluice_bench.numbered ENGINE = MergeTree ORDER BY n AS "+
		"SELECT rowNumberInAllBlocks() AS n, * FROM (SELECT * FROM sluice_bench.loaded ORDER BY TimeReceived)"); err != nil {
		b.Fatal(err)
	}
	total := queryInt(b, "SELECT count() FROM sluice_bench.numbered")
	var out []rawBatch
	for first := 0; first < total; first += rawBatchRows {
		native, err := engine.Query(ctx, fmt.Sprintf("SELECT * EXCEPT n FROM sluice_bench.numbered WHERE n >= %d AND n < %d ORDER BY n", first, first+rawBatchRows), "Native")
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, rawBatch{native: native, rows: min(rawBatchRows, total-first)})
	}
	if err := engine.Exec(ctx, "DROP DATABASE sluice_bench SYNC"); err != nil {
		b.Fatal(err)
	}
	return out
}

// waitForMerges waits, at most two minutes, until the engine runs no
// merge, seen twice a second apart. The engine may still merge later, as
// parts age: the figures settled on are a lower bound.
func waitForMerges(b testing.TB) {
	idle := 0
	deadline := time.Now().Add(2 * time.Minute)
	defer func() {
		if idle < 2 {
			b.Logf("merges still running after 2 minutes: the settled figures leave them out")
		}
	}()
	for idle < 2 && time.Now().Before(deadline) {
		if queryInt(b, "SELECT count() FROM system.merges") == 0 {
			idle++
		} else {
			idle = 0
		}
		time.Sleep(time.Second)
	}
}

func queryInt(b testing.TB, sql string) int {
	out, err := engine.Query(b.Context(), sql, "TSVRaw")
	if err != nil {
		b.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	return n
}

func bytesPerRow(b testing.TB, table string) float64 {
	db, name, _ := strings.Cut(table, ".")
	out, err := engine.Query(b.Context(), fmt.Sprintf("SELECT sum(bytes_on_disk) / sum(rows) FROM system.parts WHERE database = '%s' AND table = '%s' AND active", db, name), "TSVRaw")
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

type rawBenchQuery struct{ name, sql string }

// rawBenchQueries are the queries timed on each variant, on sluice.flows
// (the caller names the variant's table instead): the library's that read
// the raw table, over the whole data, and the lookups. Their range and
// values come from table's data.
func rawBenchQueries(b *testing.B, table string) []rawBenchQuery {
	ctx := b.Context()
	out, err := engine.Query(ctx, "SELECT toUnixTimestamp(min(TimeFlowStart)), toUnixTimestamp(max(TimeReceived)) FROM "+table+" WHERE TimeFlowStart > 0", "TSVRaw")
	if err != nil {
		b.Fatal(err)
	}
	var first, last int64
	if _, err := fmt.Sscan(string(out), &first, &last); err != nil {
		b.Fatalf("%q: %v", out, err)
	}
	from := time.Unix(first, 0).UTC().Truncate(time.Minute)
	to := time.Unix(last, 0).UTC().Truncate(time.Minute).Add(time.Minute)
	// A busy host; a port and an AS seen in about one flow in a thousand;
	// a port and a host seen in about 5 flows.
	pick := func(sql string) string {
		out, err := engine.Query(ctx, rawTableQuery.ReplaceAllString(sql, table), "TSVRaw")
		if err != nil {
			b.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	host := pick("SELECT SrcAddr FROM sluice.flows GROUP BY SrcAddr ORDER BY count() DESC, SrcAddr LIMIT 1")
	addr, err := netip.ParseAddr(host)
	if err != nil {
		b.Fatalf("address %q: %v", host, err)
	}
	some := "ORDER BY abs(count() - (SELECT count() FROM sluice.flows) / 1000), 1 LIMIT 1"
	few := "ORDER BY abs(count() - 5), 1 LIMIT 1"
	port := pick("SELECT DstPort FROM sluice.flows GROUP BY DstPort " + some)
	as := pick("SELECT SrcAS FROM sluice.flows WHERE SrcAS != 0 GROUP BY SrcAS " + some)
	rarePort := pick("SELECT DstPort FROM sluice.flows GROUP BY DstPort " + few)
	rareHost := pick("SELECT DstAddr FROM sluice.flows GROUP BY DstAddr " + few)
	for _, v := range []*string{&port, &as, &rarePort, &rareHost} {
		if *v == "" {
			b.Fatal("the data has no value with the counts a lookup needs")
		}
	}
	var qs []rawBenchQuery
	for _, q := range queries.Library {
		if strings.HasPrefix(q.Name, "alert-") {
			continue
		}
		built, err := queries.Build(q, queries.Params{From: from, To: to, Address: addr}, migrate.Config{}, to)
		if err != nil {
			b.Fatal(err)
		}
		if built.Table == migrate.FlowsTable {
			qs = append(qs, rawBenchQuery{q.Name, built.SQL})
		}
	}
	window := fmt.Sprintf("TimeFlowStart >= fromUnixTimestamp64Milli(%d) AND TimeFlowStart < fromUnixTimestamp64Milli(%d)",
		to.Add(-10*time.Minute).UnixMilli(), to.Add(-5*time.Minute).UnixMilli())
	return append(qs,
		rawBenchQuery{"port-lookup", "SELECT count(), sum(Bytes) FROM sluice.flows WHERE DstPort = " + port},
		rawBenchQuery{"as-lookup", "SELECT count(), sum(Bytes) FROM sluice.flows WHERE SrcAS = " + as},
		rawBenchQuery{"address-lookup", "SELECT count(), sum(Bytes) FROM sluice.flows WHERE SrcAddr = toIPv6('" + host + "') OR DstAddr = toIPv6('" + host + "')"},
		rawBenchQuery{"rare-port-lookup", "SELECT count(), sum(Bytes) FROM sluice.flows WHERE DstPort = " + rarePort},
		rawBenchQuery{"rare-address-lookup", "SELECT count(), sum(Bytes) FROM sluice.flows WHERE SrcAddr = toIPv6('" + rareHost + "') OR DstAddr = toIPv6('" + rareHost + "')"},
		rawBenchQuery{"scan-5m", "SELECT SrcAddr, uniqExact(DstAddr, DstPort) AS n FROM sluice.flows WHERE " + window + " GROUP BY SrcAddr ORDER BY n DESC LIMIT 10"},
	)
}

// timeQuery runs sql and returns its wall time in milliseconds. The query
// condition cache is off: it would remember which granules an earlier
// run's filter left out, which an analyst's next lookup (another host,
// another port) cannot use.
func timeQuery(b testing.TB, sql string) float64 {
	start := time.Now()
	if _, err := engine.Query(context.WithoutCancel(b.Context()), sql+" SETTINGS use_query_condition_cache = 0", "Null"); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	return float64(time.Since(start).Microseconds()) / 1000
}
