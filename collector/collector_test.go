package collector

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/demo"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/queue"
	"sluice/pipeline/record"
)

// startCollector runs a collector on loopback port 0 with a real queue as
// its output.
func startCollector(t *testing.T, mutate func(*Config)) (*Collector, *queue.Queue, *reporter.Reporter) {
	t.Helper()
	return startCollectorLogging(t, reporter.New(slog.New(slog.DiscardHandler)), mutate)
}

// startCollectorLogging is startCollector reporting through r.
func startCollectorLogging(t *testing.T, r *reporter.Reporter, mutate func(*Config)) (*Collector, *queue.Queue, *reporter.Reporter) {
	t.Helper()
	q, err := queue.New(r, queue.Config{Batches: 1024}, queue.Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NetFlow.Listen = []string{"127.0.0.1:0"}
	cfg.SFlow.Listen = []string{"127.0.0.1:0"}
	cfg.Workers = 4
	cfg.BatchSize = 100
	cfg.FlushInterval = time.Hour // only size and Stop flush, so the test sees both
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(r, cfg, Dependencies{Output: q})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err == nil || err.Error() != "listeners not bound" {
		t.Fatalf("Ready before Start = %v, want listeners not bound", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err != nil {
		t.Fatalf("Ready after Start = %v", err)
	}
	return c, q, r
}

// drain collects every record queued until Stop closes the stream.
func drain(c *Collector, q *queue.Queue) []record.Flow {
	c.Stop(context.Background())
	_ = q.Stop(context.Background())
	var flows []record.Flow
	for b := range q.Batches() {
		flows = append(flows, b.Flows...)
		b.Release()
	}
	return flows
}

func send(t *testing.T, to netip.AddrPort, from netip.Addr, payloads ...[]byte) {
	t.Helper()
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // stay far from the socket buffer's size
		}
	}
}

// Every flow of many exporters, each sending its templates right before
// its data, arrives: an exporter's datagrams stay in order on one worker.
// Stop hands on the last partial batches.
func TestCollectorDeliversEveryFlowInOrder(t *testing.T) {
	c, q, _ := startCollector(t, nil)
	cfg := demo.DefaultConfig()
	cfg.Exporters = 8
	cfg.BindSources = true
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	netflowAddr, sflowAddr := c.Addrs()[0], c.Addrs()[1]
	byExporter := map[netip.Addr][][]byte{}
	var order []netip.Addr
	emit := func(d *demo.Datagram) error {
		if _, ok := byExporter[d.Source]; !ok {
			order = append(order, d.Source)
		}
		byExporter[d.Source] = append(byExporter[d.Source], append([]byte(nil), d.Payload...))
		return nil
	}
	if err := gen.Generate(time.Now(), 3000, emit); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		t.Fatal(err)
	}
	for _, src := range order {
		to := netflowAddr
		if payload := byExporter[src][0]; len(payload) > 3 && payload[3] == 5 && payload[1] == 0 {
			to = sflowAddr
		}
		send(t, to, src, byExporter[src]...)
	}
	stats := gen.Stats()
	testenv.EventuallyAtLeast(t, 10*time.Second, "flows decoded", func() float64 {
		return testutil.ToFloat64(c.metrics.netflow.flows) + testutil.ToFloat64(c.metrics.sflow.flows)
	}, float64(stats.Flows))

	flows := drain(c, q)
	if uint64(len(flows)) != stats.Flows {
		t.Fatalf("queued %d flows, sent %d", len(flows), stats.Flows)
	}
	var bytes uint64
	for _, f := range flows {
		if f.FlowType != record.FlowTypeSFlowV5 {
			bytes += f.Bytes
		}
	}
	if want := stats.NetFlow5.Bytes + stats.NetFlow9.Bytes + stats.IPFIX.Bytes; bytes != want {
		t.Fatalf("NetFlow/IPFIX bytes = %d, want %d", bytes, want)
	}
	if n := testutil.CollectAndCount(c.metrics.decodeErrors); n != 0 {
		t.Fatalf("decode errors by %d reasons, want none", n)
	}
}

// Malformed datagrams are counted by reason and do not disturb the good
// datagrams around them.
func TestCollectorCountsMalformed(t *testing.T) {
	c, q, _ := startCollector(t, nil)
	cfg := demo.DefaultConfig()
	cfg.Protocols = []string{demo.NetFlow5}
	cfg.Exporters = 1
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	emit := func(d *demo.Datagram) error {
		payloads = append(payloads, append([]byte(nil), d.Payload...))
		payloads = append(payloads, []byte{0, 5, 0, 30}, []byte("garbage!"), append([]byte(nil), d.Payload[:40]...))
		return nil
	}
	if err := gen.Generate(time.Now(), 300, emit); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		t.Fatal(err)
	}
	good := len(payloads) / 4
	send(t, c.Addrs()[0], netip.MustParseAddr("127.0.0.1"), payloads...)
	testenv.EventuallyAtLeast(t, 10*time.Second, "truncated", func() float64 {
		return testutil.ToFloat64(c.metrics.decodeErrors.WithLabelValues("netflow", "truncated"))
	}, float64(2*good))
	testenv.EventuallyAtLeast(t, 10*time.Second, "unknown", func() float64 {
		return testutil.ToFloat64(c.metrics.decodeErrors.WithLabelValues("unknown", "unknown_version"))
	}, float64(good))
	flows := drain(c, q)
	if uint64(len(flows)) != gen.Stats().Flows {
		t.Fatalf("queued %d flows, sent %d good ones", len(flows), gen.Stats().Flows)
	}
}

