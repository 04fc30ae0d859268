package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
)

// failing fails the queries containing match, times times.
type failing struct {
	*embedded.Engine
	mu    sync.Mutex
	match string
	times int
	err   error // nil: "injected failure"
}

func (f *failing) Query(ctx context.Context, sql, format string) ([]byte, error) {
	f.mu.Lock()
	fail := f.times > 0 && strings.Contains(sql, f.match)
	if fail {
		f.times--
	}
	f.mu.Unlock()
	if fail {
		if f.err != nil {
			return nil, f.err
		}
		return nil, errors.New("injected failure")
	}
	return f.Engine.Query(ctx, sql, format)
}

func schedulerOn(t *testing.T, st Store, cfg Config, dir string, now time.Time, sinks ...AlertSink) *Scheduler {
	t.Helper()
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, time.Millisecond
	s, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg, Dependencies{
		Store: st, Sinks: sinks, StateDir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if s.st, err = loadState(dir); err != nil {
		t.Fatal(err)
	}
	return s
}

// storeUpToNow stores flows and one more ending just before now, so that
// the evaluation reaches now.
func storeUpToNow(t *testing.T, fs []record.Flow, now time.Time) {
	t.Helper()
	store(t, append(fs, flow(v4(10, 50, 0, 9), v4(192, 0, 2, 9), 443, now.Add(-10*time.Second), now)))
}

// failingOnce stores a port scan and returns a scheduler over a store
// whose exfiltration query fails once.
func failingOnce(t *testing.T, attacker, victim record.Addr, now time.Time) (*Scheduler, *failing, *sink) {
	t.Helper()
	storeUpToNow(t, scan(attacker, victim, 3000, 300, now.Add(-3*time.Minute), 100*time.Millisecond, now), now)
	sk := &sink{refused: true}
	st := &failing{Engine: engine, match: "GLOBAL NOT IN", times: 1}
	return schedulerOn(t, st, DefaultConfig(), t.TempDir(), now, sk), st, sk
}

// recordsOf lists a detection's records about addr as "state id".
func recordsOf(sk *sink, det string, addr record.Addr) (states []string, ids map[string]bool) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	ids = map[string]bool{}
	for _, a := range sk.alerts {
		if a.Detection == det && (a.SrcAddr == addr || a.DstAddr == addr) {
			states = append(states, a.State.String())
			ids[a.ID] = true
		}
	}
	return states, ids
}

// A detection failing after another opened an alert leaves no trace of
// that opening: the sink never gets a closed record for an alert it was
// not told of, and the event keeps one ID.
func TestFailedChunkLeavesLifecycleConsistent(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 51, 0, 1), v4(192, 0, 2, 151)
	s, st, sk := failingOnce(t, attacker, victim, now)
	_ = s.Run(t.Context())
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2 := schedulerOn(t, st, DefaultConfig(), s.deps.StateDir, now.Add(10*time.Minute), sk)
	if err := s2.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	states, ids := recordsOf(sk, PortScan, attacker)
	if len(states) == 0 || states[0] != "open" || len(ids) != 1 || strings.Count(strings.Join(states, " "), "open") != 1 {
		t.Fatalf("the scan's records: %q under %d IDs; want one open first, one ID", states, len(ids))
	}
}

