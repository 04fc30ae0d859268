package hec

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/cef"
	"sluice/pipeline/siem/cef/ceftest"
	"sluice/pipeline/siem/hec/hectest"
)

const testToken = "11111111-2222-3333-4444-555555555555"

func testConfig(t *testing.T, s *hectest.Server) Config {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URL, cfg.TokenFile, cfg.Index, cfg.Host = s.Srv.URL, tokenFile, "netsec", "sensor-1"
	cfg.RetryBackoff, cfg.RetryBackoffMax = 5*time.Millisecond, 50*time.Millisecond
	cfg.AckPollInterval, cfg.AckTimeout = 20*time.Millisecond, 2*time.Second
	cfg.MaxRequestBytes = 8 << 10 // several requests per batch
	return cfg
}

func newTransport(t *testing.T, cfg Config) *Transport {
	t.Helper()
	tr, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// batches makes n batches of size CEF alerts, IDs unique over all.
func batches(t *testing.T, n, size int) [][]siem.Event {
	f := cef.New(cef.Config{DeviceVersion: "1", DeviceExternalID: "s"})
	var out [][]siem.Event
	for b := range n {
		var batch []siem.Event
		for i := range size {
			a := ceftest.Alert(b*size + i)
			body, err := f.AppendAlert(nil, a)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, siem.Event{Kind: siem.KindAlert, ID: a.ID, Time: a.Time, Body: body})
		}
		out = append(out, batch)
	}
	return out
}

// deliver plays the sink: each batch is sent until Send returns nil,
// and the failed sends are counted.
func deliver(t *testing.T, ctx context.Context, tr *Transport, batch []siem.Event) (failures int) {
	t.Helper()
	for {
		err := tr.Send(ctx, batch)
		if err == nil {
			return failures
		}
		if ctx.Err() != nil {
			t.Fatalf("send: %v", err)
		}
		failures++
		t.Logf("send failed, sending the batch again: %v", err)
	}
}

// checkAll checks that every event arrived, and reports the duplicates.
func checkAll(t *testing.T, s *hectest.Server, all [][]siem.Event) (dups int) {
	t.Helper()
	ids := s.IDs()
	for _, batch := range all {
		for _, ev := range batch {
			n := ids[ev.ID]
			if n == 0 {
				t.Fatalf("event %q never indexed", ev.ID)
			}
			dups += n - 1
		}
	}
	return dups
}

