package syslog

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/internal/tlsclient"
	"sluice/pipeline/record"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/cef"
	"sluice/pipeline/siem/cef/ceftest"
	"sluice/pipeline/siem/syslog/rsyslogtest"
)

// rfc5424 reads a message's header (rsyslogtest.RFC5424).
var rfc5424 = rsyslogtest.RFC5424

func alertEvents(f siem.Format, from, to int) ([]siem.Event, map[string]int) {
	var events []siem.Event
	index := map[string]int{}
	for i := from; i < to; i++ {
		a := ceftest.Alert(i)
		body, err := f.AppendAlert(nil, a)
		if err != nil {
			panic(err)
		}
		events = append(events, siem.Event{Kind: siem.KindAlert, ID: a.ID, Time: a.Time, Body: body})
		index[a.ID] = i
	}
	return events, index
}

func TestRsyslogCEFOverTLS(t *testing.T) {
	rs := rsyslogtest.Start(t)
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg := DefaultConfig()
	cfg.Address = rs.Addr()
	cfg.TLS = tlsclient.Config{Enabled: true, CAFile: rs.CAFile()}
	cfg.Hostname = "sluice-test"
	cfg.ReconnectBackoff = 50 * time.Millisecond
	tr, err := New(r, cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	format := cef.New(cef.Config{DeviceVersion: "9.9", DeviceExternalID: "sensor|1"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	// Batch 1: alerts, and one flow (other severity, other MSGID).
	events, index := alertEvents(format, 0, 40)
	fl := &netipFlow
	body, _ := format.AppendFlow(nil, fl, "flow-1")
	flowTime := time.UnixMilli(fl.TimeFlowEnd)
	events = append(events, siem.Event{Kind: siem.KindFlow, ID: "flow-1", Time: flowTime, Body: body})
	if err := tr.Send(ctx, events); err != nil {
		t.Fatal(err)
	}
	if !testenv.Poll(30*time.Second, func() bool { return len(rs.Lines(t, rsyslogtest.Parsed)) >= len(events) }) {
		t.Fatalf("rsyslog wrote %d of %d messages; rsyslogd said: %s", len(rs.Lines(t, rsyslogtest.Parsed)), len(events), rs.Log())
	}

	// Receiver down: Send fails after max-attempts, naming the address;
	// then up again: the same batch goes through over a new connection.
	rs.Stop(t)
	// Once the transport's reader saw rsyslog close the connection (a
	// batch written before that goes into a dead socket and is lost: the
	// boundary the package's comment describes), Send fails.
	testenv.Eventually(t, 10*time.Second, "the transport to see the connection closed", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		select {
		case <-tr.dead:
			return true
		default:
			return false
		}
	})
	events2, index2 := alertEvents(format, 40, 80)
	short, cancelShort := context.WithTimeout(ctx, 10*time.Second)
	err = tr.Send(short, events2)
	cancelShort()
	if err == nil || !strings.Contains(err.Error(), cfg.Address) {
		t.Fatalf("send with the receiver down: %v", err)
	}
	rs.Restart(t)
	if err := tr.Send(ctx, events2); err != nil {
		t.Fatal(err)
	}
	for id, i := range index2 {
		index[id] = i
	}
	want := len(events) + len(events2)
	if !testenv.Poll(30*time.Second, func() bool { return len(rs.Lines(t, rsyslogtest.Parsed)) >= want }) {
		t.Errorf("rsyslog wrote %d of %d messages; rsyslogd said: %s", len(rs.Lines(t, rsyslogtest.Parsed)), want, rs.Log())
	}
	if testing.Verbose() {
		t.Logf("rsyslogd said: %s", rs.Log())
	}

	raw, parsed := rs.Lines(t, rsyslogtest.Raw), rs.Lines(t, rsyslogtest.Parsed)
	if len(raw) != len(parsed) {
		t.Fatalf("%d raw lines, %d parsed", len(raw), len(parsed))
	}
	seen := map[string]int{}
	flows := 0
	pid := strconv.Itoa(os.Getpid())
	for i, line := range raw {
		m := rfc5424.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not RFC 5424: %q", line)
		}
		var p struct{ Pri, Version, Time, Host, App, Procid, Msgid, SD, Msg string }
		if err := json.Unmarshal([]byte(parsed[i]), &p); err != nil {
			t.Fatalf("%q: %v", parsed[i], err)
		}
		// rsyslog's own RFC 5424 parser read the same fields.
		if got := []string{p.Pri, p.Version, p.Time, p.Host, p.App, p.Procid, p.Msgid, p.SD, p.Msg}; strings.Join(got, "\x00") != strings.Join(m[1:], "\x00") {
			t.Errorf("rsyslog parsed %q, the raw message says %q", got, m[1:])
		}
		if m[4] != "sluice-test" || m[5] != "sluice" || m[6] != pid || m[8] != "-" {
			t.Errorf("header %q", m[1:8])
		}
		ev, err := ceftest.Parse(m[9])
		if err != nil {
			t.Fatalf("CEF %q: %v", m[9], err)
		}
		if m[7] == "flow" {
			flows++
			if m[1] != "134" || m[3] != flowTime.UTC().Format("2006-01-02T15:04:05.000Z") || ev.Header[4] != "flow" || ev.Extension["externalId"] != "flow-1" {
				t.Errorf("flow message %q", line)
			}
			continue
		}
		if m[7] != "alert" || m[1] != "132" { // local0 (16) * 8 + warning (4)
			t.Errorf("alert header %q", m[1:8])
		}
		id := ev.Extension["externalId"]
		n, ok := index[id]
		if !ok {
			t.Fatalf("unknown alert %q", id)
		}
		seen[id]++
		a := ceftest.Alert(n)
		if m[3] != a.Time.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("timestamp %s, want the alert's %s", m[3], a.Time)
		}
		ceftest.CheckAlert(t, ev, a, "9.9", "sensor|1", 8)
	}
	if flows != 1 || len(seen) != len(index) {
		t.Fatalf("%d flows, %d distinct alerts of %d", flows, len(seen), len(index))
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	sent := testutil.ToFloat64(tr.metrics.events)
	t.Logf("%d messages, %d alerts, %d duplicates; events_sent_total %v, connects %v, resent %v, errors connect %v write %v closed %v",
		len(raw), len(seen), dups, sent, testutil.ToFloat64(tr.metrics.connects), testutil.ToFloat64(tr.metrics.resent),
		testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonConnect)), testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonWrite)),
		testutil.ToFloat64(tr.metrics.errors.WithLabelValues("closed_by_receiver")))
	if sent != float64(want) || testutil.ToFloat64(tr.metrics.connects) < 2 {
		t.Errorf("events_sent_total %v, want %d; connects %v, want at least 2", sent, want, testutil.ToFloat64(tr.metrics.connects))
	}
}

var netipFlow = func() record.Flow {
	return record.Flow{
		TimeReceived: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC).UnixNano(), TimeFlowEnd: time.Date(2026, 12, 7, 2, 59, 59, 0, time.UTC).UnixMilli(),
		SrcAddr: record.Addr(netip.MustParseAddr("2001:db8::1").As16()), DstAddr: record.AddrFrom4([4]byte{192, 0, 2, 1}),
		SrcPort: 1234, DstPort: 443, Proto: 6, Bytes: 1, Packets: 1, SamplingRate: 1,
	}
}()
