package main

import (
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// A burst of bad datagrams and nothing after it: `sluice run` logs the first
// few, and when the limiter's interval ends it says how many it held back,
// without waiting for a later error. The lines logged and the counts they
// and the report give add up to the datagrams sent, exactly.
func TestRunReportsSuppressedErrors(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	const bad = 2500
	truncated := []byte{0, 9, 0, 1, 0, 0, 0, 1, 0, 0} // a NetFlow v9 header cut short
	s := newSender(t)
	from := netip.MustParseAddr("127.0.3.1")
	for range bad {
		s.send(from, in.netflow, truncated)
	}
	const metric = `sluice_collector_decode_errors_total{protocol="netflow",reason="truncated"}`
	testenv.Eventually(t, 30*time.Second, "the collector to count every bad datagram", func() bool {
		return in.metrics(metric)[metric] == bad
	})

	logged := regexp.MustCompile(`(?m)^.*msg="cannot decode datagram" module=collector protocol=netflow reason=truncated .* suppressed=(\d+)$`)
	report := regexp.MustCompile(`(?m)^.*msg="repeated log lines suppressed" module=collector reason=truncated suppressed=(\d+) interval=10s$`)
	account := func() (lines, suppressed, reports int) {
		log := in.logText()
		for _, m := range logged.FindAllStringSubmatch(log, -1) {
			n, _ := strconv.Atoi(m[1])
			lines, suppressed = lines+1, suppressed+n
		}
		for _, m := range report.FindAllStringSubmatch(log, -1) {
			n, _ := strconv.Atoi(m[1])
			reports, suppressed = reports+1, suppressed+n
		}
		return lines, suppressed, reports
	}
	// The collector's limiter lets 5 lines through per reason every 10 s.
	testenv.Eventually(t, 60*time.Second, "a line saying how many errors were suppressed", func() bool {
		lines, suppressed, _ := account()
		return lines+suppressed >= bad
	})
	lines, suppressed, reports := account()
	if reports == 0 {
		t.Fatalf("no report of the suppressed lines:\n%s", in.logText())
	}
	if lines+suppressed != bad || lines > bad/2 {
		t.Fatalf("%d lines logged and %d said suppressed, want %d in all, most of them suppressed:\n%s",
			lines, suppressed, bad, in.logText())
	}
	in.stop()
	if l, s, _ := account(); l != lines || s != suppressed {
		t.Fatalf("the stop logged %d more lines and %d more suppressed", l-lines, s-suppressed)
	}
}
