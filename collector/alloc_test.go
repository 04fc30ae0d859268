//go:build !race

package collector

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"sluice/collector/udp"
	"sluice/internal/demo"
	"sluice/internal/reporter"
)

// The no-allocation tests are left out of -race builds, where sync.Pool
// drops some of what is put back; `make test` runs them without it.

// The worker's whole path for a NetFlow v9 data datagram, per-exporter
// metrics included, allocates nothing once the exporter is known.
func TestWorkerDataDatagramAllocatesNothing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	c, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{Output: releasingOutput{}})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(c, 0)
	var payloads [][]byte
	dc := demo.DefaultConfig()
	dc.Protocols, dc.Exporters = []string{demo.NetFlow9}, 1
	gen, err := demo.NewGenerator(dc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	if err := gen.Generate(time.Now(), 200, func(d *demo.Datagram) error {
		payloads = append(payloads, append([]byte(nil), d.Payload...))
		if d.Templates == 0 {
			data = payloads[len(payloads)-1]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if data == nil {
		t.Fatal("no data-only datagram generated")
	}
	src := netip.MustParseAddrPort("192.0.2.1:50000")
	for _, p := range payloads {
		w.handle(&udp.Datagram{Source: src, Payload: p})
	}
	d := &udp.Datagram{Source: src, Payload: data}
	allocs := testing.AllocsPerRun(200, func() {
		w.handle(d)
		w.flush() // hand the batch on, so no batch is taken from the pool inside the measure
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per data datagram", allocs)
	}
}
