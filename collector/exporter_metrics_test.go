package collector

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/demo"
	"sluice/internal/testenv"
)

// series returns the values of a metric family by its label pairs
// ("exporter=…,observation_domain=…", in the family's label order).
func series(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			out[key] = value(m)
		}
	}
	return out
}

// Each exporter's datagrams, records, decode errors, templates and
// sampling rate are counted under its own address.
func TestExporterMetricsPerExporter(t *testing.T) {
	c, q, r := startCollector(t, nil)
	cfg := demo.DefaultConfig()
	cfg.Protocols = []string{demo.NetFlow9, demo.IPFIX, demo.SFlow5}
	cfg.Exporters = 2
	cfg.BindSources = true
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		datagrams, flows, templates float64
		rate                        uint32
		sflow                       bool
		payloads                    [][]byte
	}
	wants := map[netip.Addr]*want{}
	var order []netip.Addr
	emit := func(d *demo.Datagram) error {
		w := wants[d.Source]
		if w == nil {
			w = &want{sflow: d.Protocol == demo.SFlow5}
			wants[d.Source] = w
			order = append(order, d.Source)
		}
		w.datagrams++
		w.flows += float64(len(d.Flows))
		w.templates = max(w.templates, float64(d.Templates))
		w.rate = d.Flows[len(d.Flows)-1].SamplingRate
		w.payloads = append(w.payloads, append([]byte(nil), d.Payload...))
		return nil
	}
	if err := gen.Generate(time.Now(), 1500, emit); err != nil {
		t.Fatal(err)
	}
	if err := gen.Flush(time.Now(), emit); err != nil {
		t.Fatal(err)
	}
	// One truncated datagram from the first exporter: counted under its
	// address and reason, on top of its good ones.
	bad := order[0]
	wants[bad].payloads = append(wants[bad].payloads, wants[bad].payloads[0][:30])
	wants[bad].datagrams++
	for _, src := range order {
		to := c.Addrs()[0]
		if wants[src].sflow {
			to = c.Addrs()[1]
		}
		send(t, to, src, wants[src].payloads...)
	}
	testenv.EventuallyAtLeast(t, 10*time.Second, "datagrams", func() float64 {
		return testutil.ToFloat64(c.metrics.netflow.datagrams) + testutil.ToFloat64(c.metrics.sflow.datagrams)
	}, float64(func() (n int) {
		for _, w := range wants {
			n += int(w.datagrams)
		}
		return n
	}()))
	drain(c, q)

	g := r.Gatherer()
	datagrams := series(t, g, "sluice_collector_exporter_datagrams_total")
	flows := series(t, g, "sluice_collector_exporter_flows_total")
	templates := series(t, g, "sluice_collector_exporter_templates")
	rates := series(t, g, "sluice_collector_exporter_sampling_rate")
	errors := series(t, g, "sluice_collector_exporter_decode_errors_total")
	if len(datagrams) != len(wants)+1 || datagrams["exporter=other"] != 0 {
		t.Errorf("datagram series %v, want one per exporter (%d) and other at 0", datagrams, len(wants))
	}
	for src, w := range wants {
		key := "exporter=" + src.String()
		if datagrams[key] != w.datagrams || flows[key] != w.flows {
			t.Errorf("%s: %v datagrams, %v flows; want %v, %v", src, datagrams[key], flows[key], w.datagrams, w.flows)
		}
		if !w.sflow && templates[key] != w.templates {
			t.Errorf("%s: %v templates, want %v", src, templates[key], w.templates)
		}
		var found bool
		for k, v := range rates {
			if len(k) > len(key) && k[:len(key)+1] == key+"," {
				found = true
				if v != float64(w.rate) {
					t.Errorf("%s: sampling rate %s = %v, want %d", src, k, v, w.rate)
				}
			}
		}
		if !found {
			t.Errorf("%s: no sampling rate series in %v", src, rates)
		}
	}
	wantErrors := map[string]float64{"exporter=" + bad.String() + ",reason=truncated": 1}
	if len(errors) != 1 || errors["exporter="+bad.String()+",reason=truncated"] != 1 {
		t.Errorf("decode errors %v, want %v", errors, wantErrors)
	}
}

