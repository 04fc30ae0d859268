package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice/internal/demo"
	"sluice/internal/testenv"
)

// demoProcess is a `sluice demo` started by a test, its stdout and stderr kept apart.
type demoProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func startDemo(t *testing.T, args ...string) *demoProcess {
	t.Helper()
	d := &demoProcess{done: make(chan error, 1)}
	d.cmd = exec.Command(sluiceBinary(t), append([]string{"demo"}, args...)...)
	d.cmd.Stdout = syncWriter{&d.mu, &d.stdout}
	d.cmd.Stderr = syncWriter{&d.mu, &d.stderr}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// wait waits for the demo to exit and returns its totals (--json) and stderr.
func (d *demoProcess) wait(t *testing.T) (demoTotals, string) {
	t.Helper()
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("sluice demo: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("sluice demo still running after 2 minutes:\n%s", d.stderr.String())
	}
	var totals demoTotals
	if err := json.Unmarshal(d.stdout.Bytes(), &totals); err != nil {
		t.Fatalf("--json output %q: %v", d.stdout.String(), err)
	}
	return totals, d.stderr.String()
}

var finalLineRE = regexp.MustCompile(`(?m)^done: sent (\d+) flows, stored (\d+) \(([^)]*)\)$`)

// finalCounts reads the demo's final line: sent, stored and what it says of the difference.
func finalCounts(t *testing.T, stderr string) (sent, stored uint64, diff string) {
	t.Helper()
	m := finalLineRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no final line in the demo's output:\n%s", stderr)
	}
	sent, _ = strconv.ParseUint(m[1], 10, 64)
	stored, _ = strconv.ParseUint(m[2], 10, 64)
	return sent, stored, m[3]
}

func demoArgs(in *instance, extra ...string) []string {
	return append([]string{"--target", in.netflow, "--sflow-target", in.sflow, "--bind-sources",
		"--sluice", "http://" + in.http, "--json", "--quiet"}, extra...)
}

// The demo ends with a line saying how many of the flows it sent are stored,
// once storage has settled: all of them, both when its duration ends and
// when it is interrupted (Ctrl-C), and the count is what sluice holds.
func TestDemoFinalLine(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())

	totals, out := startDemo(t, demoArgs(in, "--rate", "2000", "--duration", "3s")...).wait(t)
	sent, stored, diff := finalCounts(t, out)
	if sent != totals.Flows || sent < 5000 || stored != sent || diff != "all stored" {
		t.Fatalf("final line: sent %d, stored %d (%s); the demo's totals say %d sent:\n%s", sent, stored, diff, totals.Flows, out)
	}
	if totals.Stored == nil || *totals.Stored != int64(sent) {
		t.Fatalf("--json stored = %v, want %d", totals.Stored, sent)
	}
	if got := in.count(""); got != sent {
		t.Fatalf("sluice holds %d flows, the final line said %d", got, sent)
	}

	// Interrupted: no duration, SIGINT once storing has begun. The count is
	// the second demo's only: the baseline is what was stored before it.
	d := startDemo(t, demoArgs(in, "--rate", "2000", "--duration", "0")...)
	testenv.Eventually(t, 60*time.Second, "the second demo's flows to be stored", func() bool { return in.count("") > sent+2000 })
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	totals, out = d.wait(t)
	sent2, stored2, diff := finalCounts(t, out)
	if sent2 != totals.Flows || stored2 != sent2 || diff != "all stored" || totals.Complete {
		t.Fatalf("after SIGINT: sent %d, stored %d (%s), complete %v; the demo's totals say %d sent:\n%s",
			sent2, stored2, diff, totals.Complete, totals.Flows, out)
	}
	if got := in.count(""); got != sent+sent2 {
		t.Fatalf("sluice holds %d flows, the demos sent %d", got, sent+sent2)
	}
	in.stop()
}

// Flows that never arrive are reported missing, exactly: here the sFlow
// goes to a port nobody listens on, so the demo waits for the count to stop
// changing and reports the sFlow flows as the difference.
func TestDemoFinalLineMissing(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	nowhere := fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	args := demoArgs(in, "--rate", "1000", "--duration", "2s")
	for i, a := range args {
		switch a {
		case in.sflow:
			args[i] = nowhere
		case "--quiet": // with the live line and the line saying it waits
			args[i] = "--quiet=false"
		}
	}
	totals, out := startDemo(t, args...).wait(t)
	sent, stored, diff := finalCounts(t, out)
	lost := totals.SFlow5.Flows
	if lost == 0 || sent != totals.Flows || stored != sent-lost || diff != fmt.Sprintf("%d missing", lost) {
		t.Fatalf("final line: sent %d, stored %d (%s); want %d sent, %d of them sFlow to nowhere:\n%s",
			sent, stored, diff, totals.Flows, lost, out)
	}
	if got := in.count(""); got != stored {
		t.Fatalf("sluice holds %d flows, the final line said %d", got, stored)
	}
	if !strings.Contains(out, "waiting for http://"+in.http) {
		t.Errorf("no line saying the demo waits for storage:\n%s", out)
	}
	in.stop()
}

