package collector

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
)

var localhost = netip.MustParseAddr("127.0.0.1")

// The template state is written while running once it changes (not only at
// stop), and a new collector on the same directory decodes data sent
// without templates.
func TestStatePersistedAndRestored(t *testing.T) {
	datagrams, _, err := pcap.ReadFile(filepath.Join(testenv.CorpusDir(t), "akvorado__nfv9-template-data.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	template, data := datagrams[0].Payload, datagrams[1].Payload
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	withState := func(c *Config) {
		c.StateDir = dir
		c.Templates.SaveInterval = 100 * time.Millisecond
	}
	c, q, _ := startCollector(t, withState)
	exporter := c.Addrs()[0]
	send(t, exporter, localhost, template)
	testenv.EventuallyAtLeast(t, 10*time.Second, "periodic saves", func() float64 { return testutil.ToFloat64(c.state.saves) }, 1)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing changed: the periodic check, forced here (it is what each
	// tick runs), does not rewrite the file.
	for range 3 {
		c.state.save(false)
	}
	if again, _ := os.Stat(path); !again.ModTime().Equal(info.ModTime()) || testutil.ToFloat64(c.state.saves) != 1 {
		t.Errorf("state rewritten without a change (%v saves)", testutil.ToFloat64(c.state.saves))
	}
	if flows := drain(c, q); len(flows) != 0 {
		t.Fatalf("%d flows from a template datagram", len(flows))
	}

	c, q, _ = startCollector(t, withState)
	if got := testutil.ToFloat64(c.state.restored.WithLabelValues("templates")); got != 1 {
		t.Errorf("restored %v templates, want 1", got)
	}
	send(t, c.Addrs()[0], localhost, data)
	testenv.EventuallyAtLeast(t, 10*time.Second, "flows", func() float64 { return testutil.ToFloat64(c.metrics.netflow.flows) }, 1)
	if flows := drain(c, q); len(flows) == 0 {
		t.Fatal("no flows decoded after the restart")
	}
}

// A corrupt state file is counted and logged; the collector starts empty.
func TestCorruptStateStartsEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, q, _ := startCollector(t, func(c *Config) { c.StateDir = dir })
	if got := testutil.ToFloat64(c.state.loadErrors); got != 1 {
		t.Errorf("load errors = %v, want 1", got)
	}
	drain(c, q)
	// Stop wrote a valid (empty) state over the corrupt one.
	if _, err := os.ReadFile(filepath.Join(dir, StateFile)); err != nil {
		t.Fatal(err)
	}
}