// A full worker queue drops the datagram and counts it; the reader never
// blocks on a slow worker.
func TestCollectorDropsWhenWorkerQueueFull(t *testing.T) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	blocked := make(chan struct{})
	cfg := DefaultConfig()
	cfg.NetFlow.Listen = []string{"127.0.0.1:0"}
	cfg.SFlow.Listen = nil
	cfg.Workers = 1
	cfg.WorkerQueue = 1
	cfg.BatchSize = 1
	out := blockingOutput{release: blocked}
	c, err := New(r, cfg, Dependencies{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	payloads := netflow5Payloads(t, 600)
	send(t, c.Addrs()[0], netip.MustParseAddr("127.0.0.1"), payloads...)
	testenv.EventuallyAtLeast(t, 10*time.Second, "queue_full drops", func() float64 { return testutil.ToFloat64(c.metrics.droppedQueueFull) }, 1)
	close(blocked)
	c.Stop(context.Background())
}

// netflow5Payloads returns demo NetFlow v5 datagrams of one exporter
// carrying n flows in all.
func netflow5Payloads(t *testing.T, n int) [][]byte {
	t.Helper()
	cfg := demo.DefaultConfig()
	cfg.Protocols, cfg.Exporters = []string{demo.NetFlow5}, 1
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	collect := func(d *demo.Datagram) error {
		payloads = append(payloads, append([]byte(nil), d.Payload...))
		return nil
	}
	if err := gen.Generate(time.Now(), n, collect); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), collect); err != nil {
		t.Fatal(err)
	}
	return payloads
}

// blockingOutput holds the first batch until release is closed, standing
// for a stalled next stage.
type blockingOutput struct{ release chan struct{} }

func (o blockingOutput) Put(ctx context.Context, b *record.Batch) error {
	<-o.release
	b.Release()
	return nil
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		want    protocol
	}{
		{[]byte{0, 5, 0, 1}, protocolNetFlow},
		{[]byte{0, 9, 0, 1}, protocolNetFlow},
		{[]byte{0, 10, 0, 1}, protocolNetFlow},
		{[]byte{0, 0, 0, 5, 0, 0, 0, 1}, protocolSFlow},
		{[]byte{0, 9}, protocolNetFlow}, // the decoder reports it truncated
		{[]byte{0, 0, 0, 4}, protocolUnknown},
		{[]byte{0, 7, 0, 0}, protocolUnknown},
		{nil, protocolUnknown},
	} {
		if got := sniff(tc.payload); got != tc.want {
			t.Errorf("sniff(% x) = %d, want %d", tc.payload, got, tc.want)
		}
	}
}

func TestWorkerIndexSpreadsAndIsStable(t *testing.T) {
	seen := map[int]int{}
	for i := range 256 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 4), byte(i)})
		w := workerIndex(a, 4)
		if w2 := workerIndex(a, 4); w2 != w {
			t.Fatalf("%s maps to %d then %d", a, w, w2)
		}
		seen[w]++
	}
	for w := range 4 {
		if seen[w] < 32 {
			t.Errorf("worker %d got %d of 256 exporters", w, seen[w])
		}
	}
}

func TestConfigValidateNamesKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 0
	cfg.NetFlow.Sockets = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, key := range []string{"workers", "netflow.sockets"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// Stop returns by its deadline even when the next stage never takes the
// last batches, and counts what it had to drop.
func TestCollectorStopDeadlineWithStalledOutput(t *testing.T) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg := DefaultConfig()
	cfg.NetFlow.Listen = []string{"127.0.0.1:0"}
	cfg.SFlow.Listen = nil
	cfg.Workers = 1
	cfg.BatchSize = 1000
	never := make(chan struct{})
	defer close(never)
	c, err := New(r, cfg, Dependencies{Output: stalledOutput{never}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	payloads := netflow5Payloads(t, 100)
	send(t, c.Addrs()[0], netip.MustParseAddr("127.0.0.1"), payloads...)
	testenv.EventuallyAtLeast(t, 10*time.Second, "flows decoded", func() float64 { return testutil.ToFloat64(c.metrics.netflow.flows) }, 100)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	var stopErr error
	go func() { stopErr = c.Stop(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return after its deadline")
	}
	if stopErr == nil || !strings.Contains(stopErr.Error(), "100 records dropped") {
		t.Errorf("Stop = %v, want an error saying 100 records were dropped", stopErr)
	}
	if got := testutil.ToFloat64(c.metrics.droppedShutdown); got != 100 {
		t.Fatalf("dropped at shutdown = %v, want 100", got)
	}
}

// stalledOutput never takes a batch until its context ends.
type stalledOutput struct{ never chan struct{} }

func (o stalledOutput) Put(ctx context.Context, b *record.Batch) error {
	select {
	case <-o.never:
		b.Release()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
