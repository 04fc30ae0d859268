package clickhouse

import (
	"bytes"
	"io"
	"testing"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// BenchmarkBlockBuilderAppend measures the per-record path: one op is one
// flow appended into reused column buffers.
func BenchmarkBlockBuilderAppend(b *testing.B) {
	builder, err := NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	flows := GenerateFlows(batch, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%batch == 0 {
			builder.Reset()
		}
		builder.Append(&flows[i%batch])
	}
}

// BenchmarkEncodeNative measures filling the clickhouse-go block and
// encoding it, per batch of 50k flows; rows/s is reported.
func BenchmarkEncodeNative(b *testing.B) {
	builder, err := NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	flows := GenerateFlows(batch, 1)
	var native []byte
	b.ReportAllocs()
	for b.Loop() {
		builder.Reset()
		builder.AppendFlows(flows)
		native, err = builder.EncodeNative(native[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(native)))
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(len(native))/batch, "bytes/row")
}
