package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
	"sluice/storage/migrate"
	"sluice/storage/queries"
	"sluice/storage/writer"
)

var engine *embedded.Engine

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, nil) }

var (
	migrateOnce sync.Once
	migrateErr  error
	batchSeq    int
)

// store migrates the engine once and writes flows into it.
func store(t *testing.T, flows []record.Flow) {
	t.Helper()
	r := reporter.New(slog.New(slog.DiscardHandler))
	migrateOnce.Do(func() {
		m, err := migrate.New(r, migrate.Config{})
		if err == nil {
			err = m.Migrate(context.Background(), engine.Exec)
		}
		migrateErr = err
	})
	if migrateErr != nil {
		t.Fatal(migrateErr)
	}
	w, err := writer.New(r, writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
	if err != nil {
		t.Fatal(err)
	}
	batchSeq++
	if err := w.Write(t.Context(), flows, fmt.Sprintf("detect-test-%d", batchSeq)); err != nil {
		t.Fatal(err)
	}
}

func v4(a, b, c, d byte) record.Addr { return record.AddrFrom4([4]byte{a, b, c, d}) }

// flow is a TCP flow starting at start, received now.
func flow(src, dst record.Addr, dport uint16, start time.Time, now time.Time) record.Flow {
	return record.Flow{
		TimeReceived: now.UnixNano(), TimeFlowStart: start.UnixMilli(), TimeFlowEnd: start.UnixMilli() + 100,
		FlowType: record.FlowTypeIPFIX, SamplingRate: 1, ExporterAddress: v4(127, 0, 0, 1),
		SrcAddr: src, DstAddr: dst, SrcPort: 40000, DstPort: dport, Proto: 6, TCPFlags: 2, Bytes: 60, Packets: 1,
	}
}

// scan is n probes of consecutive ports from firstPort, every interval
// from begin, received now.
func scan(attacker, victim record.Addr, firstPort, n int, begin time.Time, every time.Duration, now time.Time) []record.Flow {
	var flows []record.Flow
	for p := range n {
		flows = append(flows, flow(attacker, victim, uint16(firstPort+p), begin.Add(time.Duration(p)*every), now))
	}
	return flows
}

// sink records what it is handed, refusing the first batch.
type sink struct {
	mu      sync.Mutex
	refused bool
	alerts  []record.Alert
}

func (s *sink) WriteAlerts(_ context.Context, alerts []record.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.refused {
		s.refused = true
		return errors.New("down for a moment")
	}
	s.alerts = append(s.alerts, alerts...)
	return nil
}

func (s *sink) states() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.alerts {
		out = append(out, a.Detection+" "+a.State.String())
	}
	return out
}

func newScheduler(t *testing.T, dir string, now time.Time, sinks ...AlertSink) *Scheduler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, time.Millisecond
	s, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{
		Store: engine, Sinks: sinks, StateDir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	return s
}

// A port scan dated half an hour before it arrives (a replay) raises one
// alert, closed once the windows after it are quiet; running again, or
// restarting from the state, raises nothing more; the sink that refused
// the first delivery gets every record once it accepts.
func TestPortScanReplayedOnce(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 9, 9, 9), v4(192, 0, 2, 77)
	begin := now.Add(-30 * time.Minute)
	flows := scan(attacker, victim, 1, 400, begin, 100*time.Millisecond, now)
	// Quiet traffic after the scan, up to now (each minute another client).
	for m := range 30 {
		flows = append(flows, flow(v4(10, 1, 1, byte(m)), v4(192, 0, 2, 1), 443, begin.Add(time.Duration(m)*time.Minute), now))
	}
	store(t, flows)

	dir := t.TempDir()
	sk := &sink{}
	s := newScheduler(t, dir, now, sk)
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sk.states(), ", "); got != "port-scan open, port-scan closed" {
		t.Fatalf("sink got %q, want the scan opened and closed", got)
	}
	a := sk.alerts[0]
	if a.SrcAddr != attacker || a.DstAddr != victim || a.ID == "" || a.ID != sk.alerts[1].ID {
		t.Fatalf("alert %+v", a)
	}
	if a.FirstSeen.Before(begin) || a.FirstSeen.After(begin.Add(time.Minute)) {
		t.Fatalf("first seen %s, want the scan's flow time %s", a.FirstSeen, begin)
	}
	// The closing record carries the peak window's evidence.
	if closed := sk.alerts[1]; !strings.Contains(closed.Summary, "scanned 400 ports") || closed.Packets != 400 {
		t.Fatalf("closing summary %q, %d packets", closed.Summary, closed.Packets)
	}
	out, err := engine.Query(t.Context(), "SELECT Detection, State, AlertID, Summary FROM sluice.alerts FINAL WHERE Detection = 'port-scan' AND SrcAddr = toIPv6('10.9.9.9')", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	if want := "port-scan\tclosed\t" + a.ID + "\t" + sk.alerts[1].Summary + "\n"; string(out) != want {
		t.Fatalf("alerts table:\n%s\nwant\n%s", out, want)
	}

	// Again, and after a restart: nothing new.
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2 := newScheduler(t, dir, now.Add(time.Minute), sk)
	if err := s2.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(sk.states()); n != 2 {
		t.Fatalf("sink got %d records after running again, want still 2: %v", n, sk.states())
	}
}

