package demo

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Attack scenarios: flows of one attack each, injected among the benign traffic through the
// simulated exporters, at fixed offsets of flow time from the run's first flow. Each is named
// by the detection (storage/detect) that should raise it. Attackers and outside victims are in
// 198.18.0.0/15 (RFC 2544's benchmarking range), which the benign model never draws, and
// inside hosts in 10.20.0.0/16–10.29.0.0/16. Volumes are of the real traffic: a sampled
// exporter carries them divided by its sampling rate.

// Attack names: the detections they exercise.
const (
	AttackPortScan      = "port-scan"
	AttackSweep         = "sweep"
	AttackSYNFlood      = "syn-flood"
	AttackDDoS          = "ddos"
	AttackAmplification = "amplification"
	AttackBruteForce    = "brute-force"
	AttackBeaconing     = "beaconing"
	AttackExfiltration  = "exfiltration"
	AttackThreatIntel   = "threat-intel"
	AttackTor           = "tor"
)

// AttackFeeds are the threat feeds the threat-intel and tor scenarios need sluice to load
// (enrich.threat.feeds, format plain): feed name → listed addresses.
var AttackFeeds = map[string][]string{
	"demo-c2": {"198.18.9.9"},
	"tor":     {"198.18.10.10"},
}

// AttackSpan is the flow time a run with attacks must cover (Duration × TimeScale): the last
// scenario ends 45 minutes in, and the detections need a few quiet minutes after it to see
// it stop.
const AttackSpan = 55 * time.Minute

// AttackTruth is what one scenario injected: the ground truth a detection is judged on.
type AttackTruth struct {
	Detection string `json:"detection"`
	// Attacker and Victim are addresses; either is empty when the attack has many (a flood's
	// spoofed sources, a sweep's targets).
	Attacker string `json:"attacker,omitempty"`
	Victim   string `json:"victim,omitempty"`
	// Start and End bound its flows' own timestamps (flow time).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// LastSent is when (wall clock) its last flow was handed to the exporter's datagram.
	LastSent time.Time `json:"last_sent"`
	Flows    int       `json:"flows"`
	Note     string    `json:"note"`
}

// GroundTruth is the file `sluice demo --ground-truth` writes.
type GroundTruth struct {
	TimeScale float64             `json:"time_scale"`
	Feeds     map[string][]string `json:"feeds"`
	Attacks   []AttackTruth       `json:"attacks"`
}

// AttackNames lists every scenario, in the order they start.
func AttackNames() []string {
	var names []string
	for _, s := range scenarios {
		if !s.benign {
			names = append(names, s.name)
		}
	}
	return names
}

// BenignHubs (--attacks hubs) selects the benign hub scenarios: busy hosts
// a naive rule mistakes for attackers (a DNS resolver, a busy HTTPS server
// behind a sampled exporter, a long-lived connection cut at the active
// timeout, a NAT gateway). They raise no alert and are not in the ground
// truth; the detection quality test injects them in both of its runs.
const BenignHubs = "hubs"

// hubNames are the benign hub scenarios.
func hubNames() []string {
	var names []string
	for _, s := range scenarios {
		if s.benign {
			names = append(names, s.name)
		}
	}
	return names
}

// knownScenario says whether --attacks may name it.
func knownScenario(name string) bool {
	return name == BenignHubs || slices.ContainsFunc(scenarios, func(s scenario) bool { return s.name == name })
}

