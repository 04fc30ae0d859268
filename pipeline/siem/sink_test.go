package siem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/ecs"
	"sluice/pipeline/siem/schematest"
)

// receiver is a Transport that keeps what it acknowledged and refuses
// everything while down: the sink's own logic (filter, IDs, retries,
// spool) is under test here; the real broker's tests are in siem/kafka.
type receiver struct {
	mu       sync.Mutex
	down     bool
	attempts int
	got      map[string]int
}

func (r *receiver) Name() string { return "test" }
func (r *receiver) Send(_ context.Context, events []siem.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.down {
		return errors.New("receiver down")
	}
	if r.got == nil {
		r.got = map[string]int{}
	}
	for _, e := range events {
		r.got[e.ID]++
	}
	return nil
}
func (r *receiver) Ready(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("receiver down")
	}
	return nil
}
func (r *receiver) Close() error   { return nil }
func (r *receiver) setDown(d bool) { r.mu.Lock(); r.down = d; r.mu.Unlock() }
func (r *receiver) ids() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func newSink(t *testing.T, cfg siem.Config, tr siem.Transport, dir string) (*siem.Sink, *reporter.Reporter) {
	t.Helper()
	r := reporter.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg.Name, cfg.Type, cfg.Format = "t", "kafka", "ecs"
	cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	s, err := siem.New(r, cfg, siem.Dependencies{Format: ecs.New(), Transport: tr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, r
}

func metric(t *testing.T, r *reporter.Reporter, name string) float64 {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func TestFlowIDsAreStableAndFilteredRecordsKeepTheirIndex(t *testing.T) {
	rec := &receiver{}
	cfg := siem.DefaultConfig()
	cfg.Filter.ThreatOnly = true
	s, r := newSink(t, cfg, rec, "")
	defer s.Stop(context.Background())
	flows := schematest.Flows(30)
	batches := [][]record.Flow{flows[:10], flows[10:]}
	for range 2 {
		if err := s.WriteBatches(context.Background(), batches, "tok"); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.ids()
	want := 0
	for i := range flows {
		threat := flows[i].SrcThreatFeeds != 0 || flows[i].DstThreatFeeds != 0
		id := string(siem.FlowEventID(nil, "tok", i))
		if threat {
			want++
			if got[id] != 2 {
				t.Errorf("flow %d (%s) delivered %d times, want 2 (same ID on redelivery)", i, id, got[id])
			}
		} else if got[id] != 0 {
			t.Errorf("flow %d has no threat hit but was delivered", i)
		}
	}
	if len(got) != want {
		t.Errorf("%d IDs, want %d", len(got), want)
	}
	if f := metric(t, r, "sluice_pipeline_siem_events_filtered_total"); f != float64(2*(30-want)) {
		t.Errorf("filtered %v, want %d", f, 2*(30-want))
	}
}

func TestFilters(t *testing.T) {
	cases := []struct {
		name string
		set  func(*siem.FilterConfig)
		keep func(*record.Flow) bool
	}{
		{"directions", func(f *siem.FilterConfig) { f.Directions = []string{"inbound", "transit"} },
			func(r *record.Flow) bool {
				return r.TrafficDirection == record.DirectionInbound || r.TrafficDirection == record.DirectionTransit
			}},
		{"exporters", func(f *siem.FilterConfig) { f.Exporters = []string{"192.0.2.2", "192.0.2.3/32"} },
			func(r *record.Flow) bool { return r.ExporterAddress.Netip().As4()[3] != 1 }},
		{"protocols", func(f *siem.FilterConfig) { f.Protocols = []uint8{17} },
			func(r *record.Flow) bool { return r.Proto == 17 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &receiver{}
			cfg := siem.DefaultConfig()
			c.set(&cfg.Filter)
			s, _ := newSink(t, cfg, rec, "")
			defer s.Stop(context.Background())
			flows := schematest.Flows(40)
			if err := s.WriteBatches(context.Background(), [][]record.Flow{flows}, "x"); err != nil {
				t.Fatal(err)
			}
			got := rec.ids()
			for i := range flows {
				if want := c.keep(&flows[i]); want != (got[string(siem.FlowEventID(nil, "x", i))] == 1) {
					t.Errorf("flow %d: kept %v, want %v", i, !want, want)
				}
			}
		})
	}
	rec := &receiver{}
	cfg := siem.DefaultConfig()
	cfg.Filter.MinSeverity = "high"
	s, _ := newSink(t, cfg, rec, "")
	defer s.Stop(context.Background())
	alerts := schematest.Alerts()
	if err := s.WriteAlerts(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	if got := rec.ids(); len(got) != 2 || got[siem.AlertEventID(&alerts[2])] != 0 {
		t.Errorf("min-severity high kept %v", got)
	}
}

// TestWaitRetriesUntilAcknowledged: a write blocks while the receiver is
// down and returns once it has the events.
func TestWaitRetriesUntilAcknowledged(t *testing.T) {
	rec := &receiver{down: true}
	s, r := newSink(t, siem.DefaultConfig(), rec, "")
	defer s.Stop(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.WriteBatches(context.Background(), [][]record.Flow{schematest.Flows(5)}, "w")
	}()
	for rec.attemptsNow() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("write returned while the receiver was down: %v", err)
	default:
	}
	rec.setDown(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(rec.ids()); n != 5 {
		t.Fatalf("%d events delivered, want 5", n)
	}
	if metric(t, r, "sluice_pipeline_siem_events_retried_total") == 0 {
		t.Error("no retry counted")
	}
	// A write whose context ends fails, and says so: the pipeline does not
	// acknowledge the batch.
	rec.setDown(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.WriteBatches(ctx, [][]record.Flow{schematest.Flows(1)}, "late"); err == nil {
		t.Fatal("write to a down receiver succeeded after its context ended")
	}
}

func (r *receiver) attemptsNow() int { r.mu.Lock(); defer r.mu.Unlock(); return r.attempts }

// TestSpoolHoldsBackWhenFullAndSurvivesRestart: with the receiver down,
// writes go to the spool until it is full, then block (nothing dropped);
// a sink restarted on the same directory delivers what was spooled, under
// the same IDs.
func TestSpoolHoldsBackWhenFullAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rec := &receiver{down: true}
	cfg := siem.DefaultConfig()
	cfg.Delivery = siem.DeliverySpool
	cfg.MaxBatchEvents = 50
	cfg.Spool = siem.SpoolConfig{MaxBytes: 256 << 10, SegmentBytes: 64 << 10}
	s, r := newSink(t, cfg, rec, dir)
	flows := schematest.Flows(100) // about 200 KiB of ECS per write... below
	var written []string
	for w := 0; ; w++ {
		token := "w" + string(rune('a'+w))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := s.WriteBatches(ctx, [][]record.Flow{flows}, token)
		cancel()
		if err != nil {
			if !strings.Contains(err.Error(), "spool full") {
				t.Fatal(err)
			}
			break
		}
		written = append(written, token)
		if w > 50 {
			t.Fatal("the spool never filled")
		}
	}
	if metric(t, r, "sluice_pipeline_siem_spool_full_waits_total") == 0 {
		t.Error("no wait on a full spool counted")
	}
	if d := metric(t, r, "sluice_pipeline_spool_dropped_records_total"); d != 0 {
		t.Errorf("the spool dropped %v", d)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	rec.setDown(false)
	s2, _ := newSink(t, cfg, rec, dir)
	defer s2.Stop(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := rec.ids()
		missing := 0
		for _, token := range written {
			for i := range flows {
				if got[string(siem.FlowEventID(nil, token, i))] == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			t.Logf("%d writes spooled, all %d events delivered after the restart", len(written), len(written)*len(flows))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events of %d spooled writes not delivered", missing, len(written))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cfg := siem.DefaultConfig()
	cfg.Name, cfg.Type, cfg.Format = "bad name", "smtp", "xml"
	cfg.Kinds = []string{"flows"}
	cfg.Delivery = "later"
	cfg.Filter.Directions = []string{"up"}
	cfg.Filter.Exporters = []string{"nowhere"}
	cfg.Filter.MinSeverity = "dire"
	err := cfg.Validate()
	for _, key := range []string{"name:", "type:", "format:", "kinds[0]:", "delivery:", "filter.directions[0]:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("no error naming %s in %v", key, err)
		}
	}
}

// holder fails its first Send and keeps the events it was handed, as
// kafka-go keeps a batch queued after WriteMessages returned on a
// cancelled context.
type holder struct {
	mu     sync.Mutex
	held   []siem.Event
	bodies [][]byte
	calls  int
}

func (h *holder) Name() string { return "test" }
func (h *holder) Send(_ context.Context, events []siem.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.calls == 1 {
		h.held = slices.Clone(events)
		for _, e := range events {
			h.bodies = append(h.bodies, bytes.Clone(e.Body))
		}
		return errors.New("timed out, batch still queued")
	}
	return nil
}
func (h *holder) Ready(context.Context) error { return nil }
func (h *holder) Close() error                { return nil }

// TestFailedSendBuffersAreNotReused: events of a failed attempt may still
// be read by the transport; the next write must not overwrite them.
func TestFailedSendBuffersAreNotReused(t *testing.T) {
	h := &holder{}
	s, _ := newSink(t, siem.DefaultConfig(), h, "")
	defer s.Stop(context.Background())
	flows := schematest.Flows(20)
	if err := s.WriteBatches(context.Background(), [][]record.Flow{flows[:10]}, "first"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatches(context.Background(), [][]record.Flow{flows[10:]}, "second"); err != nil {
		t.Fatal(err)
	}
	for i, e := range h.held {
		if !strings.HasPrefix(e.ID, "first-") || !bytes.Equal(e.Body, h.bodies[i]) {
			t.Fatalf("held event %d overwritten by a later write: ID %q, body %.80q", i, e.ID, e.Body)
		}
	}
}

// TestSmallestSpoolTakesFullBatches: a spool entry is bounded by bytes
// too, so the smallest valid spool (64 KiB segments, 128 KiB in all)
// takes a full batch of default-sized events (1000 of ~1.5 KiB, far over
// the spool), entry by entry as the receiver drains it.
func TestSmallestSpoolTakesFullBatches(t *testing.T) {
	rec := &receiver{}
	cfg := siem.DefaultConfig()
	cfg.Delivery = siem.DeliverySpool
	cfg.Spool = siem.SpoolConfig{MaxBytes: 128 << 10, SegmentBytes: 64 << 10}
	s, _ := newSink(t, cfg, rec, t.TempDir())
	defer s.Stop(context.Background())
	flows := schematest.Flows(1000)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.WriteBatches(ctx, [][]record.Flow{flows}, "big"); err != nil {
		t.Fatalf("a full batch into the smallest spool: %v", err)
	}
	for len(rec.ids()) < len(flows) {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d events delivered", len(rec.ids()), len(flows))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSpoolRefusesAnEventLargerThanAnEntry names the keys to raise.
func TestSpoolRefusesAnEventLargerThanAnEntry(t *testing.T) {
	cfg := siem.DefaultConfig()
	cfg.Delivery = siem.DeliverySpool
	cfg.Spool = siem.SpoolConfig{MaxBytes: 128 << 10, SegmentBytes: 64 << 10}
	s, _ := newSink(t, cfg, &receiver{}, t.TempDir())
	defer s.Stop(context.Background())
	a := schematest.Alerts()[0]
	a.Summary = strings.Repeat("x", 70<<10)
	err := s.WriteAlerts(context.Background(), []record.Alert{a})
	if err == nil || !strings.Contains(err.Error(), "spool.segment-bytes") {
		t.Fatalf("an alert over a spool entry: %v", err)
	}
}

// TestReadyInSpoolMode: a receiver outage fails /readyz in delivery wait
// only; in delivery spool the sink is ready while its spool has room, and
// receiver_up shows the outage either way.
func TestReadyInSpoolMode(t *testing.T) {
	rec := &receiver{down: true}
	wait, rw := newSink(t, siem.DefaultConfig(), rec, "")
	defer wait.Stop(context.Background())
	if err := wait.Ready(); err == nil {
		t.Error("delivery wait ready with the receiver down")
	}
	if up := metric(t, rw, "sluice_pipeline_siem_receiver_up"); up != 0 {
		t.Errorf("receiver_up %v with the receiver down", up)
	}

	cfg := siem.DefaultConfig()
	cfg.Delivery = siem.DeliverySpool
	cfg.Spool = siem.SpoolConfig{MaxBytes: 128 << 10, SegmentBytes: 64 << 10}
	sp, r := newSink(t, cfg, rec, t.TempDir())
	defer sp.Stop(context.Background())
	if err := sp.Ready(); err != nil {
		t.Errorf("delivery spool not ready with room in the spool: %v", err)
	}
	if up := metric(t, r, "sluice_pipeline_siem_receiver_up"); up != 0 {
		t.Errorf("receiver_up %v with the receiver down", up)
	}
	// Fill the spool: then it is not ready.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	for i := 0; ctx.Err() == nil; i++ {
		sp.WriteBatches(ctx, [][]record.Flow{schematest.Flows(20)}, fmt.Sprint("w", i))
	}
	if err := sp.Ready(); err == nil || !strings.Contains(err.Error(), "spool full") {
		t.Errorf("ready with a full spool: %v", err)
	}
	rec.setDown(false)
	if err := sp.Ready(); err != nil && !strings.Contains(err.Error(), "spool full") {
		t.Error(err)
	}
	if up := metric(t, r, "sluice_pipeline_siem_receiver_up"); up != 1 {
		t.Errorf("receiver_up %v with the receiver back", up)
	}
}
