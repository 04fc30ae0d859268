package snmp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"sluice/internal/reporter"
)

// logBuffer collects a poller's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Poller with its reporter and log, and tunables shortened
// so that tests wait for milliseconds, not minutes.
type harness struct {
	*Poller
	r   *reporter.Reporter
	log *logBuffer
}

func newHarness(t testing.TB, cfg Config, stateDir string) *harness {
	t.Helper()
	log := &logBuffer{}
	r := reporter.New(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	p, err := New(r, cfg, Dependencies{StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	p.tick = 20 * time.Millisecond
	p.backoffBase = 100 * time.Millisecond
	p.saveEvery = 100 * time.Millisecond
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("poller log:\n%s", log.String())
		}
	})
	return &harness{Poller: p, r: r, log: log}
}

// run runs the poller until the returned stop is called (or the test ends)
// and reports Stop's error.
func (h *harness) run(t testing.TB) (stop func()) {
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := h.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// metric is the value of the poller's metric sluice_pipeline_enrich_snmp_<name> whose
// labels are the given name=value pairs (0 when absent).
func (h *harness) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	families, err := h.r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "sluice_pipeline_enrich_snmp_"+name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// fill puts exporters with interfaces in the cache as a successful poll
// would, without any agent: for benchmarks and allocation checks.
func (p *Poller) fill(exporters []netip.Addr, interfaces int) {
	var list []*exporter
	for _, addr := range exporters {
		addr = addr.Unmap()
		ifaces := make(map[uint32]Interface, interfaces)
		for i := 1; i <= interfaces; i++ {
			// Strings of their own, as a poll makes them.
			ifaces[uint32(i)] = Interface{Name: fmt.Sprintf("et-0/0/%d", i), Description: fmt.Sprintf("uplink to transit-%d", i), Speed: 100e9}
		}
		s := newSnapshot("router-"+addr.String(), time.Now(), ifaces)
		e := &exporter{addr: addr, key: keyOf(addr), cred: defaultCredential}
		e.data.Store(s)
		e.lastSeen.Store(p.clock.Load())
		// No miss of these asks for a poll within the test.
		e.notBefore.Store(p.clock.Load() + 3600)
		list = append(list, e)
	}
	p.exporters.Store(newExporterTable(list))
}
