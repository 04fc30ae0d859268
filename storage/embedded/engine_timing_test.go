package embedded_test

import (
	"fmt"
	"testing"

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
	w := newWriter(b, nil)
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
