package embedded_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// BenchmarkInsertNative measures storing columnar batches of 50k flows in the
// embedded engine: Native encoding is done once outside the loop, so the
// rows/s is chDB's (spool file write, parse, sort, part write). Each batch
// has its own token, as distinct Kafka offsets would.
func BenchmarkInsertNative(b *testing.B) {
	migrateSchema(b)
	truncate(b)
	const batch = 50_000
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	builder.AppendFlows(clickhouse.GenerateFlows(batch, 1))
	native, err := builder.EncodeNative(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(native)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := engine.InsertNative(b.Context(), migrate.FlowsTable, fmt.Sprintf("bench-%d", i), native); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWrite measures the writer's whole path per 50k-flow batch:
// building the columns from records, encoding, inserting.
func BenchmarkWrite(b *testing.B) {
	migrateSchema(b)
	truncate(b)
	const batch = 50_000
	flows := clickhouse.GenerateFlows(batch, 1)
	w := newWriter(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := w.Write(writeCtx(b), flows, fmt.Sprintf("bench-write-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertStages splits an insert's cost by what the engine does
// with the same 50k-flow Native batch: parse it into a table that stores
// nothing (Null engine), with the enrichment columns as String and as the
// flows table's LowCardinality(String); write a MergeTree part (a copy of
// the flows table: same types, codecs, key and skip indexes, no views);
// and the flows table itself, whose materialized views feed every rollup.
func BenchmarkInsertStages(b *testing.B) {
	migrateSchema(b)
	truncate(b)
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	builder.AppendFlows(clickhouse.GenerateFlows(batch, 1))
	native, err := builder.EncodeNative(nil)
	if err != nil {
		b.Fatal(err)
	}
	var defs []string
	for _, c := range strings.Split(strings.TrimSpace(query(b, "SELECT name, type FROM system.columns WHERE database = 'sluice' AND table = 'flows' ORDER BY position")), "\n") {
		name, typ, _ := strings.Cut(c, "\t")
		defs = append(defs, clickhouse.QuoteIdentifier(name)+" "+strings.ReplaceAll(typ, "LowCardinality(String)", "String"))
	}
	for _, stmt := range []string{
		"CREATE TABLE IF NOT EXISTS sluice.bench_parse_string (" + strings.Join(defs, ", ") + ") ENGINE = Null",
		"CREATE TABLE IF NOT EXISTS sluice.bench_parse AS sluice.flows ENGINE = Null",
		"CREATE TABLE IF NOT EXISTS sluice.bench_part AS sluice.flows",
	} {
		if err := engine.Exec(b.Context(), stmt); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		for _, table := range []string{"bench_parse_string", "bench_parse", "bench_part"} {
			_ = engine.Exec(context.Background(), "DROP TABLE IF EXISTS sluice."+table)
		}
	})
	// Tokens unique to this run: a replayed token would insert nothing.
	run := time.Now().UnixNano()
	for _, stage := range []struct{ name, table string }{
		{"parse-as-String", "sluice.bench_parse_string"},
		{"parse-as-LowCardinality", "sluice.bench_parse"},
		{"part-without-views", "sluice.bench_part"},
		{"flows-with-views", migrate.FlowsTable},
	} {
		b.Run(stage.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				if err := engine.InsertNative(b.Context(), stage.table, fmt.Sprintf("stages-%d-%s-%d", run, stage.name, i), native); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		if stage.table == "sluice.bench_part" {
			// Its background merges would weigh on the next stage.
			if err := engine.Exec(b.Context(), "DROP TABLE sluice.bench_part SYNC"); err != nil {
				b.Fatal(err)
			}
		}
	}
}
