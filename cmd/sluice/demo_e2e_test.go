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
	waitFor(t, 60*time.Second, "the second demo's flows to be stored", func() bool { return in.count("") > sent+2000 })
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
