package demo

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// received is what a test listener got, per protocol, read from the datagrams themselves.
type received struct {
	datagrams map[string]uint64
	flows     map[string]uint64
	sources   map[netip.Addr]bool
}

// listen opens a loopback UDP listener and collects datagrams until want flows have arrived or
// the deadline passes.
func listen(t *testing.T) (*net.UDPConn, func(want uint64) received) {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadBuffer(4 << 20)
	collect := func(want uint64) received {
		r := received{datagrams: map[string]uint64{}, flows: map[string]uint64{}, sources: map[netip.Addr]bool{}}
		var total uint64
		buf := make([]byte, 65536)
		deadline := time.Now().Add(5 * time.Second)
		for total < want {
			_ = conn.SetReadDeadline(deadline)
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Errorf("after %d of %d flows: %v", total, want, err)
				return r
			}
			proto, flows := countFlows(t, buf[:n])
			r.datagrams[proto]++
			r.flows[proto] += flows
			r.sources[from.Addr().Unmap()] = true
			total += flows
		}
		return r
	}
	return conn, collect
}

// countFlows reads a datagram's protocol and the number of flows in it, walking NetFlow v9 and
// IPFIX sets by their lengths.
func countFlows(t *testing.T, b []byte) (string, uint64) {
	t.Helper()
	switch binary.BigEndian.Uint16(b) {
	case 5:
		return NetFlow5, uint64(binary.BigEndian.Uint16(b[2:]))
	case 0: // sFlow's 32-bit version
		if binary.BigEndian.Uint32(b) == 5 && binary.BigEndian.Uint32(b[4:]) == 1 {
			return SFlow5, uint64(binary.BigEndian.Uint32(b[24:]))
		}
	case 9:
		return NetFlow9, countSetRecords(b[20:], netflow9RecordLengthIPv4, netflow9RecordLengthIPv6)
	case 10:
		return IPFIX, countSetRecords(b[16:], ipfixRecordLengthIPv4, ipfixRecordLengthIPv6)
	}
	t.Fatalf("unknown datagram % x", b[:min(len(b), 8)])
	return "", 0
}

func countSetRecords(b []byte, lengthIPv4, lengthIPv6 int) uint64 {
	var n uint64
	for len(b) >= 4 {
		id, length := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		switch id {
		case templateIDIPv4:
			n += uint64((length - 4) / lengthIPv4)
		case templateIDIPv6:
			n += uint64((length - 4) / lengthIPv6)
		}
		b = b[length:]
	}
	return n
}

func checkReceived(t *testing.T, got received, stats Stats) {
	t.Helper()
	for _, p := range protocolNames {
		want, _ := stats.Protocol(p)
		if got.datagrams[p] != want.Datagrams || got.flows[p] != want.Flows {
			t.Errorf("%s: received %d datagrams with %d flows, stats say %d with %d",
				p, got.datagrams[p], got.flows[p], want.Datagrams, want.Flows)
		}
	}
}

func TestRunCount(t *testing.T) {
	conn, collect := listen(t)
	cfg := DefaultConfig()
	cfg.Target = conn.LocalAddr().String()
	cfg.Rate = 6000
	cfg.Count = 600
	cfg.Duration = time.Minute
	var reports int
	stats, err := Run(t.Context(), cfg, func(Stats) { reports++ })
	if err != nil {
		t.Fatal(err)
	}
	if stats.Flows != cfg.Count {
		t.Errorf("sent %d flows, want %d", stats.Flows, cfg.Count)
	}
	if reports == 0 {
		t.Error("progress was never reported")
	}
	checkReceived(t, collect(stats.Flows), stats)
}

func TestRunDuration(t *testing.T) {
	conn, collect := listen(t)
	cfg := DefaultConfig()
	cfg.Target = conn.LocalAddr().String()
	cfg.Rate = 2000
	cfg.Duration = 250 * time.Millisecond
	cfg.Protocols = []string{NetFlow9, SFlow5}
	cfg.BindSources = true
	stats, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Flows != 500 {
		t.Errorf("sent %d flows in %s at %d/s, want 500", stats.Flows, cfg.Duration, cfg.Rate)
	}
	got := collect(stats.Flows)
	checkReceived(t, got, stats)
	// Each exporter sent from its own loopback address.
	for k := range 2 * cfg.Exporters {
		if a := exporterAddress(k); !got.sources[a] {
			t.Errorf("nothing received from %s; sources %v", a, got.sources)
		}
	}
}

func TestRunCancel(t *testing.T) {
	conn, _ := listen(t)
	cfg := DefaultConfig()
	cfg.Target = conn.LocalAddr().String()
	cfg.Rate = 100
	cfg.Duration = 0 // until cancelled
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, cfg, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run() = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("Run took %s to stop", time.Since(start))
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate = -1
	if _, err := Run(t.Context(), cfg, nil); err == nil {
		t.Fatal("Run accepted --rate -1")
	}
}

func TestFlowsDue(t *testing.T) {
	for _, c := range []struct {
		rate    int
		elapsed time.Duration
		want    uint64
	}{
		{1000, time.Second, 1000}, {5000, 100 * time.Millisecond, 500}, {3, 999 * time.Millisecond, 2},
		{10_000_000, 24 * time.Hour, 864_000_000_000}, {1, -time.Second, 0},
	} {
		if got := flowsDue(c.rate, c.elapsed); got != c.want {
			t.Errorf("flowsDue(%d, %s) = %d, want %d", c.rate, c.elapsed, got, c.want)
		}
	}
}
