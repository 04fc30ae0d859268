package demo

import (
	"net/netip"
	"testing"
	"time"
)

// TestReplayPool checks the load-test pool: replayed flows are TCP or UDP, move with the
// export time, and each exporter's (source address, source port) pairs never repeat, across
// several passes over the pool.
func TestReplayPool(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Pool = 50
	cfg.Exporters = 2
	caps, g := generate(t, cfg, testStart, []int{1000, 1000, 1000}, time.Minute)
	type key struct {
		exporter netip.Addr
		src      netip.Addr
		port     uint16
	}
	seen := map[key]bool{}
	var flows uint64
	for _, d := range caps {
		for _, f := range d.flows {
			flows++
			if f.IPProto != ipProtoTCP && f.IPProto != ipProtoUDP {
				t.Fatalf("replayed flow of IP protocol %d, want TCP or UDP only", f.IPProto)
			}
			if f.End.After(d.export) || f.End.Before(d.export.Add(-activeTimeout-5*time.Second)) {
				t.Errorf("flow ends at %s, export at %s", f.End, d.export)
			}
			k := key{f.Exporter, f.SrcAddr, f.SrcPort}
			if seen[k] {
				t.Fatalf("%s flow %v repeats a source of its exporter", f.Protocol, k)
			}
			seen[k] = true
		}
	}
	if flows != 3000 || g.Stats().Flows != 3000 {
		t.Errorf("%d flows in datagrams, stats %d, want 3000", flows, g.Stats().Flows)
	}
}

// TestRunSendBatch sends with sendmmsg and IP_PKTINFO: every datagram arrives, from its
// exporter's address, and the stats count exactly what arrived.
func TestRunSendBatch(t *testing.T) {
	conn, collect := listen(t)
	cfg := DefaultConfig()
	cfg.Target = conn.LocalAddr().String()
	cfg.Rate = 20000
	cfg.Count = 5000
	cfg.Duration = time.Minute
	cfg.BindSources = true
	cfg.Pool = 100
	cfg.SendBatch = 16
	cfg.PacingInterval = time.Millisecond
	stats, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Flows != cfg.Count {
		t.Errorf("sent %d flows, want %d", stats.Flows, cfg.Count)
	}
	if stats.PayloadBytes == 0 || stats.PayloadBytes < stats.Datagrams*100 {
		t.Errorf("%d payload bytes in %d datagrams", stats.PayloadBytes, stats.Datagrams)
	}
	got := collect(stats.Flows)
	checkReceived(t, got, stats)
	for k := range len(protocolNames) * cfg.Exporters {
		if a := exporterAddress(k); !got.sources[a] {
			t.Errorf("nothing received from %s; sources %v", a, got.sources)
		}
	}
	if len(got.sources) != len(protocolNames)*cfg.Exporters {
		t.Errorf("datagrams came from %d addresses, want %d", len(got.sources), len(protocolNames)*cfg.Exporters)
	}
}

// TestReplayAllocations: replaying the pool allocates nothing per flow, like drawing does.
func TestReplayAllocations(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Pool = 256
	if allocs, _ := generateAllocs(t, cfg, time.Second); allocs != 0 {
		t.Errorf("Generate with a pool allocates %.1f times per 1000 flows, want 0", allocs)
	}
}
