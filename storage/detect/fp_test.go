package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/pipeline/record"
)

// runOnce runs a fresh scheduler over what is stored and returns what the
// sink got.
func runOnce(t *testing.T, now time.Time, cfg Config) *sink {
	t.Helper()
	sk := &sink{refused: true}
	s := schedulerOn(t, engine, cfg, t.TempDir(), now, sk)
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return sk
}

func wantNone(t *testing.T, sk *sink, det string, addr record.Addr, what string) {
	t.Helper()
	if states, _ := recordsOf(sk, det, addr); len(states) > 0 {
		t.Errorf("%s raised %q for %s", det, states, what)
	}
}

// A long-lived connection cut by a 60 s active timeout is one connection,
// not a beacon; a beacon with a new client port each time still is one.
func TestBeaconingLongLivedConnection(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	src, dst := v4(10, 50, 0, 1), v4(203, 0, 113, 50)
	bsrc, bdst := v4(10, 50, 0, 11), v4(203, 0, 113, 51)
	begin := now.Add(-45 * time.Minute)
	var fs []record.Flow
	for i := range 44 {
		f := flow(src, dst, 5432, begin.Add(time.Duration(i)*time.Minute), now)
		f.SrcPort, f.TCPFlags, f.Packets, f.Bytes = 50000, 0x18, 200, 40000
		f.TimeFlowEnd = f.TimeFlowStart + 59_900
		fs = append(fs, f)
	}
	for i := range 20 {
		f := flow(bsrc, bdst, 443, begin.Add(time.Duration(i)*2*time.Minute), now)
		f.SrcPort, f.TCPFlags, f.Packets, f.Bytes = uint16(41000+i), 0x1b, 8, 1200
		fs = append(fs, f)
	}
	store(t, fs)
	sk := runOnce(t, now, DefaultConfig())
	wantNone(t, sk, Beaconing, src, "one long-lived connection cut at the active timeout")
	if states, _ := recordsOf(sk, Beaconing, bsrc); len(states) == 0 {
		t.Error("beaconing missed a beacon every 2 minutes")
	}
}

// Beaconing's pre-filter drops the pairs that cannot reach its
// thresholds; a beacon right at them (min-connections connections,
// min-interval apart: a span of 90 s by default) still passes it, and one
// connection fewer does not raise anything.
func TestBeaconingAtItsThresholds(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	cfg := DefaultConfig()
	at, short := v4(10, 50, 0, 21), v4(10, 50, 0, 22)
	begin := now.Add(-30 * time.Minute)
	var fs []record.Flow
	for _, b := range []struct {
		src record.Addr
		n   int
	}{{at, cfg.Beaconing.MinConnections}, {short, cfg.Beaconing.MinConnections - 1}} {
		for i := range b.n {
			f := flow(b.src, v4(203, 0, 113, 70), 8443, begin.Add(time.Duration(i)*cfg.Beaconing.MinInterval), now)
			f.SrcPort, f.TCPFlags, f.Packets, f.Bytes = uint16(42000+i), 0x1b, 8, 1200
			fs = append(fs, f)
		}
	}
	store(t, fs)
	sk := runOnce(t, now, cfg)
	if states, _ := recordsOf(sk, Beaconing, at); len(states) == 0 {
		t.Errorf("beaconing missed %d connections %s apart", cfg.Beaconing.MinConnections, cfg.Beaconing.MinInterval)
	}
	wantNone(t, sk, Beaconing, short, "one connection fewer than min-connections")
}

func TestBeaconMinSpan(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		conns    int
		want     int
	}{{10 * time.Second, 10, 89}, {time.Minute, 3, 119}, {50 * time.Millisecond, 10, 0}} {
		if got := beaconMinSpan(BeaconingConfig{MinInterval: c.interval, MinConnections: c.conns}); got != c.want {
			t.Errorf("%d connections %s apart: min span %d s, want %d", c.conns, c.interval, got, c.want)
		}
	}
}

