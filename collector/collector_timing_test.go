package collector

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"sluice/collector/udp"
	"sluice/internal/demo"
	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// releasingOutput stands for the next stage at full speed.
type releasingOutput struct{}

func (releasingOutput) Put(_ context.Context, b *record.Batch) error {
	b.Release()
	return nil
}

// benchmarkWorker measures a worker's whole per-datagram path (sniff,
// decode, extract, batch, hand on) for one protocol's demo datagrams,
// reporting ns and allocations per record.
func benchmarkWorker(b *testing.B, protocol string) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	c, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{Output: releasingOutput{}})
	if err != nil {
		b.Fatal(err)
	}
	w := newWorker(c, 0)
	payloads, records := demoPayloads(b, protocol)
	var datagrams []*udp.Datagram
	for _, p := range payloads {
		datagrams = append(datagrams, &udp.Datagram{Source: netip.MustParseAddrPort("192.0.2.1:50000"), Payload: p})
	}
	// Templates first, once.
	for _, d := range datagrams {
		w.handle(d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.handle(datagrams[i%len(datagrams)])
	}
	b.StopTimer()
	perRecord := float64(records) / float64(len(datagrams))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perRecord, "ns/record")
	b.ReportMetric(perRecord, "records/datagram")
}

// demoPayloads returns the demo exporter's datagrams of one protocol for
// 2000 flows (templates included, in order) and how many records they hold.
func demoPayloads(b *testing.B, protocol string) (payloads [][]byte, records int) {
	b.Helper()
	dc := demo.DefaultConfig()
	dc.Protocols, dc.Exporters = []string{protocol}, 1
	gen, err := demo.NewGenerator(dc, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	emit := func(d *demo.Datagram) error {
		payloads = append(payloads, append([]byte(nil), d.Payload...))
		records += len(d.Flows)
		return nil
	}
	if err := gen.Generate(time.Now(), 2000, emit); err != nil {
		b.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		b.Fatal(err)
	}
	return payloads, records
}

func BenchmarkWorkerNetFlowV5(b *testing.B) { benchmarkWorker(b, demo.NetFlow5) }
func BenchmarkWorkerNetFlowV9(b *testing.B) { benchmarkWorker(b, demo.NetFlow9) }
func BenchmarkWorkerIPFIX(b *testing.B)     { benchmarkWorker(b, demo.IPFIX) }
func BenchmarkWorkerSFlow(b *testing.B)     { benchmarkWorker(b, demo.SFlow5) }
