package embedded_test

import (
	"fmt"
	"testing"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// BenchmarkWriteDemoShaped measures the writer's whole path (columns,
// Native encoding, the inserts, and whatever fills the rollups and the
// exporters table) for 50k-flow batches shaped like the demo's traffic,
// each batch drawn afresh from eight, under a token of its own.
//
//	go test -run '^$' -bench WriteDemoShaped -benchmem -count 5 ./storage/embedded
func BenchmarkWriteDemoShaped(b *testing.B) {
	migrateSchema(b)
	truncate(b)
	const batch = 50_000
	var inputs [8][]record.Flow
	for i := range inputs {
		inputs[i] = clickhouse.GenerateDemoShapedFlows(batch, uint64(i))
	}
	w := newWriter(b)
	run := time.Now().UnixNano()
	b.ReportAllocs()
	cpu := clickhouse.ProcessCPU()
	i := 0
	for b.Loop() {
		if err := w.Write(writeCtx(b), inputs[i%len(inputs)], fmt.Sprintf("bench-demo-%d-%d", run, i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric((clickhouse.ProcessCPU()-cpu).Seconds()/float64(batch*b.N)*1e6, "cpu-s/Mrows")
}

// BenchmarkAggregate measures the writer's Go aggregation alone: a 50k-flow
// batch shaped like the demo's into every rollup family and grain and both
// sides of the exporters table, then the blocks' Native encoding.
func BenchmarkAggregate(b *testing.B) {
	b.Run("all", func(b *testing.B) { benchmarkAggregate(b, migrate.Aggregates()) })
	b.Run("exporters", func(b *testing.B) { benchmarkAggregate(b, exportersFamilies()) })
}

func exportersFamilies() []clickhouse.AggregateFamily {
	var out []clickhouse.AggregateFamily
	for _, f := range migrate.Aggregates() {
		if f.Grains[0].Table == migrate.ExportersTable {
			out = append(out, f)
		}
	}
	return out
}

func benchmarkAggregate(b *testing.B, families []clickhouse.AggregateFamily) {
	a, err := clickhouse.NewAggregator(families)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	var inputs [8][]record.Flow
	for i := range inputs {
		inputs[i] = clickhouse.GenerateDemoShapedFlows(batch, uint64(i))
	}
	var native []byte
	b.ReportAllocs()
	cpu := clickhouse.ProcessCPU()
	i, rows := 0, 0
	for b.Loop() {
		a.Reset()
		a.AddFlows(inputs[i%len(inputs)])
		a.Build()
		for _, blk := range a.Blocks() {
			rows += blk.Rows()
			if native, err = blk.EncodeNative(native[:0]); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batch*b.N), "ns/flow")
	b.ReportMetric((clickhouse.ProcessCPU()-cpu).Seconds()/float64(batch*b.N)*1e6, "cpu-s/Mrows")
	b.ReportMetric(float64(rows)/float64(b.N), "aggregate-rows/batch")
}
