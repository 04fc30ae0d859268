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

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
	"sluice/storage/migrate"
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
	var flows []record.Flow
	for p := range 400 {
		flows = append(flows, flow(attacker, victim, uint16(1+p), begin.Add(time.Duration(p)*100*time.Millisecond), now))
	}
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
	if !strings.Contains(a.Summary, "scanned 400 ports") {
		t.Fatalf("summary %q", a.Summary)
	}
	out, err := engine.Query(t.Context(), "SELECT Detection, State, AlertID, Summary FROM sluice.alerts FINAL WHERE Detection = 'port-scan'", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	if want := "port-scan\tclosed\t" + a.ID + "\t" + a.Summary + "\n"; string(out) != want {
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
