package clickhouse

import (
	"testing"

	"sluice/pipeline/record"
)

// BenchmarkExportersBuilder measures the exporters table's rows for
// 50k-flow batches shaped like the demo's traffic (both sides of every
// flow, then the block's Native encoding), each batch drawn from eight;
// ns/flow is reported.
//
//	go test -run '^$' -bench ExportersBuilder -benchmem ./storage/clickhouse
func BenchmarkExportersBuilder(b *testing.B) {
	builder, err := NewExportersBuilder()
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	var inputs [8][]record.Flow
	for i := range inputs {
		inputs[i] = GenerateDemoShapedFlows(batch, uint64(i))
	}
	var native []byte
	b.ReportAllocs()
	i, rows := 0, 0
	for b.Loop() {
		builder.Reset()
		builder.AddFlows(inputs[i%len(inputs)])
		if native, err = builder.EncodeNative(native[:0]); err != nil {
			b.Fatal(err)
		}
		rows += builder.Rows()
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batch*b.N), "ns/flow")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/batch")
}