// runQuery builds a library query and runs it on the engine.
func runQuery(t *testing.T, name string, p queries.Params) string {
	t.Helper()
	q, ok := queries.Lookup(name)
	if !ok {
		t.Fatalf("no query %s", name)
	}
	b, err := queries.Build(q, p, migrate.Config{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Query(t.Context(), b.SQL, "TSV")
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, b.SQL)
	}
	return string(out)
}

// The incident-response queries over the scan's alert: the alert history
// lists it, its evidence is the scan's flows, and the victim's timeline
// holds them, in both directions, by flow time.
func TestSecurityQueries(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 8, 8, 8), v4(192, 0, 2, 88)
	begin := now.Add(-20 * time.Minute)
	flows := scan(attacker, victim, 1000, 300, begin, 200*time.Millisecond, now)
	answer := flow(victim, attacker, 61000, begin.Add(time.Second), now) // the victim answers once
	answer.SrcPort, answer.DstPort = 1001, 40000
	flows = append(flows, answer, flow(v4(10, 2, 2, 2), v4(192, 0, 2, 2), 443, now.Add(-time.Minute), now))
	store(t, flows)
	s := newScheduler(t, t.TempDir(), now)
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}

	window := queries.Params{From: now.Add(-time.Hour), To: now, Limit: 1000}
	history := runQuery(t, "alert-history", window)
	var id string
	for _, line := range strings.Split(history, "\n") {
		if f := strings.Split(line, "\t"); len(f) > 7 && f[1] == PortScan && f[7] == "::ffff:10.8.8.8" {
			id = f[0]
			if f[3] != "closed" {
				t.Errorf("alert state %s, want closed", f[3])
			}
		}
	}
	if id == "" {
		t.Fatalf("alert-history has no scan by 10.8.8.8:\n%s", history)
	}
	p := window
	p.Alert = id
	if n := strings.Count(runQuery(t, "alert-evidence", p), "\n"); n != 301 {
		t.Errorf("alert-evidence: %d flows, want the 300 probes and the answer", n)
	}
	p = window
	p.Address = victim.Netip()
	timeline := runQuery(t, "host-timeline", p)
	if in, out := strings.Count(timeline, "\tin\t"), strings.Count(timeline, "\tout\t"); in != 300 || out != 1 {
		t.Errorf("host-timeline: %d flows in, %d out, want 300 and 1", in, out)
	}
	if _, err := queries.Build(mustLookup(t, "host-timeline"), window, migrate.Config{}, now); err == nil {
		t.Error("host-timeline without an address built")
	}
}

func mustLookup(t *testing.T, name string) queries.Query {
	q, ok := queries.Lookup(name)
	if !ok {
		t.Fatalf("no query %s", name)
	}
	return q
}