func TestDeliveryThroughBusyAndLosingHEC(t *testing.T) {
	s := hectest.New(t, testToken)
	s.Set(func(s *hectest.Server) {
		s.AckDelay = 100 * time.Millisecond // several polls per batch
		s.Busy = func(n int) int {
			switch {
			case n == 2:
				return 429
			case n%3 == 0:
				return 503
			}
			return 0
		}
		s.Lose = func(n int) bool { return n == 4 } // accepted, never indexed
	})
	tr := newTransport(t, testConfig(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tr.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	all := batches(t, 8, 40)
	failures := 0
	for _, batch := range all {
		failures += deliver(t, ctx, tr, batch)
	}
	dups := checkAll(t, s, all)
	m := tr.metrics
	t.Logf("requests %d (gzip %d), refused %v, failed sends %d, duplicates %d; sent %v acked %v retried 503 %v 429 %v, ack polls %v",
		s.Requests, s.Gzipped, s.Status, failures, dups, testutil.ToFloat64(m.events), testutil.ToFloat64(m.acked),
		testutil.ToFloat64(m.retried.WithLabelValues("503")), testutil.ToFloat64(m.retried.WithLabelValues("429")), testutil.ToFloat64(m.ackPolls))
	if s.Status[503] == 0 || s.Status[429] == 0 || testutil.ToFloat64(m.retried.WithLabelValues("503")) == 0 || testutil.ToFloat64(m.retried.WithLabelValues("429")) == 0 {
		t.Errorf("no 503 or 429 retried: %v", s.Status)
	}
	if failures != 1 || testutil.ToFloat64(m.errors.WithLabelValues(reasonAck)) != 1 {
		t.Errorf("the lost request should fail exactly one send on its ack: %d failures", failures)
	}
	if s.Gzipped != s.Accepted {
		t.Errorf("%d of %d accepted requests gzipped", s.Gzipped, s.Accepted)
	}
	// Acknowledged events are the indexed ones; the lost request's events
	// were sent once more than acknowledged.
	indexed := 0
	for _, n := range s.IDs() {
		indexed += n
	}
	if got := testutil.ToFloat64(m.acked); got != float64(indexed) {
		t.Errorf("events_acked_total %v, indexed %d", got, indexed)
	}

	// The event's metadata and body: a CEF line is a JSON string.
	ev, ok := s.Find(all[0][0].ID)
	var body string
	if !ok || json.Unmarshal(ev.Event, &body) != nil || body != string(all[0][0].Body) {
		t.Fatalf("event %+v", ev)
	}
	wantTime := fmt.Sprintf("%d.000", all[0][0].Time.Unix())
	if ev.Host != "sensor-1" || ev.Source != "sluice" || ev.Sourcetype != "sluice:alert" || ev.Index != "netsec" || ev.Time.String() != wantTime || ev.Channel != tr.Channel() {
		t.Errorf("metadata %+v (time want %s)", ev, wantTime)
	}
}

func TestJSONBodyAndFlows(t *testing.T) {
	s := hectest.New(t, testToken)
	cfg := testConfig(t, s)
	cfg.Gzip, cfg.Sourcetype = false, "_json"
	tr := newTransport(t, cfg)
	doc := `{"event":{"kind":"alert"},"message":"a \"quoted\" line\nbreak"}`
	events := []siem.Event{
		{Kind: siem.KindFlow, ID: "f\"1", Time: time.UnixMilli(1796612400123), Body: []byte(doc)},
		{Kind: siem.KindFlow, ID: "f2", Time: time.UnixMilli(1796612400005), Body: []byte("not json {\x01\xff")},
	}
	if err := tr.Send(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	ev, ok := s.Find(`f"1`)
	if !ok || string(ev.Event) != doc || ev.Sourcetype != "_json" || ev.Time.String() != "1796612400.123" {
		t.Fatalf("%+v", ev)
	}
	ev, ok = s.Find("f2")
	var str string
	if !ok || json.Unmarshal(ev.Event, &str) != nil || str != "not json {\x01\ufffd" || ev.Time.String() != "1796612400.005" {
		t.Fatalf("%+v %q", ev, str)
	}
	if s.Gzipped != 0 {
		t.Errorf("gzip: false sent %d gzipped requests", s.Gzipped)
	}
}

// TestRestartMidStream: a transport stopped while it waits for the
// acknowledgement of a batch Splunk already took (a pipeline restart) is
// replaced by a new one, on a new channel, which sends that batch again:
// nothing is lost, the batch's events are indexed twice.
func TestRestartMidStream(t *testing.T) {
	s := hectest.New(t, testToken)
	s.Set(func(s *hectest.Server) { s.AckDelay = 30 * time.Millisecond })
	cfg := testConfig(t, s)
	all := batches(t, 10, 30)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := newTransport(t, cfg)
	const crashAt = 4
	for _, batch := range all[:crashAt] {
		deliver(t, ctx, first, batch)
	}
	// Batch crashAt: accepted, then the process stops before the ack.
	s.Set(func(s *hectest.Server) { s.AckDelay = time.Hour })
	sendCtx, stop := context.WithCancel(ctx)
	accepted := make(chan struct{}, 100)
	s.Set(func(s *hectest.Server) { s.OnAccept = func() { accepted <- struct{}{} } })
	done := make(chan error, 1)
	go func() { done <- first.Send(sendCtx, all[crashAt]) }()
	<-accepted
	stop()
	if err := <-done; err == nil {
		t.Fatal("a send stopped before its acknowledgement returned nil")
	}
	first.Close()
	s.Set(func(s *hectest.Server) { s.AckDelay, s.OnAccept = 30*time.Millisecond, nil })

	second := newTransport(t, cfg)
	if second.Channel() == first.Channel() {
		t.Fatal("the restarted transport reused the channel")
	}
	for _, batch := range all[crashAt:] {
		deliver(t, ctx, second, batch)
	}
	// What the first transport's Splunk took before the stop is indexed
	// when its (unpolled) acks come: the duplicates of the resent batch.
	s.Set(func(s *hectest.Server) {
		for _, p := range s.Pending[first.Channel()] {
			s.Indexed = append(s.Indexed, p.Events...)
		}
		s.Pending[first.Channel()] = nil
	})
	dups := checkAll(t, s, all)
	total := 0
	for _, b := range all {
		total += len(b)
	}
	t.Logf("%d events, %d duplicates after the restart", total, dups)
	if dups == 0 || dups > len(all[crashAt]) {
		t.Errorf("%d duplicates; want some, at most the resent batch's %d", dups, len(all[crashAt]))
	}
}

func TestRefusalsAndHealth(t *testing.T) {
	s := hectest.New(t, testToken)
	cfg := testConfig(t, s)
	ctx := context.Background()

	t.Setenv(TokenEnv, "wrong")
	bad := cfg
	bad.TokenFile = ""
	tr := newTransport(t, bad)
	err := tr.Send(ctx, batches(t, 1, 1)[0])
	if err == nil || !strings.Contains(err.Error(), "HTTP 403: Invalid token (code 4)") || s.Requests != 0 {
		t.Fatalf("wrong token: %v (%d requests)", err, s.Requests)
	}

	tr = newTransport(t, cfg)
	if err := tr.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	s.Set(func(s *hectest.Server) { s.Healthy = false })
	if err := tr.Ready(ctx); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unhealthy HEC ready: %v", err)
	}

	// Acks off at the HEC but on in sluice: the events the HEC took are
	// taken as delivered (posting them again would index them again),
	// counted, and Ready says what to change.
	s.Set(func(s *hectest.Server) { s.Healthy, s.NoAck = true, true })
	before := len(s.IDs())
	b := batches(t, 1, 1)[0]
	b[0].ID = "no-ack-event"
	if err := tr.Send(ctx, b); err != nil {
		t.Fatalf("no ackId: %v", err)
	}
	if n := s.IDs()["no-ack-event"]; n != 1 || len(s.IDs()) != before+1 {
		t.Fatalf("no ackId: event indexed %d times", n)
	}
	if v := testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonAckOff)); v != 1 {
		t.Errorf("send_errors{reason=ack_disabled} = %v, want 1", v)
	}
	if err := tr.Ready(ctx); err == nil || !strings.Contains(err.Error(), "hec.ack") || !strings.Contains(err.Error(), "Enable indexer acknowledgement") {
		t.Fatalf("ready with acks off at the HEC: %v", err)
	}
	noAck := cfg
	noAck.Ack = false
	tr = newTransport(t, noAck)
	if err := tr.Send(ctx, batches(t, 1, 3)[0]); err != nil {
		t.Fatal(err)
	}

	// Refused (here 401, no token): counted as refused, not retried by
	// the transport (the sink sends again, logged).
	s.Set(func(s *hectest.Server) { s.NoAck = false })
	tr = newTransport(t, cfg)
	tr.auth = ""
	before = s.Requests
	if err := tr.Send(ctx, batches(t, 1, 1)[0]); err == nil || !strings.Contains(err.Error(), "HTTP 401: Token is required") {
		t.Fatalf("refused: %v", err)
	}
	if v := testutil.ToFloat64(tr.metrics.errors.WithLabelValues(reasonRefused)); v != 1 || s.Requests != before {
		t.Errorf("send_errors{reason=refused} = %v, requests %d, want 1 and %d", v, s.Requests, before)
	}

	// Always busy: Send gives up after max-attempts.
	s.Set(func(s *hectest.Server) { s.Busy = func(int) int { return 503 } })
	cfg.MaxAttempts = 3
	tr = newTransport(t, cfg)
	if err := tr.Send(ctx, batches(t, 1, 2)[0]); err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("busy HEC: %v", err)
	}
	tr.Close()
	if err := tr.Send(ctx, nil); err != ErrClosed {
		t.Fatalf("after close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	t.Setenv(TokenEnv, "")
	if err := DefaultConfig().Validate(); err == nil || !strings.Contains(err.Error(), "token-file: no token") {
		t.Fatalf("no token: %v", err)
	}
	t.Setenv(TokenEnv, "x")
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.URL, c.Channel, c.MaxRequestBytes, c.RequestTimeout, c.MaxAttempts = "ftp://x/services/collector", "not-a-uuid", 10, 0, 0
	c.RetryBackoffMax, c.AckTimeout, c.TokenFile = time.Millisecond, time.Millisecond, "/nonexistent"
	err := c.Validate()
	for _, key := range []string{"url:", "channel:", "max-request-bytes:", "request-timeout:", "max-attempts:", "retry-backoff-max:", "ack-timeout:", "token-file:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("want an error naming %s, got %v", key, err)
		}
	}
	if u := newUUID(); !validUUID(u) || u[14] != '4' {
		t.Errorf("uuid %s", u)
	}
}