func TestDemoFinalLineText(t *testing.T) {
	for _, c := range []struct {
		sent   uint64
		stored int64
		ok     bool
		want   string
	}{
		{300000, 300000, true, "done: sent 300000 flows, stored 300000 (all stored)"},
		{300000, 299100, true, "done: sent 300000 flows, stored 299100 (900 missing)"},
		{100, 130, true, "done: sent 100 flows, stored 130 (30 more than sent: other exporters send to this sluice too)"},
		{100, 0, false, "done: sent 100 flows, stored count unavailable (sluice did not answer)"},
	} {
		if got := finalLine(c.sent, c.stored, c.ok); got != c.want {
			t.Errorf("finalLine(%d, %d, %v) = %q, want %q", c.sent, c.stored, c.ok, got, c.want)
		}
	}
}

// `sluice demo` fills interface_counters and names interfaces: its sFlow
// exporters send a counter sample of each interface at start, its NetFlow v9
// and IPFIX exporters announce their interface names in options data before
// their first flows, and `sluice run` stores the samples, one row each, and
// every NetFlow v9 and IPFIX flow with both its interfaces' names.
func TestDemoCountersAndNames(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	totals, out := startDemo(t, demoArgs(in, "--rate", "1000", "--duration", "3s")...).wait(t)
	if _, stored, _ := finalCounts(t, out); stored != totals.Flows {
		t.Fatalf("stored %d flows of %d:\n%s", stored, totals.Flows, out)
	}
	// 4 sFlow exporters × 8 interfaces, once at start (the next poll is 20 s later).
	if totals.SFlow5.CounterSamples != 32 || totals.NetFlow9.InterfaceNames != 32 || totals.IPFIX.InterfaceNames != 32 {
		t.Fatalf("sent %d counter samples, %d+%d interface names; want 32 each", totals.SFlow5.CounterSamples,
			totals.NetFlow9.InterfaceNames, totals.IPFIX.InterfaceNames)
	}
	cfg := demo.DefaultConfig()
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var perExporter, names []string
	for _, e := range gen.Exporters() {
		switch e.Protocol {
		case demo.SFlow5:
			perExporter = append(perExporter, fmt.Sprintf("::ffff:%s\t8\t8", e.Address))
		case demo.IPFIX:
			if names == nil {
				for _, n := range e.InterfaceNames {
					names = append(names, fmt.Sprintf("%d\t%s\t%s", n.IfIndex, n.Name, n.Description))
				}
			}
		}
	}
	waitRows(t, in, "SELECT ExporterAddress, count(), uniqExact(IfIndex) FROM interface_counters WHERE HasGeneric AND HasEthernet AND IfSpeed IN (1000000000, 10000000000) AND IfInOctets > 0 GROUP BY ALL ORDER BY ALL",
		strings.Join(perExporter, "\n"))

	named := "FlowType IN ('NetFlowV9', 'IPFIX')"
	if n := in.count(named); n == 0 || n != totals.NetFlow9.Flows+totals.IPFIX.Flows {
		t.Fatalf("%d NetFlow v9 and IPFIX flows stored, %d sent", n, totals.NetFlow9.Flows+totals.IPFIX.Flows)
	}
	if n := in.count(named + " AND (InIfName = '' OR OutIfName = '' OR InIfDescription = '')"); n != 0 {
		t.Errorf("%d NetFlow v9 and IPFIX flows without interface names", n)
	}
	got := in.sql("SELECT DISTINCT InIfIndex, InIfName, InIfDescription FROM flows WHERE "+named+" ORDER BY ALL", "TSV")
	if want := strings.Join(names, "\n") + "\n"; got != want {
		t.Errorf("interface names stored:\n%s\nwant (the demo's):\n%s", got, want)
	}
	if n := in.count("FlowType IN ('SFlowV5', 'NetFlowV5') AND InIfName != ''"); n != 0 {
		t.Errorf("%d sFlow or NetFlow v5 flows with interface names, which they do not announce", n)
	}
	in.stop()
}
