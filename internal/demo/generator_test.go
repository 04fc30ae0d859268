package demo

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestConfigValidate(t *testing.T) {
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("default configuration: %v", err)
	}
	cases := []struct {
		flag   string
		modify func(*Config)
	}{
		{"--target", func(c *Config) { c.Target = "localhost" }},
		{"--target", func(c *Config) { c.Target = ":2055" }},
		{"--sflow-target", func(c *Config) { c.SFlowTarget = "127.0.0.1" }},
		{"--rate", func(c *Config) { c.Rate = 0 }},
		{"--duration", func(c *Config) { c.Duration = -time.Second }},
		{"--protocols", func(c *Config) { c.Protocols = nil }},
		{"--protocols", func(c *Config) { c.Protocols = []string{"netflow7"} }},
		{"--protocols", func(c *Config) { c.Protocols = []string{IPFIX, IPFIX} }},
		{"--exporters", func(c *Config) { c.Exporters = 0 }},
		{"--exporters", func(c *Config) { c.Exporters = maxExporters + 1 }},
		{"--pool", func(c *Config) { c.Pool = -1 }},
		{"--send-batch", func(c *Config) { c.SendBatch = 2 }}, // without --bind-sources
		{"--pacing-interval", func(c *Config) { c.PacingInterval = 0 }},
		{"--interfaces", func(c *Config) { c.Interfaces = 1 }},
		{"--template-refresh", func(c *Config) { c.TemplateRefresh = -1 }},
		{"--template-refresh-datagrams", func(c *Config) { c.TemplateRefreshDatagrams = -1 }},
		{"--max-datagram-size", func(c *Config) { c.MaxDatagramSize = 100 }},
		{"--ipv6-share", func(c *Config) { c.IPv6Share = math.NaN() }},
		{"--ipv6-share", func(c *Config) { c.IPv6Share = 1.5 }},
		{"--progress-interval", func(c *Config) { c.ProgressInterval = 0 }},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.modify(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: Validate() = %v, want an error naming the flag", tc.flag, err)
		}
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	a, _ := generate(t, cfg, testStart, []int{500, 500}, time.Second)
	b, _ := generate(t, cfg, testStart, []int{500, 500}, time.Second)
	if len(a) != len(b) {
		t.Fatalf("same seed: %d and %d datagrams", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].payload, b[i].payload) {
			t.Fatalf("same seed: datagram %d differs", i)
		}
	}
	cfg.Seed = 2
	c, _ := generate(t, cfg, testStart, []int{500, 500}, time.Second)
	if len(c) == len(a) && bytes.Equal(c[0].payload, a[0].payload) {
		t.Error("different seeds gave the same first datagram")
	}
}

func TestGeneratorDatagrams(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxDatagramSize = 1200
	cfg.TemplateRefresh = 0
	cfg.TemplateRefreshDatagrams = 3
	caps, g := generate(t, cfg, testStart, []int{3000, 1, 2000}, time.Second)

	var flows int
	perExporter := map[int]int{}
	for i, d := range caps {
		flows += len(d.flows)
		if len(d.payload) > cfg.MaxDatagramSize {
			t.Errorf("datagram %d (%s): %d bytes, max %d", i, d.protocol, len(d.payload), cfg.MaxDatagramSize)
		}
		if len(d.flows) == 0 {
			t.Errorf("datagram %d (%s) carries no flow", i, d.protocol)
		}
		if d.protocol == NetFlow5 && len(d.flows) > NetFlow5MaxFlows {
			t.Errorf("NetFlow v5 datagram %d carries %d flows", i, len(d.flows))
		}
		// Every third datagram of a NetFlow v9 or IPFIX exporter, starting with the first,
		// carries the templates.
		n := perExporter[d.exporter]
		perExporter[d.exporter]++
		wantTemplates := 0
		if (d.protocol == NetFlow9 || d.protocol == IPFIX) && n%3 == 0 {
			wantTemplates = 2
		}
		if d.templates != wantTemplates {
			t.Errorf("datagram %d of %s exporter %d: %d templates, want %d", n, d.protocol, d.exporter, d.templates, wantTemplates)
		}
		// Lengths the generator predicts match what the encoders wrote.
		if d.protocol == NetFlow9 || d.protocol == IPFIX {
			n4 := 0
			for _, f := range d.flows {
				if f.SrcAddr.Is4() {
					n4++
				}
			}
			want := netflow9Length(d.templates > 0, n4, len(d.flows)-n4)
			if d.protocol == IPFIX {
				want = ipfixLength(d.templates > 0, n4, len(d.flows)-n4)
				if got := int(binary.BigEndian.Uint16(d.payload[2:])); got != len(d.payload) {
					t.Errorf("IPFIX datagram %d: length field %d, payload %d", i, got, len(d.payload))
				}
			}
			if want != len(d.payload) {
				t.Errorf("%s datagram %d: predicted %d bytes, wrote %d", d.protocol, i, want, len(d.payload))
			}
		}
		for _, f := range d.flows {
			if f.Protocol != d.protocol || f.Exporter != d.source {
				t.Fatalf("datagram %d: flow of %s/%s in a %s datagram of %s", i, f.Protocol, f.Exporter, d.protocol, d.source)
			}
			if f.End.After(d.export) || f.Start.After(f.End) {
				t.Errorf("datagram %d: flow %s–%s, export %s", i, f.Start, f.End, d.export)
			}
		}
	}
	if flows != 5001 || g.Stats().Flows != 5001 {
		t.Errorf("%d flows in datagrams, stats say %d; want 5001", flows, g.Stats().Flows)
	}
	if got := g.Stats().Datagrams; got != uint64(len(caps)) {
		t.Errorf("stats count %d datagrams, %d emitted", got, len(caps))
	}
}