// ParseAttacks reads --attacks: "all", "none" or "" (none), or a comma-separated list.
func ParseAttacks(s string) ([]string, error) {
	switch s {
	case "", "none":
		return nil, nil
	case "all":
		return AttackNames(), nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !knownScenario(name) {
			return nil, fmt.Errorf("--attacks: unknown scenario %q; known: all, none, %s, %s", name, BenignHubs, strings.Join(AttackNames(), ", "))
		}
		expanded := []string{name}
		if name == BenignHubs {
			expanded = hubNames()
		}
		for _, n := range expanded {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// scenario builds one attack's flows, starting at start (flow time). Sampled scenarios go
// through a sampled exporter (volumetric attacks, whose detections scale counts), the others
// through an unsampled one (counting distinct ports or connections needs every flow).
type scenario struct {
	name    string
	benign  bool // a benign hub: no alert wanted, not in the ground truth
	offset  time.Duration
	sampled bool
	build   func(r *rand.Rand, start time.Time) ([]Flow, AttackTruth)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// hostIn is the address i after base.
func hostIn(base string, i int) netip.Addr {
	b := addr(base).As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func ephemeral(r *rand.Rand) uint16 { return uint16(32768 + r.IntN(28000)) }

// mk is a flow of real packets and bytes (a sampled exporter divides them).
func mk(proto uint8, src, dst netip.Addr, sport, dport uint16, flags uint8, packets, bytes uint64, start time.Time, d time.Duration) Flow {
	return Flow{SrcAddr: src, DstAddr: dst, SrcPort: sport, DstPort: dport, IPProto: proto, TCPFlags: flags,
		Packets: packets, Bytes: bytes, Start: start, End: start.Add(d), SrcMask: 24, DstMask: 24}
}

var scenarios = []scenario{
	{name: "hub-resolver", benign: true, offset: 6 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// A recursive resolver: queries to 300 authoritative servers, and
		// answers to 300 clients' ephemeral ports, in 5 minutes.
		res := addr("10.30.0.53")
		var fs []Flow
		for i := range 300 {
			at := t.Add(time.Duration(i) * time.Second)
			fs = append(fs, mk(ipProtoUDP, res, hostIn("198.18.30.1", i), ephemeral(r), 53, 0, 1, 70, at, 0),
				mk(ipProtoUDP, res, hostIn("10.30.1.1", i), 53, ephemeral(r), 0, 1, 200, at, 0))
		}
		return fs, AttackTruth{}
	}},
	{name: "hub-https", benign: true, sampled: true, offset: 12 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// A busy HTTPS server behind the 1:100 sampled exporter: 13,000
		// records of one sampled packet from 200 clients in under 5
		// minutes (over 3,500 records/s scaled in any 5-minute window, as
		// many packets/s, 40 Mbit/s).
		srv := addr("10.31.0.43")
		var fs []Flow
		for i := range 13000 {
			fs = append(fs, mk(ipProtoTCP, hostIn("198.18.31.1", i%200), srv, ephemeral(r), 443, 0x18, 100, 140000,
				t.Add(time.Duration(i)*22*time.Millisecond), 0))
		}
		return fs, AttackTruth{}
	}},
	{name: "hub-long-connection", benign: true, offset: 2 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// A database connection open for 50 minutes, exported as one
		// record a minute (the active timeout).
		src, dst := addr("10.32.0.5"), addr("198.18.32.32")
		var fs []Flow
		for m := range 50 {
			fs = append(fs, mk(ipProtoTCP, src, dst, 50432, 5432, 0x18, 300, 90000, t.Add(time.Duration(m)*time.Minute), 59*time.Second))
		}
		return fs, AttackTruth{}
	}},
	{name: "hub-nat", benign: true, offset: 24 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// A NAT gateway: its clients' HTTPS to 300 hosts and SSH sessions
		// to 150 hosts in 5 minutes.
		nat := addr("10.33.0.1")
		var fs []Flow
		for i := range 300 {
			at := t.Add(time.Duration(i) * time.Second)
			fs = append(fs, mk(ipProtoTCP, nat, hostIn("198.18.33.1", i), ephemeral(r), 443, 0x1b, 20, 4000, at, 2*time.Second))
			if i < 150 {
				fs = append(fs, mk(ipProtoTCP, nat, hostIn("198.18.34.1", i), ephemeral(r), 22, 0x1b, 40, 6000, at, 30*time.Second))
			}
		}
		return fs, AttackTruth{}
	}},
	{name: AttackPortScan, offset: 5 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 1,000 ports of one inside host in 3 minutes, one SYN each (nmap -sS at a slow pace).
		src, dst := addr("198.18.1.10"), addr("10.20.0.5")
		var fs []Flow
		for p := range 1000 {
			fs = append(fs, mk(ipProtoTCP, src, dst, 61000, uint16(1+p), 0x02, 1, 44, t.Add(time.Duration(p)*180*time.Millisecond), 0))
		}
		return fs, AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "1000 TCP ports of one host in 3 minutes"}
	}},
	{name: AttackSweep, offset: 7 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// Telnet on 300 inside hosts in 3 minutes (a Mirai-style sweep).
		src := addr("198.18.2.10")
		var fs []Flow
		for i := range 300 {
			fs = append(fs, mk(ipProtoTCP, src, hostIn("10.21.0.1", i), ephemeral(r), 23, 0x02, 1, 44, t.Add(time.Duration(i)*600*time.Millisecond), 0))
		}
		return fs, AttackTruth{Attacker: src.String(), Note: "TCP port 23 on 300 hosts in 3 minutes"}
	}},
	{name: AttackSYNFlood, offset: 10 * time.Minute, sampled: true, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 15,000 SYN/s for 5 minutes from 50 spoofed sources: above the SYN flood threshold,
		// below the volumetric one.
		dst := addr("10.22.0.80")
		fs := flood(50, func(i int) netip.Addr { return hostIn("198.19.0.1", i*5) }, dst, ipProtoTCP, 0x02,
			func(int) uint16 { return ephemeral(r) }, func() uint16 { return 80 }, 15000, 60, t, time.Second, 50*time.Second)
		return fs, AttackTruth{Victim: dst.String(), Note: "15,000 SYN packets/s from 50 sources for 5 minutes"}
	}},
	{name: AttackDDoS, offset: 16 * time.Minute, sampled: true, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 2 Gbit/s, 200,000 packets/s of UDP from 100 sources for 5 minutes.
		dst := addr("10.23.0.10")
		fs := flood(100, func(i int) netip.Addr { return hostIn("198.18.4.1", i) }, dst, ipProtoUDP, 0,
			func(int) uint16 { return ephemeral(r) }, func() uint16 { return 80 }, 200000, 1250, t, 300*time.Millisecond, 55*time.Second)
		return fs, AttackTruth{Victim: dst.String(), Note: "2 Gbit/s, 200k packets/s of UDP from 100 sources for 5 minutes"}
	}},
	{name: AttackAmplification, offset: 22 * time.Minute, sampled: true, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 200 Mbit/s of NTP, DNS and memcached answers from 40 reflectors for 5 minutes.
		dst := addr("10.24.0.20")
		ports := []uint16{123, 53, 11211}
		fs := flood(40, func(i int) netip.Addr { return hostIn("198.18.5.1", i) }, dst, ipProtoUDP, 0,
			func(i int) uint16 { return ports[i%len(ports)] }, func() uint16 { return ephemeral(r) },
			200_000_000/8/1400, 1400, t, time.Second, 50*time.Second)
		return fs, AttackTruth{Victim: dst.String(), Note: "200 Mbit/s from 40 reflectors (NTP, DNS, memcached) for 5 minutes"}
	}},
	{name: AttackBruteForce, offset: 28 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 120 SSH logins in 4 minutes, each a short connection of 12 packets.
		src, dst := addr("198.18.6.10"), addr("10.25.0.22")
		var fs []Flow
		for i := range 120 {
			fs = append(fs, mk(ipProtoTCP, src, dst, uint16(40000+i), 22, 0x1b, 12, 2400, t.Add(time.Duration(i)*2*time.Second), 1500*time.Millisecond))
		}
		return fs, AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "120 SSH connections of 12 packets in 4 minutes"}
	}},
	{name: AttackBeaconing, offset: 5 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// An implant calling its controller every 2 minutes (±3 s) for 40 minutes.
		src, dst := addr("10.26.0.33"), addr("198.18.7.7")
		var fs []Flow
		for i := range 20 {
			jitter := time.Duration(r.IntN(6000)-3000) * time.Millisecond
			fs = append(fs, mk(ipProtoTCP, src, dst, ephemeral(r), 443, 0x1b, 8, 1200, t.Add(time.Duration(i)*2*time.Minute+jitter), 300*time.Millisecond))
		}
		return fs, AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "HTTPS every 120 s ± 3 s, 20 times"}
	}},
	{name: AttackExfiltration, offset: 33 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// 3 GB uploaded in 5 minutes to a destination never seen before.
		src, dst := addr("10.27.0.44"), addr("198.18.8.8")
		var fs []Flow
		for m := range 5 {
			fs = append(fs, mk(ipProtoTCP, src, dst, 50123, 443, 0x18, 430000, 600_000_000, t.Add(time.Duration(m)*time.Minute), 59*time.Second))
		}
		return fs, AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "3 GB to a new destination in 5 minutes"}
	}},
	{name: AttackThreatIntel, offset: 38 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// Five connections to a listed command-and-control address, and its answers.
		src, dst := addr("10.28.0.55"), addr("198.18.9.9")
		return conversations(r, src, dst, 8443, 10, 1500, 6000, t, time.Second),
			AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "5 connections to an address the feed demo-c2 lists"}
	}},
	{name: AttackTor, offset: 41 * time.Minute, build: func(r *rand.Rand, t time.Time) ([]Flow, AttackTruth) {
		// An inside host talking to a Tor relay's ORPort.
		src, dst := addr("10.29.0.66"), addr("198.18.10.10")
		return conversations(r, src, dst, 9001, 20, 9000, 20000, t, 20*time.Second),
			AttackTruth{Attacker: src.String(), Victim: dst.String(), Note: "5 connections to a relay the feed tor lists"}
	}},
}