// An event that lasts across runs is raised once, updated while it grows,
// and closed when it stops; a restart in the middle carries it on.
func TestOngoingEvent(t *testing.T) {
	attacker, victim := v4(10, 7, 7, 7), v4(192, 0, 2, 99)
	base := time.Now().UTC().Truncate(time.Minute).Add(-40 * time.Minute)
	// SYN flood minute by minute: 20,000 SYN/s (sampled 1 in 100), with
	// other traffic up to the minute's end.
	minute := func(m int, flood bool) []record.Flow {
		at := base.Add(time.Duration(m) * time.Minute)
		recv := at.Add(70 * time.Second)
		var fs []record.Flow
		if flood {
			for i := range 20 {
				f := flow(v4(198, 18, 0, byte(i)), victim, 80, at.Add(time.Duration(i)*time.Second), recv)
				f.SamplingRate, f.Packets, f.Bytes = 100, 600, 600*60 // 20 × 600 × 100 / 60 s = 20,000 packets/s
				fs = append(fs, f)
			}
		}
		return append(fs, flow(attacker, v4(192, 0, 2, byte(m)), 443, at.Add(59*time.Second), recv))
	}
	dir := t.TempDir()
	sk := &sink{refused: true}
	runAt := func(m int) {
		t.Helper()
		s := newScheduler(t, dir, base.Add(time.Duration(m)*time.Minute+75*time.Second), sk)
		if err := s.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var states []string
	floodStates := func() []string {
		var out []string
		for _, a := range sk.alerts {
			if a.Detection == SYNFlood && a.DstAddr == victim {
				out = append(out, a.State.String())
			}
		}
		return out
	}
	for m := range 20 {
		store(t, minute(m, m >= 3 && m < 10))
		runAt(m) // a new scheduler each minute: the state file carries the event
		states = floodStates()
	}
	if got := strings.Join(states, " "); !strings.HasPrefix(got, "open updated") || !strings.HasSuffix(got, "closed") ||
		strings.Count(got, "open") != 1 || strings.Count(got, "closed") != 1 {
		t.Fatalf("the flood's records: %s; want one open, updates, one closed", got)
	}
	var ids []string
	for _, a := range sk.alerts {
		if a.Detection == SYNFlood && a.DstAddr == victim && !slices.Contains(ids, a.ID) {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("the flood has %d alert IDs, want 1", len(ids))
	}
	last := sk.alerts[len(sk.alerts)-1]
	for _, a := range sk.alerts {
		if a.ID == ids[0] && a.State == record.AlertClosed {
			last = a
		}
	}
	if !last.FirstSeen.Equal(base.Add(3*time.Minute)) || last.LastSeen.Before(base.Add(9*time.Minute)) {
		t.Errorf("the closed alert spans %s to %s, want the flood's minutes 3 to 10 after %s", last.FirstSeen, last.LastSeen, base)
	}
}

// downSink refuses everything, and stops the run (sluice stopping while
// the sink is down).
type downSink struct{ stop context.CancelFunc }

func (d downSink) WriteAlerts(context.Context, []record.Alert) error {
	d.stop()
	return errors.New("down")
}

// Alerts a sink has not accepted when sluice stops are delivered after the
// restart, from the state file, and not raised again.
func TestPendingAlertsSurviveRestart(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 6, 6, 6), v4(192, 0, 2, 66)
	flows := scan(attacker, victim, 2000, 300, now.Add(-25*time.Minute), 100*time.Millisecond, now)
	flows = append(flows, flow(v4(10, 3, 3, 3), v4(192, 0, 2, 3), 443, now.Add(-time.Minute), now))
	store(t, flows)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := newScheduler(t, dir, now, downSink{cancel})
	if err := s.Run(ctx); err == nil {
		t.Fatal("a run whose sink is down succeeded")
	}
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) == 0 || st.Sent[0] != len(st.Pending) || st.Sent[1] != 0 {
		t.Fatalf("state after the failed delivery: %d pending, sent %v; want pending, stored, not sunk", len(st.Pending), st.Sent)
	}
	sk := &sink{refused: true}
	s2 := newScheduler(t, dir, now.Add(time.Minute), sk)
	if err := s2.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var scans []string
	for _, a := range sk.alerts {
		if a.Detection == PortScan && a.SrcAddr == attacker {
			scans = append(scans, a.State.String())
		}
	}
	if got := strings.Join(scans, " "); got != "open closed" {
		t.Fatalf("the sink got the scan as %q after the restart, want open closed once", got)
	}
}
