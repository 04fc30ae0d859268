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
	"sluice/pipeline"
	"sluice/pipeline/queue"
	"sluice/storage/clickhouse"
	"sluice/storage/writer"
)

// columnsOnly is an Inserter that stores nothing: the benchmark below
// stops at the writer's column building, before the engine's insert.
type columnsOnly struct{ rows int }

func (c *columnsOnly) Insert(_ context.Context, _, _ string, b clickhouse.Block) error {
	c.rows += b.Rows()
	return nil
}

// BenchmarkCollectorToWriter measures the path of `sluice run` from a
// datagram to the writer's columns: decode into a batch, the in-process
// queue, the pipeline loop (gathering 50,000 records an insert), and the
// writer building its ClickHouse columns; the engine's insert is left
// out. It reports ns, bytes and allocations per datagram, and ns per
// record. The datagrams are those of 200,000 demo flows, so that the
// caches do not hold the input.
func BenchmarkCollectorToWriter(b *testing.B) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg := DefaultConfig()
	cfg.Workers = 1
	qcfg := queue.DefaultConfig()
	qcfg.Overflow.MaxBytes = 0 // the in-memory path: the consumer keeps up
	q, err := queue.New(r, qcfg, queue.Dependencies{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(r, cfg, Dependencies{Output: q})
	if err != nil {
		b.Fatal(err)
	}
	ins := &columnsOnly{}
	w, err := writer.New(r, writer.DefaultConfig(), writer.Dependencies{Inserter: ins})
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(r, pipeline.DefaultConfig(), pipeline.Dependencies{Source: q.Batches(), Sinks: []pipeline.Sink{w}})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}

	wk := newWorker(c, 0)
	dc := demo.DefaultConfig()
	dc.Protocols, dc.Exporters = []string{demo.NetFlow9}, 1
	gen, err := demo.NewGenerator(dc, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var datagrams []*udp.Datagram
	records := 0
	src := netip.MustParseAddrPort("192.0.2.1:50000")
	emit := func(d *demo.Datagram) error {
		datagrams = append(datagrams, &udp.Datagram{Source: src, Payload: append([]byte(nil), d.Payload...)})
		records += len(d.Flows)
		return nil
	}
	for range 100 {
		if err := gen.Generate(time.Now(), 2000, emit); err != nil {
			b.Fatal(err)
		}
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		b.Fatal(err)
	}
	for _, d := range datagrams[:min(len(datagrams), 20)] {
		wk.handle(d) // templates first
	}
	wk.flush()

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wk.handle(datagrams[i%len(datagrams)])
	}
	wk.flush()
	_ = q.Stop(context.Background())
	if err := p.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	perRecord := float64(records) / float64(len(datagrams))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perRecord, "ns/record")
	b.ReportMetric(perRecord, "records/datagram")
}