// flood is 5 minutes of pps packets of size bytes a second from n sources to victim: a flow
// per source a minute, the sources starting spacing apart, each flow lasting d.
func flood(n int, source func(int) netip.Addr, victim netip.Addr, proto, flags uint8, sport func(int) uint16, dport func() uint16,
	pps, size uint64, t time.Time, spacing, d time.Duration) []Flow {
	var fs []Flow
	packets := pps * 60 / uint64(n)
	for m := range 5 {
		for i := range n {
			fs = append(fs, mk(proto, source(i), victim, sport(i), dport(), flags, packets, packets*size,
				t.Add(time.Duration(m)*time.Minute+time.Duration(i)*spacing), d))
		}
	}
	return fs
}

// conversations is five TCP connections from client to server's port, 30 s apart, each a
// request flow and its answer.
func conversations(r *rand.Rand, client, server netip.Addr, port uint16, packets, reqBytes, respBytes uint64, t time.Time, d time.Duration) []Flow {
	var fs []Flow
	for i := range 5 {
		cport := ephemeral(r)
		at := t.Add(time.Duration(i) * 30 * time.Second)
		fs = append(fs, mk(ipProtoTCP, client, server, cport, port, 0x1b, packets, reqBytes, at, d),
			mk(ipProtoTCP, server, client, port, cport, 0x1b, packets, respBytes, at, d))
	}
	return fs
}

