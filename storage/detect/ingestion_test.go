package detect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sluice/storage/clickhouse"
)

// backlogProbe is a store behind which every query leaves ingestion a
// backlog that the writer clears in three looks (Backlog calls); it
// records the backlog each query ran under.
type backlogProbe struct {
	Store
	mu      sync.Mutex
	pending int
	seen    []float64
}

func (b *backlogProbe) Backlog() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending > 0 {
		b.pending--
		return 0.9
	}
	return 0.1
}

func (b *backlogProbe) Query(ctx context.Context, sql, format string) ([]byte, error) {
	b.mu.Lock()
	level := 0.1
	if b.pending > 0 {
		level = 0.9
	}
	b.seen = append(b.seen, level)
	b.pending = 3
	b.mu.Unlock()
	return b.Store.Query(ctx, sql, format)
}

// The detections' queries wait while ingestion has a backlog: none runs
// before the queue drains below a quarter, and the wait is counted.
func TestQueriesYieldToIngestion(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 60, 0, 1), v4(192, 0, 2, 160)
	storeUpToNow(t, scan(attacker, victim, 3000, 300, now.Add(-3*time.Minute), 100*time.Millisecond, now), now)
	probe := &backlogProbe{Store: engine}
	sk := &sink{}
	s := schedulerOn(t, probe, DefaultConfig(), t.TempDir(), now, sk)
	s.deps.Backlog = probe.Backlog
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The first query (the newest flow) runs before any detection and
	// does not wait; each detection's waits for the backlog the query
	// before it left.
	if len(probe.seen) < 1+len(s.detections) {
		t.Fatalf("%d queries ran, want at least one per detection (%d)", len(probe.seen), len(s.detections))
	}
	for i, b := range probe.seen[1:] {
		if b > yieldBacklog {
			t.Errorf("detection query %d of %d ran with the ingestion backlog at %v", i+1, len(probe.seen)-1, b)
		}
	}
	if got := testutil.ToFloat64(s.metrics.yieldSeconds); got <= 0 {
		t.Errorf("yield_seconds_total = %v after waiting for the backlog, want > 0", got)
	}
	if got := testutil.ToFloat64(s.metrics.yieldTimeouts); got != 0 {
		t.Errorf("yield_timeouts_total = %v, want 0: the backlog cleared", got)
	}
	if states, _ := recordsOf(sk, PortScan, attacker); len(states) == 0 {
		t.Error("the scan raised nothing after the wait")
	}
}

// A backlog that does not clear holds a run max-yield at most, all its
// queries together: the detections go on, and the queries run under it
// are counted.
func TestYieldGivesUpAfterMaxYield(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 61, 0, 1), v4(192, 0, 2, 161)
	storeUpToNow(t, scan(attacker, victim, 3000, 300, now.Add(-3*time.Minute), 100*time.Millisecond, now), now)
	cfg := DefaultConfig()
	cfg.MaxYield = 30 * time.Millisecond
	sk := &sink{}
	s := schedulerOn(t, engine, cfg, t.TempDir(), now, sk)
	s.deps.Backlog = func() float64 { return 1 }
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := testutil.ToFloat64(s.metrics.yieldTimeouts), float64(len(s.detections)); got < want {
		t.Errorf("yield_timeouts_total = %v, want at least one per detection (%v)", got, want)
	}
	if states, _ := recordsOf(sk, PortScan, attacker); len(states) == 0 {
		t.Error("the scan raised nothing under a backlog that never cleared")
	}

	// Stopping while a query waits ends the wait.
	cfg.MaxYield = time.Hour
	s2 := schedulerOn(t, engine, cfg, t.TempDir(), now)
	s2.deps.Backlog = func() float64 { return 1 }
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s2.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a run stopped while waiting returned %v, want the context's end", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a run waiting for the backlog did not stop with its context")
	}
}