// One detection failing does not hold the others back: their alerts are
// delivered in the same run, the failure is counted, and only the failed
// detection's windows are evaluated again at the next run.
func TestFailingDetectionDoesNotStopOthers(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 52, 0, 1), v4(192, 0, 2, 152)
	s, st, sk := failingOnce(t, attacker, victim, now)
	if err := s.Run(t.Context()); err == nil {
		t.Fatalf("a run with a failing detection reported no error (watermarks %v, %d failures left)", s.st.Watermarks, st.times)
	}
	if states, _ := recordsOf(sk, PortScan, attacker); len(states) == 0 || states[0] != "open" {
		t.Fatalf("the scan's records after a run where exfiltration failed: %q, want it opened", states)
	}
	if got := testutil.ToFloat64(s.metrics.errors.WithLabelValues(Exfiltration)); got != 1 {
		t.Errorf("errors_total{exfiltration} = %v, want 1", got)
	}
	if s.st.Watermarks[Exfiltration].Equal(s.st.Watermarks[PortScan]) || !s.st.Watermark.Equal(s.st.Watermarks[Exfiltration]) &&
		!s.st.Watermarks[Exfiltration].IsZero() {
		t.Fatalf("watermarks after exfiltration failed: %v (global %s)", s.st.Watermarks, s.st.Watermark)
	}
	runs := testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan))
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan)); got != runs {
		t.Errorf("port-scan ran %v more times at the retry, want only exfiltration again", got-runs)
	}
	if !s.st.Watermarks[Exfiltration].Equal(s.st.Watermarks[PortScan]) || !s.st.Watermark.Equal(s.st.Watermarks[PortScan]) {
		t.Fatalf("watermarks after the retry: %v (global %s), want all equal", s.st.Watermarks, s.st.Watermark)
	}
	// A minute later: the short windows are evaluated, the long ones
	// wait for long-interval.
	later := now.Add(2 * time.Minute)
	store(t, []record.Flow{flow(v4(10, 52, 0, 9), v4(192, 0, 2, 9), 443, now.Add(90*time.Second), later)})
	s.deps.Now = func() time.Time { return later }
	exfil, scans := testutil.ToFloat64(s.metrics.runs.WithLabelValues(Exfiltration)), testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan))
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan)) == scans || testutil.ToFloat64(s.metrics.runs.WithLabelValues(Exfiltration)) != exfil {
		t.Errorf("a minute later port-scan ran %v times, exfiltration %v; want 1 and 0",
			testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan))-scans, testutil.ToFloat64(s.metrics.runs.WithLabelValues(Exfiltration))-exfil)
	}
}

// deadSink refuses everything.
type deadSink struct{}

func (deadSink) WriteAlerts(context.Context, []record.Alert) error { return errors.New("down") }

// A sink that is down does not stop the detections nor the alerts table;
// its queue is bounded by max-pending, the rest dropped and counted.
func TestSinkDownDoesNotStopDetections(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 58, 0, 1), v4(192, 0, 2, 158)
	fs := scan(attacker, victim, 3000, 300, now.Add(-3*time.Minute), 100*time.Millisecond, now)
	storeUpToNow(t, fs, now)
	cfg := DefaultConfig()
	cfg.MaxPending = 1
	live := &sink{refused: true}
	s := schedulerOn(t, engine, cfg, t.TempDir(), now, deadSink{}, live)
	if err := s.Run(t.Context()); err != nil {
		t.Fatalf("a run with a sink down failed: %v", err)
	}
	if states, _ := recordsOf(live, PortScan, attacker); len(states) == 0 {
		t.Fatal("the sink that is up got nothing while the other is down")
	}
	out, err := engine.Query(t.Context(), fmt.Sprintf("SELECT count() FROM %s WHERE Detection = 'port-scan' AND SrcAddr = toIPv6('10.58.0.1')", migrate.AlertsTable), "TSV")
	if err != nil || strings.TrimSpace(string(out)) == "0" {
		t.Fatalf("the alerts table has %s of the scan's records (%v)", out, err)
	}
	if len(s.st.Pending) > cfg.MaxPending || s.st.Sent[0] != len(s.st.Pending) || s.st.Sent[2] != len(s.st.Pending) || s.st.Sent[1] != 0 {
		t.Errorf("queue after the run: %d pending, sent %v; want at most %d, only sink-0 behind", len(s.st.Pending), s.st.Sent, cfg.MaxPending)
	}
	if testutil.ToFloat64(s.metrics.alertsDropped.WithLabelValues("sink-0")) == 0 || testutil.ToFloat64(s.metrics.alertsDropped.WithLabelValues("sink-1")) != 0 {
		t.Errorf("alerts_dropped_total: sink-0 %v, sink-1 %v; want some, none", testutil.ToFloat64(s.metrics.alertsDropped.WithLabelValues("sink-0")),
			testutil.ToFloat64(s.metrics.alertsDropped.WithLabelValues("sink-1")))
	}
}
