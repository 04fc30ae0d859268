package embedded_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// demoShapedFlows returns n flows with the cardinalities of `sluice demo`'s
// load test at about 200k records/s: 64 exporters with 16 interfaces each,
// a thousand AS numbers, 50 countries, 8 sites and tenants, received over
// about half a minute (a 50k-row batch at that rate), so that the rollups
// hold far fewer rows than the batch but far more than one.
func demoShapedFlows(n int, seed uint64) []record.Flow {
	rng := rand.New(rand.NewPCG(seed, 0xdeb0))
	flows := clickhouse.GenerateFlows(n, seed)
	start := time.Date(2026, 12, 7, 10, 0, 50, 0, time.UTC).Add(time.Duration(seed) * time.Minute)
	countries := []string{"FR", "DE", "US", "JP", "GB", "NL", "BR", "IN", "CN", "ZA"}
	sites := []string{"par", "ams", "fra", "lon", "nyc", "sjc", "sin", "syd"}
	for i := range flows {
		f := &flows[i]
		e := rng.IntN(64)
		f.TimeReceived = start.Add(time.Duration(i) * 30 * time.Second / time.Duration(n)).UnixNano()
		f.ExporterAddress = record.AddrFrom4([4]byte{10, 0, 1, byte(e)})
		f.ExporterName = fmt.Sprint("edge-", e)
		f.FlowType = record.FlowType(1 + e%3)
		f.InIfIndex, f.OutIfIndex = uint32(rng.IntN(16)), uint32(rng.IntN(16))
		f.InIfName, f.OutIfName = ifNames[f.InIfIndex], ifNames[f.OutIfIndex]
		f.InIfSpeed, f.OutIfSpeed = 1e10, 1e11
		f.InIfBoundary, f.OutIfBoundary = record.Boundary(1+f.InIfIndex%2), record.Boundary(1+f.OutIfIndex%2)
		f.SrcAS, f.DstAS = uint32(64500+rng.IntN(1000)), uint32(64500+rng.IntN(30))
		f.Proto, f.EType = []uint8{6, 17, 1}[rng.IntN(3)], 0x800
		f.FlowDirection, f.ForwardingStatus = uint8(rng.IntN(2)), 64
		f.SrcCountry, f.DstCountry = countries[f.SrcAS%10], countries[f.DstAS%10]
		f.SrcNetSite, f.DstNetSite = sites[rng.IntN(8)], sites[rng.IntN(8)]
		f.SrcNetTenant, f.DstNetTenant = sites[rng.IntN(8)], sites[rng.IntN(8)]
		f.TrafficDirection = record.TrafficDirection(rng.IntN(5))
		f.Bytes, f.Packets, f.SamplingRate = uint64(40+rng.IntN(1460)), uint64(1+rng.IntN(10)), 1000
	}
	return flows
}

var ifNames = func() []string {
	names := make([]string, 16)
	for i := range names {
		names[i] = fmt.Sprint("et-0/0/", i)
	}
	return names
}()

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
		inputs[i] = demoShapedFlows(batch, uint64(i))
	}
	w := newWriter(b)
	run := time.Now().UnixNano()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := w.Write(writeCtx(b), inputs[i%len(inputs)], fmt.Sprintf("bench-demo-%d-%d", run, i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAggregate measures the writer's Go aggregation alone: a 50k-flow
// batch shaped like the demo's into every rollup family and grain and both
// sides of the exporters table, then the blocks' Native encoding.
func BenchmarkAggregate(b *testing.B) {
	a, err := clickhouse.NewAggregator(migrate.Aggregates())
	if err != nil {
		b.Fatal(err)
	}
	const batch = 50_000
	var inputs [8][]record.Flow
	for i := range inputs {
		inputs[i] = demoShapedFlows(batch, uint64(i))
	}
	var native []byte
	b.ReportAllocs()
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
	b.ReportMetric(float64(rows)/float64(b.N), "aggregate-rows/batch")
}