// attackPlan is the injected flows of a run, in order of their end, each with its scenario.
type attackPlan struct {
	flows    []Flow
	scenario []int // index into truth, per flow
	truth    []AttackTruth
	next     int
	// exporters for sampled and unsampled scenarios.
	sampledExporter, unsampledExporter int
}

// newAttackPlan builds the scenarios named, placed from start (flow time).
func newAttackPlan(names []string, seed uint64, start time.Time, g *Generator) (*attackPlan, error) {
	p := &attackPlan{sampledExporter: -1, unsampledExporter: -1}
	for i, e := range g.exporters {
		if e.protocol == SFlow5 {
			continue
		}
		if e.samplingRate == 1 && p.unsampledExporter < 0 {
			p.unsampledExporter = i
		}
		if e.samplingRate > 1 && (p.sampledExporter < 0 || e.samplingRate == 100) {
			p.sampledExporter = i
		}
	}
	if p.unsampledExporter < 0 || p.sampledExporter < 0 {
		return nil, fmt.Errorf("--attacks needs NetFlow or IPFIX exporters, one unsampled and one sampled (--exporters 2 or more)")
	}
	r := rand.New(rand.NewPCG(seed, 0xa77ac4))
	type item struct {
		f Flow
		s int
	}
	var items []item
	for _, sc := range scenarios {
		if !slices.Contains(names, sc.name) {
			continue
		}
		fs, truth := sc.build(r, start.Add(sc.offset).Truncate(time.Millisecond))
		if sc.benign {
			for i := range fs {
				fs[i].Start, fs[i].End = fs[i].Start.Truncate(time.Millisecond), fs[i].End.Truncate(time.Millisecond)
				if sc.sampled {
					fs[i].ObservationDomain = 1
				}
				items = append(items, item{fs[i], -1})
			}
			continue
		}
		truth.Detection = sc.name
		truth.Start, truth.End = fs[0].Start, fs[0].End
		for i := range fs {
			fs[i].Start, fs[i].End = fs[i].Start.Truncate(time.Millisecond), fs[i].End.Truncate(time.Millisecond)
			truth.Start = minTime(truth.Start, fs[i].Start)
			truth.End = maxTime(truth.End, fs[i].End)
			items = append(items, item{fs[i], len(p.truth)})
			if sc.sampled {
				items[len(items)-1].f.ObservationDomain = 1 // marks the sampled exporter
			}
		}
		truth.Flows = len(fs)
		p.truth = append(p.truth, truth)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].f.End.Before(items[j].f.End) })
	for _, it := range items {
		p.flows = append(p.flows, it.f)
		p.scenario = append(p.scenario, it.s)
	}
	return p, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// inject hands the generator every planned flow that has ended by now (flow time), through
// its exporter, its counters divided by the exporter's sampling rate; wall is the wall clock,
// recorded as the scenario's last send.
func (p *attackPlan) inject(g *Generator, now, wall time.Time, emit func(*Datagram) error) error {
	export := now.Truncate(time.Second)
	for p.next < len(p.flows) && !p.flows[p.next].End.After(export) {
		f := p.flows[p.next]
		e := g.exporters[p.unsampledExporter]
		if f.ObservationDomain == 1 {
			e = g.exporters[p.sampledExporter]
		}
		rate := uint64(e.samplingRate)
		f.Packets, f.Bytes = max(1, f.Packets/rate), max(1, f.Bytes/rate)
		ifs := e.accessInterfaces()
		f.InIf, f.OutIf = e.uplinkInterfaces()[0].index, ifs[0].index
		f.TTL = 64
		g.scratch = f
		if err := g.push(e, &g.scratch, now, export, emit); err != nil {
			return err
		}
		if i := p.scenario[p.next]; i >= 0 {
			p.truth[i].LastSent = wall
		}
		p.next++
	}
	return nil
}
