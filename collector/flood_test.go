package collector

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/collector/netflow/netflowtest"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
)

// TestTemplateFloodThroughUDP: the template flood of issue 20 (20,000
// NetFlow v9 datagrams of 50 templates from 200 spoofed loopback addresses
// and 5,000 source ports), through the collector's UDP socket, fills the
// default template bounds; 12 exporters never seen before then have every
// template accepted and every flow delivered, the store and templates.json
// stay within their bounds, and the log names the evictions.
func TestTemplateFloodThroughUDP(t *testing.T) {
	const (
		sources, perSocket       = 200, 4
		exporters, dataDatagrams = 12, 25
		records                  = 25
	)
	if raceEnabled {
		// 5 s in the unit tier, 110 s under the race detector even at a
		// tenth of the flood. The store's concurrency is raced by its own
		// tests (templates.TestNewExportersDuringConcurrentFlood).
		t.Skip("a load test: run without -race")
	}
	datagrams, maxFields, maxStateBytes := 20_000, DefaultConfig().Templates.MaxTemplateFields, DefaultConfig().Templates.MaxStateBytes
	var log netflowtest.Log
	dir := t.TempDir()
	c, q, _ := startCollectorLogging(t, reporter.New(slog.New(slog.NewTextHandler(&log, nil))), func(cfg *Config) {
		cfg.StateDir = dir
		cfg.Templates.MaxTemplateFields = maxFields
		cfg.Templates.MaxStateBytes = maxStateBytes
	})
	to := c.Addrs()[0]
	rng := rand.New(rand.NewPCG(20, 2))
	var conn *net.UDPConn
	for i := range datagrams {
		if i%perSocket == 0 {
			if conn != nil {
				conn.Close()
			}
			from := netip.AddrFrom4([4]byte{127, 1, 0, byte(1 + i/perSocket%sources)})
			var err error
			if conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(to)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := conn.Write(netflowtest.FloodDatagram(rng, 50, 10)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // stay far from the socket buffer's size
		}
	}
	conn.Close()
	// Wait until the workers have decoded what they received: queues
	// empty, and every datagram counted (before its decoding) has had its
	// 50 templates counted (after).
	settled := func() bool {
		for _, w := range c.workers {
			if len(w.in) > 0 {
				return false
			}
		}
		return testutil.ToFloat64(c.metrics.templates) == 50*testutil.ToFloat64(c.metrics.netflow.datagrams)
	}
	if !testenv.Poll(2*time.Minute, settled) {
		t.Fatalf("the workers did not decode the flood: %v templates of %v datagrams",
			testutil.ToFloat64(c.metrics.templates), testutil.ToFloat64(c.metrics.netflow.datagrams))
	}
	store := c.netflow.d.Templates()
	flood := store.Stats()
	decoded := testutil.ToFloat64(c.metrics.netflow.datagrams)
	t.Logf("flood: %v of %d datagrams decoded; store: %d exporters, %d templates, %d fields (bound %d); evicted %d",
		decoded, datagrams, flood.Exporters, flood.Templates, flood.TemplateFields, maxFields, flood.TemplatesEvictedNeverUsed)
	if flood.TemplateFields > maxFields || flood.TemplatesEvictedNeverUsed == 0 {
		t.Fatalf("the flood did not fill the bound, or went past it: %+v", flood)
	}

	for e := range exporters {
		datagrams := [][]byte{netflowtest.ExporterTemplate(uint32(e))}
		for i := range dataDatagrams {
			datagrams = append(datagrams, netflowtest.ExporterData(uint32(e), i*records, records))
		}
		send(t, to, netip.AddrFrom4([4]byte{127, 2, 0, byte(1 + e)}), datagrams...)
	}
	want := exporters * dataDatagrams * records
	testenv.EventuallyAtLeast(t, time.Minute, "flows of the new exporters", func() float64 { return testutil.ToFloat64(c.metrics.netflow.flows) }, float64(want))
	flows := drain(c, q) // stops the collector, which saves the state
	perExporter := map[netip.Addr]int{}
	for _, f := range flows {
		perExporter[f.ExporterAddress.Netip()]++
	}
	for e := range exporters {
		if addr := netip.AddrFrom4([4]byte{127, 2, 0, byte(1 + e)}); perExporter[addr] != dataDatagrams*records {
			t.Errorf("exporter %v: %d flows delivered, want %d", addr, perExporter[addr], dataDatagrams*records)
		}
	}
	t.Logf("new exporters: %d of %d flows delivered", len(flows), want)

	info, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("templates.json: %d bytes (bound %d)", info.Size(), maxStateBytes)
	if info.Size() > int64(maxStateBytes) {
		t.Errorf("templates.json of %d bytes, bound %d", info.Size(), maxStateBytes)
	}
	if st := store.Stats(); st.TemplateFields > maxFields {
		t.Errorf("store: %d fields, bound %d", st.TemplateFields, maxFields)
	}
	logged := log.String()
	if !strings.Contains(logged, `msg="template evicted to make room: it never decoded a data record" module=collector exporter=127.1.0.`) {
		t.Errorf("no eviction naming a flooding exporter logged:\n%.3000s", logged)
	}
}