// A detection that keeps failing is not run again at every run: it sits
// out 0, 1, 3, 7... runs between attempts (bounded by long-interval), and
// is back to every run once it succeeds. One stopped at max-query-time
// skips older windows, or, with a long window, sits out max-catch-up.
func TestFailingDetectionBacksOff(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	attacker, victim := v4(10, 62, 0, 1), v4(192, 0, 2, 162)
	storeUpToNow(t, scan(attacker, victim, 3000, 300, now.Add(-3*time.Minute), 100*time.Millisecond, now), now)
	attempts := func(err error, runs int) []int {
		st := &failing{Engine: engine, match: "AS Ports", times: 1 << 30, err: err}
		s := schedulerOn(t, st, DefaultConfig(), t.TempDir(), now)
		var attempted []int
		for run := 1; run <= runs; run++ {
			before := testutil.ToFloat64(s.metrics.errors.WithLabelValues(PortScan))
			_ = s.Run(t.Context())
			if testutil.ToFloat64(s.metrics.errors.WithLabelValues(PortScan)) > before {
				attempted = append(attempted, run)
			}
		}
		return attempted
	}
	// 0, 1, 3, 7 runs sat out, then long-interval / interval = 10.
	if got, want := attempts(nil, 30), []int{1, 2, 4, 8, 16, 27}; !slices.Equal(got, want) {
		t.Errorf("failing port-scan was attempted at runs %v, want %v", got, want)
	}

	// Stopped at max-query-time: a 5-minute detection backs off the same
	// and skips to the newest window, so that its next query reads one.
	// The engine's own error for it, as the scheduler gets it.
	_, timeout := engine.Query(t.Context(), "SELECT sleepEachRow(0.5) FROM numbers(10) SETTINGS max_block_size = 1, max_execution_time = 1", "TSV")
	if clickhouse.ExceptionCode(timeout) != clickhouse.CodeTimeoutExceeded {
		t.Fatalf("a 5-second statement stopped after 1 s returned %v, want TIMEOUT_EXCEEDED", timeout)
	}
	st := &failing{Engine: engine, match: "AS Ports", times: 1 << 30, err: timeout}
	s := schedulerOn(t, st, DefaultConfig(), t.TempDir(), now)
	s.st.Watermark = now.Add(-time.Hour).Truncate(time.Minute) // an hour of windows to evaluate
	_ = s.Run(t.Context())
	if got := testutil.ToFloat64(s.metrics.windowsSkipped); got < 50 {
		t.Errorf("windows_skipped_total = %v after port-scan was stopped at max-query-time an hour behind, want the hour's windows", got)
	}
	// The others evaluated up to the newest window end: port-scan is one
	// step behind, its next query reading that one window.
	if wm, end := s.st.Watermarks[PortScan], s.st.Watermarks[DDoS]; !wm.Equal(end.Add(-time.Minute)) {
		t.Errorf("port-scan's watermark after a timeout: %s, want one step before the newest window end %s", wm, end)
	}
	// A long-window detection sits out max-catch-up (360 runs).
	beacon := &failing{Engine: engine, match: "AS Connections", times: 1 << 30, err: timeout}
	s = schedulerOn(t, beacon, DefaultConfig(), t.TempDir(), now)
	_ = s.Run(t.Context())
	if got := s.skip[Beaconing]; got != 360 {
		t.Errorf("beaconing stopped at max-query-time sits out %d runs, want 360", got)
	}
	// It holds no one back meanwhile.
	if !s.st.Watermark.Equal(s.st.Watermarks[PortScan]) {
		t.Errorf("global watermark %s behind port-scan's %s while beaconing sits out", s.st.Watermark, s.st.Watermarks[PortScan])
	}

	st = &failing{Engine: engine, match: "AS Ports", times: 1 << 30}
	s = schedulerOn(t, st, DefaultConfig(), t.TempDir(), now)
	for range 8 {
		_ = s.Run(t.Context())
	}
	if got := testutil.ToFloat64(s.metrics.backedOff.WithLabelValues(PortScan)); got != 4 {
		t.Errorf("backed_off_total{port-scan} = %v after 8 runs, want 4 runs sat out", got)
	}
	if got := testutil.ToFloat64(s.metrics.backedOff.WithLabelValues(DDoS)); got != 0 {
		t.Errorf("backed_off_total{ddos} = %v, want 0: it never failed", got)
	}

	// Once the store recovers, the next attempt succeeds and the
	// detection runs at every run again.
	st.mu.Lock()
	st.times = 0
	st.mu.Unlock()
	s.skip[PortScan] = 0
	runs := testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan))
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.failures[PortScan] != 0 || testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan)) == runs {
		t.Errorf("after a success: %d consecutive failures recorded, runs %v -> %v", s.failures[PortScan], runs,
			testutil.ToFloat64(s.metrics.runs.WithLabelValues(PortScan)))
	}
}

// Every detection's query carries max-query-time, and the engine stops a
// statement under that clause once it runs longer.
func TestMaxQueryTimeStopsTheQuery(t *testing.T) {
	c := DefaultConfig()
	c.MaxQueryTime = time.Second
	to := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var clause string
	for _, d := range enabledDetections(&c) {
		q, err := d.query(&c, to.Add(-time.Minute), to)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.LastIndex(q, "\nSETTINGS ")
		if i < 0 || !strings.Contains(q[i:], "max_execution_time = 1,") {
			t.Fatalf("%s: the query does not end with max_execution_time = 1:\n%s", d.name, q)
		}
		if clause != "" && q[i:] != clause {
			t.Fatalf("%s: settings %q, others %q", d.name, q[i:], clause)
		}
		clause = q[i:]
	}
	// Ten blocks of half a second each: stopped past the first second.
	_, err := engine.Query(t.Context(), "SELECT sleepEachRow(0.5) FROM numbers(10)"+strings.Replace(clause, "SETTINGS ", "SETTINGS max_block_size = 1, ", 1), "TSV")
	if code := clickhouse.ExceptionCode(err); code != clickhouse.CodeTimeoutExceeded {
		t.Fatalf("a 5-second statement under the detections' settings returned %v (code %d), want TIMEOUT_EXCEEDED", err, code)
	}
}