// A server answering one NAT'd client's 300 connections is no port scan
// (of the client's ephemeral ports, nor the other way round); a SYN scan
// is.
func TestPortScanReturnTraffic(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	server, client := v4(203, 0, 113, 60), v4(10, 50, 0, 2)
	attacker, victim := v4(198, 51, 100, 61), v4(10, 50, 0, 61)
	begin := now.Add(-20 * time.Minute)
	var fs []record.Flow
	for i := range 300 {
		at := begin.Add(time.Duration(i) * 800 * time.Millisecond)
		f := flow(server, client, uint16(33000+i*7), at, now)
		f.SrcPort, f.TCPFlags, f.Packets, f.Bytes = 443, 0x1b, 20, 30000
		r := flow(client, server, 443, at, now)
		r.SrcPort, r.TCPFlags, r.Packets, r.Bytes = uint16(33000+i*7), 0x1b, 15, 2000
		d := flow(v4(10, 50, 0, 53), client, uint16(20000+i), at, now) // a resolver's replies
		d.Proto, d.TCPFlags, d.SrcPort = 17, 0, 53
		fs = append(fs, f, r, d)
	}
	fs = append(fs, scan(attacker, victim, 1, 300, begin, 100*time.Millisecond, now)...)
	storeUpToNow(t, fs, now)
	sk := runOnce(t, now, DefaultConfig())
	wantNone(t, sk, PortScan, server, "a server's answers to one client")
	wantNone(t, sk, PortScan, v4(10, 50, 0, 53), "a resolver's replies")
	if states, _ := recordsOf(sk, PortScan, attacker); len(states) == 0 {
		t.Error("port-scan missed a SYN scan of 300 ports")
	}
}