func TestTrafficMix(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Protocols = []string{IPFIX}
	caps, _ := generate(t, cfg, testStart, []int{20000}, time.Second)
	var tcp, udp, icmp, v6, total int
	var packets []uint64
	ports := map[uint16]int{}
	for _, d := range caps {
		for _, f := range d.flows {
			total++
			switch f.IPProto {
			case ipProtoTCP:
				tcp++
			case ipProtoUDP:
				udp++
			case ipProtoICMP, ipProtoICMPv6:
				icmp++
			}
			if f.SrcAddr.Is6() {
				v6++
			}
			packets = append(packets, f.Packets)
			ports[min(f.SrcPort, f.DstPort)]++
			if f.Bytes < f.Packets*28 {
				t.Fatalf("flow of %d packets has %d bytes", f.Packets, f.Bytes)
			}
		}
	}
	share := func(n int) float64 { return float64(n) / float64(total) }
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"TCP", share(tcp), 0.80}, {"UDP", share(udp), 0.15}, {"ICMP", share(icmp), 0.05}, {"IPv6", share(v6), cfg.IPv6Share},
	} {
		if math.Abs(c.got-c.want) > 0.02 {
			t.Errorf("%s share %.3f, want %.2f ± 0.02", c.name, c.got, c.want)
		}
	}
	for _, p := range []uint16{443, 80, 53, 22, 123, 25, 3389} {
		if ports[p] == 0 {
			t.Errorf("no flow on port %d", p)
		}
	}
	slices.Sort(packets)
	median, p999 := packets[len(packets)/2], packets[len(packets)*999/1000]
	if median > 3 || p999 < 100*median {
		t.Errorf("packets per flow: median %d, 99.9th percentile %d: want a heavy tail", median, p999)
	}
}

func TestGenerateAllocations(t *testing.T) {
	// Steps of 11 s send counter samples and interface names in most steps.
	for name, cfg := range map[string]Config{"flows": DefaultConfig(), "counters and names": countersConfig()} {
		allocs, st := generateAllocs(t, cfg, 11*time.Second)
		if allocs != 0 {
			t.Errorf("%s: Generate allocates %.1f times per 1000 flows, want 0", name, allocs)
		}
		if cfg.InterfaceNames && (st.CounterSamples == 0 || st.InterfaceNames == 0) {
			t.Errorf("%s: %d counter samples, %d names sent", name, st.CounterSamples, st.InterfaceNames)
		}
	}
}

// generateAllocs measures the allocations of Generate calls of 1000 flows, step apart, once
// the buffers have grown, and returns them with what was sent.
func generateAllocs(t *testing.T, cfg Config, step time.Duration) (float64, Stats) {
	t.Helper()
	g, err := NewGenerator(cfg, testStart)
	if err != nil {
		t.Fatal(err)
	}
	discard := func(*Datagram) error { return nil }
	now := testStart
	_ = g.Generate(now, 10000, discard) // grow the buffers
	allocs := testing.AllocsPerRun(20, func() {
		now = now.Add(step)
		_ = g.Generate(now, 1000, discard)
	})
	return allocs, g.Stats()
}