// Beyond max-exporters, datagrams count under exporter="other" and as
// refused; a slot freed by an idle exporter goes to the next one.
func TestExporterMetricsBounded(t *testing.T) {
	c, q, r := startCollector(t, func(cfg *Config) { cfg.ExporterMetrics.MaxExporters = 2 })
	payloads := netflow5Payloads(t, 60) // 2 datagrams
	sources := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15"}
	for _, s := range sources {
		send(t, c.Addrs()[0], netip.MustParseAddr(s), payloads...)
	}
	total := float64(len(sources) * len(payloads))
	testenv.EventuallyAtLeast(t, 10*time.Second, "datagrams", func() float64 { return testutil.ToFloat64(c.metrics.netflow.datagrams) }, total)
	drain(c, q)

	datagrams := series(t, r.Gatherer(), "sluice_collector_exporter_datagrams_total")
	if len(datagrams) != 3 {
		t.Fatalf("series %v: want 2 exporters and other", datagrams)
	}
	var own float64
	for k, v := range datagrams {
		if k != "exporter=other" {
			own += v
		}
	}
	other := datagrams["exporter=other"]
	if own != 2*float64(len(payloads)) || other != total-own {
		t.Fatalf("series %v: want %d datagrams each for 2 exporters, the rest under other", datagrams, len(payloads))
	}
	if got := testutil.ToFloat64(c.perExp.refused); got != other {
		t.Fatalf("refused = %v, want %v", got, other)
	}
	if got := c.perExp.labelled.Load(); got != 2 {
		t.Fatalf("labelled = %d, want 2", got)
	}
}

// An idle exporter's series go away and its slot is reused.
func TestExporterTableSweepFreesSlots(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultExporterMetricsConfig()
	cfg.MaxExporters, cfg.Idle = 1, time.Minute
	m, err := newExporterMetrics(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tab := newExporterTable(m)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	start := time.Now().UnixNano()
	sa := tab.get(a, start)
	sa.datagrams.Inc()
	sa.observeRate(m, 7, 512)
	sa.decodeError(m, "truncated").Inc()
	if sb := tab.get(b, start); !sb.other {
		t.Fatal("second exporter got its own series beyond max-exporters=1")
	}
	tab.sweep(start + int64(30*time.Second)) // not idle yet
	if n := testutil.CollectAndCount(m.datagrams); n != 2 {
		t.Fatalf("%d datagram series before expiry, want a and other", n)
	}
	tab.sweep(start + int64(2*time.Minute))
	for _, name := range []string{"exporter_datagrams_total", "exporter_sampling_rate", "exporter_decode_errors_total"} {
		for k := range series(t, reg, name) {
			if k != "exporter=other" {
				t.Errorf("%s after expiry: series %s left", name, k)
			}
		}
	}
	sb := tab.get(b, start+int64(3*time.Minute))
	if sb.other || sb.label != b.String() {
		t.Fatalf("freed slot not given to %s: %+v", b, sb)
	}
}

// Observation domains beyond the bound share one series.
func TestExporterSamplingRateDomainsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultExporterMetricsConfig()
	cfg.MaxDomainsPerExporter = 2
	m, err := newExporterMetrics(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newExporterTable(m).get(netip.MustParseAddr("192.0.2.9"), 1)
	for domain := uint32(1); domain <= 5; domain++ {
		s.observeRate(m, domain, uint64(domain)*100)
	}
	s.observeRate(m, 1, 64) // an existing domain's rate changes
	got := series(t, reg, "exporter_sampling_rate")
	want := map[string]float64{}
	for domain, rate := range map[string]float64{"1": 64, "2": 200, "other": 500} {
		want["exporter=192.0.2.9,observation_domain="+domain] = rate
	}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
