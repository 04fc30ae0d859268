package collector

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
)

// Datagrams from a source outside allowed-exporters are dropped before
// decoding and counted; allowed ones are decoded.
func TestAllowedExporters(t *testing.T) {
	datagrams, _, err := pcap.ReadFile(filepath.Join(testenv.CorpusDir(t), "akvorado__nfv5.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	c, q, _ := startCollector(t, func(c *Config) { c.AllowedExporters = []string{"127.0.3.0/24", "::1"} })
	to := c.Addrs()[0]
	send(t, to, netip.MustParseAddr("127.0.4.1"), datagrams[0].Payload, datagrams[0].Payload)
	send(t, to, netip.MustParseAddr("127.0.3.9"), datagrams[0].Payload)
	testenv.EventuallyAtLeast(t, 10*time.Second, "dropped", func() float64 { return testutil.ToFloat64(c.metrics.droppedNotAllowed) }, 2)
	testenv.EventuallyAtLeast(t, 10*time.Second, "datagrams", func() float64 { return testutil.ToFloat64(c.metrics.netflow.datagrams) }, 1)
	flows := drain(c, q)
	if len(flows) != 29 || testutil.ToFloat64(c.metrics.netflow.datagrams) != 1 {
		t.Errorf("%d flows from %v datagrams; want the 29 of the one allowed datagram", len(flows), testutil.ToFloat64(c.metrics.netflow.datagrams))
	}
	for _, f := range flows {
		if f.ExporterAddress.Netip() != netip.MustParseAddr("127.0.3.9") {
			t.Fatalf("flow from %s", f.ExporterAddress)
		}
	}
}

func TestExporterFilter(t *testing.T) {
	f, err := newExporterFilter([]string{"192.0.2.0/24", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"192.0.2.7": true, "::ffff:192.0.2.7": true, "2001:db8::9": true,
		"198.51.100.1": false, "2001:db9::1": false,
	} {
		if got := f.allows(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed %v, want %v", addr, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { f.allows(netip.MustParseAddr("198.51.100.1")) }); n != 0 {
		t.Errorf("allows allocates %v times", n)
	}
	if all, _ := newExporterFilter(nil); !all.allows(netip.MustParseAddr("203.0.113.1")) {
		t.Error("an empty list must allow every exporter")
	}
	if _, err := newExporterFilter([]string{"nope"}); err == nil {
		t.Error("bad prefix accepted")
	}
}
