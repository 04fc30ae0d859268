package clickhouse

import (
	"testing"

	"sluice/pipeline/record"
)

// BenchmarkExportersBuilder measures the exporters table's rows for
// 50k-flow batches shaped like the demo's traffic, each batch drawn from
// eight (400 MB of flows, so they are read from memory as the writer's
// are); ns/flow is reported. "alone" reads both sides of every flow,
// then encodes the block; "columns" is the flows' own columns
// (BlockBuilder.Append) and "columns+exporters" both in one pass, as the
// writer does: their difference is what the exporters table adds to a
// write, once the flow is in the CPU's cache.
//
//	go test -run '^$' -bench ExportersBuilder -benchmem ./storage/clickhouse
func BenchmarkExportersBuilder(b *testing.B) {
	const batch = 50_000
	var inputs [8][]record.Flow
	for i := range inputs {
		inputs[i] = GenerateDemoShapedFlows(batch, uint64(i))
	}
	exporters, err := NewExportersBuilder()
	if err != nil {
		b.Fatal(err)
	}
	columns, err := NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	var native []byte
	run := func(b *testing.B, withColumns, withExporters bool) {
		b.ReportAllocs()
		i, rows := 0, 0
		for b.Loop() {
			flows := inputs[i%len(inputs)]
			columns.Reset()
			exporters.Reset()
			for j := range flows {
				if withColumns {
					columns.Append(&flows[j])
				}
				if withExporters {
					exporters.AddFlow(&flows[j])
				}
			}
			if withExporters {
				if native, err = exporters.EncodeNative(native[:0]); err != nil {
					b.Fatal(err)
				}
				rows += exporters.Rows()
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batch*b.N), "ns/flow")
		b.ReportMetric(float64(rows)/float64(b.N), "rows/batch")
	}
	b.Run("alone", func(b *testing.B) { run(b, false, true) })
	b.Run("columns", func(b *testing.B) { run(b, true, false) })
	b.Run("columns+exporters", func(b *testing.B) { run(b, true, true) })
}
