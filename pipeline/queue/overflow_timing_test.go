package queue

import (
	"context"
	"log/slog"
	"testing"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// BenchmarkOverflow is what a record costs while the overflow holds
// batches: a collector batch (8192 typical IPv4 records, as recordpb's
// benchmark has them) written to the disk and read back into the queue,
// with the cursor synced after each. Run it on its own:
//
//	go test -run '^$' -bench Overflow -benchmem ./pipeline/queue
func BenchmarkOverflow(b *testing.B) {
	const n = 8192
	flows := make([]record.Flow, n)
	for i := range flows {
		flows[i] = record.Flow{
			TimeReceived: 1_790_000_000_123_456_789, TimeFlowStart: 1_789_999_990_000, TimeFlowEnd: 1_790_000_000_000,
			FlowType: record.FlowTypeIPFIX, ExporterAddress: record.AddrFrom4([4]byte{192, 0, 2, 1}),
			ObservationDomainID: 1, SamplerID: 1, SamplingRate: 1000,
			SrcAddr: record.AddrFrom4([4]byte{198, 51, 100, byte(i)}), DstAddr: record.AddrFrom4([4]byte{203, 0, 113, 200}),
			SrcNetMask: 24, DstNetMask: 22, SrcAS: 64500, DstAS: 15169, NextHop: record.AddrFrom4([4]byte{192, 0, 2, 254}),
			SrcPort: uint16(i), DstPort: 443, Proto: 6, EType: 0x0800, TCPFlags: 0x1b, IPTTL: 57,
			InIfIndex: 12, OutIfIndex: 7, ForwardingStatus: 64, FlowDirection: 1, Bytes: uint64(i) * 1000, Packets: 1_107,
		}
	}
	q, err := New(reporter.New(slog.New(slog.DiscardHandler)), Config{Batches: 1, Overflow: OverflowConfig{MaxBytes: 1 << 30}},
		Dependencies{OverflowDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	// The channel holds one batch: fill it, so that every Put below goes
	// to the disk, and the consumer then takes one back for each.
	ctx := context.Background()
	if err := q.Put(ctx, batchOf(flows)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Put(ctx, batchOf(flows)); err != nil {
			b.Fatal(err)
		}
		(<-q.Batches()).Release()
	}
	b.StopTimer()
	if q.overflow.pendingBatches() > 1 {
		b.Fatalf("%d batches left on disk", q.overflow.pendingBatches())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	if err := q.Stop(ctx); err != nil {
		b.Fatal(err)
	}
}