// TestStickyLoadBalancer: the ack polls carry the cookie a load balancer
// set on the event request, so they reach the indexer that has the ackIds.
func TestStickyLoadBalancer(t *testing.T) {
	s := hectest.New(t, testToken)
	s.Sticky = true
	cfg := testConfig(t, s)
	cfg.AckTimeout = time.Second
	tr := newTransport(t, cfg)
	b := batches(t, 1, 5)[0]
	if err := tr.Send(context.Background(), b); err != nil {
		t.Fatalf("send behind a sticky load balancer: %v", err)
	}
	if n := len(s.IDs()); n != 5 {
		t.Fatalf("%d events indexed, want 5", n)
	}
}

// TestAppendEventBefore1970: times before the epoch are valid JSON numbers.
func TestAppendEventBefore1970(t *testing.T) {
	s := hectest.New(t, testToken)
	tr := newTransport(t, testConfig(t, s))
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(-1, -500e6), "-1.500"},
		{time.Unix(0, -250e6), "-0.250"},
		{time.Unix(-86400, 0), "-86400.000"},
		{time.Unix(1, 7e6), "1.007"},
	} {
		ev := siem.Event{Kind: siem.KindFlow, ID: "x", Time: c.t, Body: []byte(`{}`)}
		out := tr.appendEvent(nil, &ev)
		var got struct{ Time json.Number }
		if err := json.Unmarshal(out, &got); err != nil || string(got.Time) != c.want {
			t.Errorf("%v: %s (%v), want time %s", c.t, out, err, c.want)
		}
	}
}

func TestAppendEventNoAllocations(t *testing.T) {
	s := hectest.New(t, testToken)
	tr := newTransport(t, testConfig(t, s))
	cefEvent := batches(t, 1, 1)[0][0]
	jsonEvent := siem.Event{Kind: siem.KindFlow, ID: "x", Time: time.Unix(1, 0), Body: []byte(`{"a":[1,2,{"b":"c"}]}`)}
	buf := make([]byte, 0, 8192)
	if raceEnabled {
		t.Skip("allocations are counted without -race (json.Valid's pooled scanner)")
	}
	if n := testing.AllocsPerRun(100, func() { buf = tr.appendEvent(tr.appendEvent(buf[:0], &cefEvent), &jsonEvent) }); n != 0 {
		t.Errorf("appendEvent: %v allocations", n)
	}
}
