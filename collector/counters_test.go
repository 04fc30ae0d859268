package collector

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sluice/internal/pcap"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/queue"
	"sluice/pipeline/record"
)

type counterRecorder struct {
	mu   sync.Mutex
	rows []record.Counter
}

func (c *counterRecorder) PutCounter(x *record.Counter) {
	c.mu.Lock()
	c.rows = append(c.rows, *x)
	c.mu.Unlock()
}

func (c *counterRecorder) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows)
}

// sFlow counter samples received over UDP reach the CounterOutput, with the
// agent address as exporter.
func TestCollectorHandsOnCounters(t *testing.T) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	q, err := queue.New(r, queue.Config{Batches: 16}, queue.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NetFlow.Listen, cfg.SFlow.Listen = nil, []string{"127.0.0.1:0"}
	out := &counterRecorder{}
	c, err := New(r, cfg, Dependencies{Output: q, Counters: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	datagrams, _, err := pcap.ReadFile(filepath.Join(testenv.CorpusDir(t), "lssflow__counters-1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range datagrams {
		send(t, c.Addrs()[0], netip.MustParseAddr("127.0.0.1"), d.Payload)
	}
	testenv.EventuallyAtLeast(t, 10*time.Second, "counters", func() float64 { return float64(out.len()) }, 1)
	drain(c, q)
	if n := out.len(); n != 1 {
		t.Fatalf("%d counter samples, want 1", n)
	}
	got := out.rows[0]
	if got.IfIndex != 896 || got.IfInOctets != 50839502302 || got.ExporterAddress.IsZero() || got.TimeReceived == 0 {
		t.Fatalf("counter %+v", got)
	}
}