// A recursive resolver asking 300 servers and a NAT gateway's SSH sessions
// to 150 hosts are no sweep, nor is a sweep from an excluded network; a
// SYN sweep of port 445 is.
func TestSweepResolverAndNAT(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	resolver, nat, own, attacker := v4(10, 53, 0, 3), v4(10, 53, 0, 4), v4(10, 53, 0, 5), v4(198, 51, 100, 62)
	begin := now.Add(-20 * time.Minute)
	var fs []record.Flow
	for i := range 300 {
		at := begin.Add(time.Duration(i) * 500 * time.Millisecond)
		f := flow(resolver, v4(192, 0, byte(2+i/250), byte(i%250)), 53, at, now)
		f.Proto, f.TCPFlags, f.SrcPort = 17, 0, uint16(20000+i)
		fs = append(fs, f)
		if i < 150 {
			n := flow(nat, v4(203, 0, 113, byte(i)), 22, at, now)
			n.SrcPort, n.TCPFlags, n.Packets, n.Bytes = uint16(30000+i), 0x1b, 40, 9000
			fs = append(fs, n)
		}
		fs = append(fs, flow(own, v4(172, 16, byte(i/250), byte(i%250)), 445, at, now),
			flow(attacker, v4(10, 54, byte(i/250), byte(i%250)), 445, at, now))
	}
	storeUpToNow(t, fs, now)
	cfg := DefaultConfig()
	cfg.Exclude = map[string][]string{Sweep: {"10.53.0.4/31", "2001:db8::/32"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sk := runOnce(t, now, cfg)
	wantNone(t, sk, Sweep, resolver, "a DNS resolver")
	wantNone(t, sk, Sweep, nat, "a NAT gateway's SSH sessions")
	wantNone(t, sk, Sweep, own, "an excluded network's scanner")
	if states, _ := recordsOf(sk, Sweep, attacker); len(states) == 0 {
		t.Error("sweep missed a SYN sweep of port 445 on 300 hosts")
	}
	cfg.Exclude = map[string][]string{"sweeps": {"10.0.0.0/33"}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `unknown detection "sweeps"`) || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("a bad exclude validated: %v", err)
	}
}

// A busy HTTPS server behind a 1:1000 sampled exporter (each record one
// sampled packet) is no flood of flows, and an outbound transfer is not
// an attack on the outside host; the same volume inbound is.
func TestDDoSSampledAndDirection(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	server, outside, victim := v4(10, 55, 0, 1), v4(203, 0, 113, 55), v4(10, 55, 0, 2)
	begin := now.Add(-8 * time.Minute)
	var fs []record.Flow
	for i := range 1200 {
		at := begin.Add(time.Duration(i) * 200 * time.Millisecond)
		f := flow(v4(198, 51, 100, byte(i%50)), server, 443, at, now)
		f.SamplingRate, f.TCPFlags, f.Packets, f.Bytes, f.SrcPort = 1000, 0x18, 1, 1400, uint16(30000+i)
		f.TrafficDirection = record.DirectionInbound
		o := flow(v4(10, 55, 1, byte(i%50)), outside, 443, at, now)
		o.SamplingRate, o.TCPFlags, o.Packets, o.Bytes = 1000, 0x18, 60, 84000
		o.TrafficDirection = record.DirectionOutbound
		in := o
		in.SrcAddr, in.DstAddr, in.TrafficDirection = v4(198, 51, 101, byte(i%50)), victim, record.DirectionInbound
		fs = append(fs, f, o, in)
	}
	storeUpToNow(t, fs, now)
	sk := runOnce(t, now, DefaultConfig())
	wantNone(t, sk, DDoS, server, "a busy HTTPS server behind a sampled exporter")
	wantNone(t, sk, DDoS, outside, "an outbound transfer")
	if states, _ := recordsOf(sk, DDoS, victim); len(states) == 0 {
		t.Error("ddos missed the same volume inbound")
	}
}

// Exfiltration raises a large transfer to a new destination, not to one
// seen in the baseline, and looks the baseline up through the DstAddr
// skip index, for the window's candidates only.
func TestExfiltrationBaselineCandidates(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	src, known, fresh := v4(10, 56, 0, 1), v4(203, 0, 113, 56), v4(203, 0, 113, 57)
	old := now.Add(-48 * time.Hour)
	seen := flow(src, known, 443, old, old)
	seen.TrafficDirection = record.DirectionOutbound
	var fs []record.Flow
	for i := range 5 {
		for _, dst := range []record.Addr{known, fresh} {
			f := flow(src, dst, 443, now.Add(-time.Duration(10-i)*time.Minute), now)
			f.TrafficDirection, f.TCPFlags, f.Packets, f.Bytes = record.DirectionOutbound, 0x18, 400000, 600_000_000
			fs = append(fs, f)
		}
	}
	fs = append(fs, flow(v4(10, 50, 0, 9), v4(192, 0, 2, 9), 443, now.Add(-10*time.Second), now))
	store(t, []record.Flow{seen})
	store(t, fs)
	sk := runOnce(t, now, DefaultConfig())
	wantNone(t, sk, Exfiltration, known, "a destination seen two days before")
	if states, _ := recordsOf(sk, Exfiltration, fresh); len(states) == 0 {
		t.Error("exfiltration missed 3 GB to a new destination")
	}
	// The baseline is read for the candidates only: EXPLAIN does not show
	// the reads of IN's sets, so the query says it.
	cfg := DefaultConfig()
	q, err := detections[slices.IndexFunc(detections, func(d detection) bool { return d.name == Exfiltration })].query(&cfg, now.Add(-time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	baseline := flowTimeRange(now.Add(-cfg.Exfiltration.Window-cfg.Exfiltration.Baseline), now.Add(-cfg.Exfiltration.Window), cfg.ReceivedSlack)
	if !strings.Contains(q, baseline+" AND DstAddr GLOBAL IN (") {
		t.Errorf("the baseline is read for every destination:\n%s", q)
	}
}

// A 5-minute detection reads the flows received from received-slack
// before its windows, not an hour more; a flow received further ahead of
// its start than that is outside its windows.
func TestReceivedSlackBoundsRead(t *testing.T) {
	cfg := DefaultConfig()
	to := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q, err := detections[0].query(&cfg, to.Add(-time.Minute), to)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("TimeReceived >= toDateTime(%d)", to.Add(-cfg.Window-cfg.ReceivedSlack).Unix())
	if cfg.ReceivedSlack != 5*time.Minute || !strings.Contains(q, want) {
		t.Errorf("received-slack %s; the port scan's query does not bound arrival by %s:\n%s", cfg.ReceivedSlack, want, q)
	}
	cfg.ReceivedSlack = -time.Second
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "received-slack") {
		t.Errorf("a negative received-slack validated: %v", err)
	}
}

// The detections' flow-time range is checked against the TimeFlowStart
// minmax skip index.
func TestFlowTimeSkipIndex(t *testing.T) {
	store(t, []record.Flow{flow(v4(10, 57, 0, 1), v4(192, 0, 2, 57), 443, time.Now().Add(-time.Minute), time.Now())})
	cfg := DefaultConfig()
	to := time.Now().UTC().Truncate(time.Minute)
	q, err := detections[0].query(&cfg, to.Add(-time.Minute), to)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Query(t.Context(), "EXPLAIN indexes = 1 "+q, "TSV")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "idx_TimeFlowStart") {
		t.Errorf("the port scan's read does not use idx_TimeFlowStart:\n%s", out)
	}
}

// A listed scanner reaching 120 hosts is one threat-intel alert counting
// them; a Tor client reaching 30 relays is one tor alert; past
// max-new-alerts, new events are counted, not raised.
func TestThreatIntelPerListedAddressAndCap(t *testing.T) {
	c2, _ := record.RegisterFeed("test-c2")
	tor, _ := record.RegisterFeed("tor")
	now := time.Now().UTC().Truncate(time.Second)
	listed, client := v4(198, 51, 100, 70), v4(10, 59, 0, 1)
	begin := now.Add(-4 * time.Minute)
	var fs []record.Flow
	for i := range 120 {
		f := flow(listed, v4(10, 59, 1, byte(i)), 23, begin.Add(time.Duration(i)*time.Second), now)
		f.SrcThreatFeeds = c2
		fs = append(fs, f)
	}
	for i := range 30 {
		f := flow(client, v4(198, 51, 101, byte(i)), 9001, begin.Add(time.Duration(i)*time.Second), now)
		f.DstThreatFeeds = tor
		fs = append(fs, f)
	}
	for i := range 5 {
		f := flow(v4(10, 59, 2, byte(i)), v4(198, 51, 102, 1), 443, begin, now)
		f.DstThreatFeeds = c2
		fs = append(fs, f)
	}
	storeUpToNow(t, fs, now)
	cfg := DefaultConfig()
	sk := &sink{refused: true}
	s := schedulerOn(t, engine, cfg, t.TempDir(), now, sk)
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if states, ids := recordsOf(sk, ThreatIntel, listed); len(ids) != 1 {
		t.Errorf("a listed scanner of 120 hosts raised %d threat-intel alerts (%q), want 1", len(ids), states)
	}
	if states, ids := recordsOf(sk, Tor, client); len(ids) != 1 {
		t.Errorf("a Tor client of 30 relays raised %d tor alerts (%q), want 1", len(ids), states)
	}
	cfg.MaxNewAlerts = 1
	sk = &sink{refused: true}
	s = schedulerOn(t, engine, cfg, t.TempDir(), now, sk)
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.alertsCapped.WithLabelValues(ThreatIntel)); got == 0 {
		t.Error("alerts_capped_total{threat-intel} is 0 with two listed addresses and max-new-alerts 1")
	}
	opened := 0
	for _, a := range sk.alerts {
		if a.Detection == ThreatIntel && a.State == record.AlertOpen {
			opened++
		}
	}
	if opened > 1 {
		t.Errorf("threat-intel opened %d alerts with max-new-alerts 1", opened)
	}
}
