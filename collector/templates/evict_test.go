package templates

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/collector/netflow/netflowtest"
	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

var exporterC = record.AddrFrom4([4]byte{192, 0, 2, 3})

// loggedStore returns a store whose evictions and refusals are logged to
// the returned log.
func loggedStore(t *testing.T, cfg Config) (*Store, *netflowtest.Log) {
	s := NewStore(cfg)
	var log netflowtest.Log
	s.SetReporter(reporter.New(slog.New(slog.NewTextHandler(&log, nil))))
	t.Cleanup(s.Close)
	return s, &log
}

func held(h Handle, id uint16) bool {
	_, err := h.GetTemplate(9, 0, id)
	return err == nil
}

// TestEvictionOrder: at the total bound, templates that never decoded data
// go first, the oldest first; then templates idle for TemplateIdle, the
// least recently used first; a template in use is never evicted, and when
// only such templates are held a new one is refused, logged with its
// exporter.
func TestEvictionOrder(t *testing.T) {
	s, log := loggedStore(t, Config{MaxTemplateFields: 4, TemplateIdle: time.Minute})
	at := func(d time.Duration) int64 { return int64(time.Hour + d) }
	add := func(addr record.Addr, now int64, id uint16) Handle {
		h := s.Handle(addr, now)
		h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: oneField})
		return h
	}
	a := add(exporterA, at(0), 256)
	a.UseTemplate(9, 0, 256)
	add(exporterA, at(time.Second), 257) // never used
	b := add(exporterB, at(2*time.Second), 256)
	b.UseTemplate(9, 0, 256)
	add(exporterB, at(3*time.Second), 257) // never used

	// Minutes later A's and B's 256 are idle, but the never-used go first.
	later := at(10 * time.Minute)
	c := add(exporterC, later, 300)
	if held(s.Handle(exporterA, later), 257) || !held(s.Handle(exporterB, later), 257) {
		t.Error("the oldest never-used template (A's 257) was not evicted first")
	}
	c.UseTemplate(9, 0, 300)
	add(exporterC, later, 301)
	c.UseTemplate(9, 0, 301)
	add(exporterC, later+int64(2*time.Second), 302) // A's 256, least recently used
	c.UseTemplate(9, 0, 302)
	if held(s.Handle(exporterA, later), 256) || !held(s.Handle(exporterB, later), 256) {
		t.Error("the least recently used idle template (A's 256) was not evicted first")
	}
	add(exporterC, later+int64(4*time.Second), 303) // B's 256
	c.UseTemplate(9, 0, 303)
	st := s.Stats()
	if st.TemplatesEvictedNeverUsed != 2 || st.TemplatesEvictedIdle != 2 || st.TemplatesRefusedTotal != 0 || st.TemplateFields != 4 {
		t.Errorf("stats = %+v, want 2 never-used and 2 idle evictions", st)
	}
	// Every template held is in use: refused.
	add(exporterA, later+int64(5*time.Second), 258)
	add(exporterA, later+int64(10*time.Second), 259)
	if st := s.Stats(); st.TemplatesRefusedTotal != 2 || held(s.Handle(exporterA, later), 258) {
		t.Errorf("stats = %+v, want 2 refusals", st)
	}
	for _, want := range []string{
		`msg="template evicted to make room: it never decoded a data record" exporter=192.0.2.1 version=9 domain=0 template=257 for=192.0.2.3`,
		`msg="template evicted to make room: it decoded no data record for template-idle" exporter=192.0.2.1 version=9 domain=0 template=256 for=192.0.2.3`,
		`msg="template refused: the store holds max-template-fields, all in templates decoding data" exporter=192.0.2.1 reason=total_limit`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

// TestEvictionQueuesStayBounded: templates withdrawn, redefined or expired
// leave dead entries in the eviction queues; the queues are compacted, so
// they stay within about one and a half times the store's size.
func TestEvictionQueuesStayBounded(t *testing.T) {
	s := NewStore(Config{MaxTemplateFields: 2000, MaxTemplatesPerExporter: 64})
	rng := rand.New(rand.NewPCG(1, 2))
	now := int64(1)
	for i := range 100_000 {
		now += int64(time.Millisecond)
		h := s.Handle(record.AddrFrom4([4]byte{10, 0, byte(i % 50 >> 8), byte(i % 50)}), now)
		id := uint16(256 + rng.IntN(100))
		switch i % 3 {
		case 0:
			h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: fields(1 + rng.IntN(3))})
		case 1:
			h.RemoveTemplate(9, 0, id)
		case 2:
			h.UseTemplate(9, 0, id)
		}
		if i%10_000 == 0 {
			s.Expire(time.Unix(0, now).Add(2 * time.Hour)) // every exporter goes
		}
	}
	st := s.Stats()
	s.evictions.mu.Lock()
	checkQueue(t, "the store's templates", &s.evictions.templates, st.Templates)
	s.evictions.mu.Unlock()
	for _, e := range s.exporterList() {
		e.mu.RLock()
		checkQueue(t, "an exporter's templates", &e.own, len(e.templates))
		e.mu.RUnlock()
	}
	if st.TemplatesEvictedNeverUsed == 0 {
		t.Errorf("stats = %+v: no eviction exercised", st)
	}
}

// checkQueue fails t if q holds more entries, or more room, than live
// entries justify: half as many again and a little more between
// compactions, and twice that in capacity (append's growth).
func checkQueue[T any](t *testing.T, what string, q *fifo[T], live int) {
	t.Helper()
	bound := live + live/2 + 65
	if q.len() > bound || cap(q.items) > 2*bound+64 {
		t.Errorf("queue of %s: %d entries, capacity %d, for %d live", what, q.len(), cap(q.items), live)
	}
}

// TestExporterQueueStaysBounded: exporters evicted for new ones, or
// expired, leave dead entries in the exporters' eviction queue; it is
// compacted like the templates' queue.
func TestExporterQueueStaysBounded(t *testing.T) {
	for _, tc := range []struct {
		name         string
		maxExporters int
		churn        func(Stats) uint64
	}{
		{"evicted", 100, func(st Stats) uint64 { return st.ExportersEvicted }},
		{"expired", 5000, func(st Stats) uint64 { return st.ExportersExpired }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(Config{MaxExporters: tc.maxExporters})
			now := int64(time.Hour)
			for i := range 100_000 {
				now += int64(time.Second)
				h := s.Handle(record.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
				h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(1)})
				if i%50 == 0 {
					h.UseTemplate(9, 0, 256) // some decode data: idle, not never used, when evicted
				}
			}
			st := s.Stats()
			s.evictions.mu.Lock()
			checkQueue(t, "exporters", &s.evictions.exporters, st.Exporters)
			checkQueue(t, "the store's templates", &s.evictions.templates, st.Templates)
			s.evictions.mu.Unlock()
			if tc.churn(st) < 90_000 {
				t.Errorf("stats = %+v: too little churn exercised", st)
			}
		})
	}
}

// TestConcurrentFloodAndData: flooding sources and exporters sending data
// share the store from several goroutines (run with -race); the exporters
// that send data keep their templates, and the bounds hold.
func TestConcurrentFloodAndData(t *testing.T) {
	cfg := Config{MaxTemplateFields: 500, MaxTemplatesPerExporter: 50, MaxExporters: 40}
	s := NewStore(cfg)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			for i := range 5000 {
				h := s.Handle(record.AddrFrom4([4]byte{127, 1, byte(g), byte(i % 100)}), int64(1+i))
				id := uint16(256 + rng.IntN(60000))
				h.AddTemplate(9, rng.Uint32(), id, netflow.TemplateRecord{TemplateId: id, Fields: fields(2)})
			}
		}()
	}
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := record.AddrFrom4([4]byte{127, 2, 0, byte(g)})
			decoding := false
			for i := range 5000 {
				h := s.Handle(addr, int64(1+i))
				// Its template, with every datagram: a flood can push a
				// new template out before its first data record, not after.
				h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(3)})
				_, err := h.UseTemplate(9, 0, 256)
				if err != nil && decoding {
					errs <- fmt.Errorf("exporter %d, datagram %d: template decoding data lost: %w", g, i, err)
					return
				}
				decoding = decoding || err == nil
			}
			if !decoding {
				errs <- fmt.Errorf("exporter %d never had its template accepted", g)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.TemplateFields > cfg.MaxTemplateFields || st.Exporters > cfg.MaxExporters {
		t.Errorf("stats = %+v, beyond the bounds", st)
	}
}

// TestSnapshotToPersistBound: the persisted state stays within
// MaxStateBytes; what decodes data is written first, templates that never
// did in at most a quarter of it; a restore keeps when each template last
// decoded data.
func TestSnapshotToPersistBound(t *testing.T) {
	const bound = 64 << 10
	s := NewStore(Config{MaxStateBytes: bound})
	now := time.Now()
	for i := range 300 {
		h := s.Handle(record.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), seenAt(now, time.Duration(i)*time.Second))
		for id := uint16(256); id < 266; id++ {
			h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: fields(8)})
		}
		if i%30 == 0 { // 10 exporters send data
			h.UseTemplate(9, 0, 256)
			h.SetSamplingRate(SamplerKey{9, 0, 0}, 100)
		}
	}
	snap, omitted := s.SnapshotToPersist()
	path := filepath.Join(t.TempDir(), "templates.json")
	if err := WriteFile(path, snap); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() > bound || omitted.Total() == 0 {
		t.Errorf("%d bytes written for a bound of %d, %+v left out", info.Size(), bound, omitted)
	}
	used, unused := 0, 0
	for _, es := range snap.Exporters {
		for _, te := range es.Templates {
			if te.LastUsed != 0 {
				used++
			} else {
				unused++
			}
		}
	}
	if used != 10 || unused == 0 || unused*(256+72*8) > bound/4 {
		t.Errorf("%d templates in use and %d unused written, want the 10 in use and unused ones within a quarter", used, unused)
	}
	t.Logf("%d bytes: %d templates in use, %d unused, %+v left out", info.Size(), used, unused, omitted)

	read, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore(Config{MaxTemplateFields: 8 * (used + unused)})
	r.Restore(read, now)
	// Full: a new template evicts an unused one, not one in use.
	h := r.Handle(exporterA, now.UnixNano())
	for id := uint16(256); id < 256+uint16(unused); id++ {
		h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: fields(8)})
	}
	if st := r.Stats(); st.TemplatesEvictedNeverUsed != uint64(unused) || st.TemplatesRefusedTotal != 0 {
		t.Errorf("stats = %+v, want %d unused evicted", st, unused)
	}
	for i := 0; i < 300; i += 30 {
		if !held(r.Handle(record.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now.UnixNano()), 256) {
			t.Errorf("exporter %d lost its template in use", i)
		}
	}
}

// startFlood runs goroutines that send templates (send, with a handle of
// from(g, i) for goroutine g's i-th) until the stop it returns is called,
// which waits for them.
func startFlood(s *Store, goroutines int, from func(g, i int) record.Addr, send func(h *Handle, rng *rand.Rand, i int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 0))
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				h := s.Handle(from(g, i), 1)
				send(&h, rng, i)
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// TestNewExportersDuringConcurrentFlood: exporters that start while other
// goroutines flood the store send their template once, then data. Room
// made by evicting flood templates (or flood exporters) is claimed by the
// newcomer it was made for, so none is refused while evictable state
// exists (before the reservation, another worker's template could take
// the room between the eviction and the retry, and the retry was refused).
func TestNewExportersDuringConcurrentFlood(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		flood func(g, i int) record.Addr
	}{
		{"fields", Config{MaxTemplateFields: 20000, MaxTemplatesPerExporter: 4096, MaxExporters: 100000},
			func(g, i int) record.Addr { return record.AddrFrom4([4]byte{127, 1, byte(g), byte(i % 200)}) }},
		{"exporters", Config{MaxTemplateFields: 1 << 30, MaxExporters: 2000},
			func(g, i int) record.Addr { return record.AddrFrom4([4]byte{127, 3, byte(g), byte(i)}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, log := loggedStore(t, tc.cfg)
			stop := startFlood(s, 8, tc.flood, func(h *Handle, rng *rand.Rand, _ int) {
				id := uint16(256 + rng.IntN(60000))
				h.AddTemplate(9, rng.Uint32(), id, netflow.TemplateRecord{TemplateId: id, Fields: fields(2)})
			})
			// Let the flood fill the store before the exporters start.
			for s.Stats().TemplateFields < tc.cfg.MaxTemplateFields*9/10 && s.Stats().Exporters < tc.cfg.MaxExporters*9/10 {
				time.Sleep(time.Millisecond)
			}
			const n = 1000
			lost := 0
			for i := range n {
				h := s.Handle(record.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1)
				h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(3)})
				if _, err := h.UseTemplate(9, 0, 256); err != nil {
					lost++
				}
			}
			stop()
			st := s.Stats()
			// Refusals, the flood's included: every template and exporter
			// but the newcomers' could always be evicted. A newcomer may
			// still lose its template before its data when this goroutine
			// is descheduled while the flood evicts the whole queue ahead
			// of it (lost, logged, not a refusal).
			t.Logf("%d of %d new exporters without their template at their first data; refused: %d templates, %d exporters",
				lost, n, st.TemplatesRefusedTotal, st.ExportersRefused)
			if st.TemplatesRefusedTotal+st.ExportersRefused > 0 {
				t.Errorf("stats = %+v: refused while the store held evictable flood state", st)
				for _, l := range strings.Split(log.String(), "\n") {
					if strings.Contains(l, "refused") && strings.Contains(l, "exporter=10.") {
						t.Log(l)
					}
				}
			}
			if st.TemplatesEvictedNeverUsed+st.ExportersEvicted == 0 {
				t.Errorf("stats = %+v: the flood never filled the store", st)
			}
		})
	}
}

// TestRedefinitionAtTotalBound: an exporter redefining its template (not
// yet used) with more fields at the total bound may see its own previous
// version evicted to make room; the redefinition is then stored in room
// made from other unused templates, not refused.
func TestRedefinitionAtTotalBound(t *testing.T) {
	s := NewStore(Config{MaxTemplateFields: 5})
	a := s.Handle(exporterA, 1)
	a.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(2)})
	b := s.Handle(exporterB, 1)
	b.AddTemplate(9, 0, 257, netflow.TemplateRecord{TemplateId: 257, Fields: fields(2)})
	if _, err := b.UseTemplate(9, 0, 257); err != nil {
		t.Fatal(err)
	}
	c := s.Handle(exporterC, 1)
	c.AddTemplate(9, 0, 258, netflow.TemplateRecord{TemplateId: 258, Fields: fields(1)})

	a.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(3)})
	if got, err := a.GetTemplate(9, 0, 256); err != nil || len(got.(netflow.TemplateRecord).Fields) != 3 {
		t.Errorf("redefinition: %v, %v; stats %+v", got, err, s.Stats())
	}
	if !held(b, 257) || held(c, 258) {
		t.Errorf("held: B's (in use) %v, C's (unused) %v; want B's only", held(b, 257), held(c, 258))
	}
	if st := s.Stats(); st.TemplateFields != 5 || st.TemplatesRefusedTotal != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestUseAndEvictionSerialised: a template UseTemplate returns for
// decoding is marked used before eviction can decide it is unused, so it
// stays held. Several goroutines flood the total bound while exporters
// add a template and use it at once.
func TestUseAndEvictionSerialised(t *testing.T) {
	s := NewStore(Config{MaxTemplateFields: 64, MaxExporters: 1 << 20})
	stop := startFlood(s, 3, func(g, i int) record.Addr { return record.AddrFrom4([4]byte{127, 1, byte(g), byte(i)}) },
		func(h *Handle, _ *rand.Rand, i int) {
			h.AddTemplate(9, 0, uint16(256+i%1000), netflow.TemplateRecord{TemplateId: 256, Fields: fields(1)})
		})
	lost := 0
	for i := range 20_000 {
		h := s.Handle(record.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1)
		h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(1)})
		if _, err := h.UseTemplate(9, 0, 256); err == nil && !held(h, 256) {
			lost++
		}
		h.RemoveTemplate(9, 0, 256) // keep room for the flood
	}
	stop()
	if lost > 0 {
		t.Errorf("%d templates evicted after UseTemplate returned them", lost)
	}
}

// TestScanClock: a scan is due at most once a second of receive time, even
// when receive times from several workers step back a little; a step back
// of more than a minute is a clock change, after which a scan is due.
func TestScanClock(t *testing.T) {
	var c scanClock
	sec := int64(time.Second)
	for i, step := range []struct {
		now  int64
		want bool
	}{
		{100 * sec, true},
		{100*sec + sec/2, false},
		{100*sec - sec/100, false}, // another worker's slightly older receive time
		{100*sec + sec/2, false},
		{100*sec - sec/50, false},
		{101 * sec, true},
		{101*sec - 2*sec, false},
		{101*sec - 2*60*sec, true}, // the clock was set back
		{101*sec - 2*60*sec + sec/2, false},
	} {
		if got := c.due(step.now); got != step.want {
			t.Errorf("step %d: due(%d) = %v, want %v", i, step.now, got, step.want)
		}
	}
}

// TestSnapshotToPersistOrder: within the bound, the exporters whose
// templates decoded data come first, the most recent data first (not the
// most recently seen: a flood's source is seen as recently as any); the
// sampling rates of an exporter none of whose templates decoded data wait
// for the last quarter of the bound.
func TestSnapshotToPersistOrder(t *testing.T) {
	tpl := netflow.TemplateRecord{TemplateId: 256, Fields: oneField}
	snap := Snapshot{Exporters: []ExporterSnapshot{
		{ // seen last, never decoded data, announces sampling rates
			Address: netip.MustParseAddr("198.51.100.7"), LastSeen: 300,
			SamplingRates: []SamplingRateEntry{{SamplerKey{9, 0, 1}, 10}, {SamplerKey{9, 0, 2}, 10}, {SamplerKey{9, 0, 3}, 10}},
		},
		{Address: netip.MustParseAddr("192.0.2.1"), LastSeen: 200, Templates: []TemplateEntry{{TemplateKey{9, 0, 256}, tpl, 100}}},
		{Address: netip.MustParseAddr("192.0.2.2"), LastSeen: 100, Templates: []TemplateEntry{{TemplateKey{9, 0, 256}, tpl, 150}}},
	}}
	oneExporter := fileBytes + exporterBytes + templateBytes + fieldBytes
	bounded, omitted := snap.bound(oneExporter + 100)
	if len(bounded.Exporters) != 1 || bounded.Exporters[0].Address != snap.Exporters[2].Address {
		t.Errorf("kept %+v, want only the exporter with the most recent data", bounded.Exporters)
	}
	if want := (Omitted{Templates: 1, SamplingRates: 3}); omitted != want {
		t.Errorf("omitted %+v, want %+v", omitted, want)
	}
	// With room, everything, in last-seen order.
	bounded, omitted = snap.bound(64 << 10)
	if len(bounded.Exporters) != 3 || omitted.Total() != 0 || bounded.Exporters[0].Address != snap.Exporters[0].Address {
		t.Errorf("kept %+v, omitted %+v", bounded.Exporters, omitted)
	}
}

// TestDataExportersLoggedDuringFlood: log lines about an exporter whose
// data uses its templates have their own rate limit, so a flood's lines
// (evictions of its own templates, refusals) never crowd them out.
func TestDataExportersLoggedDuringFlood(t *testing.T) {
	s, log := loggedStore(t, Config{MaxTemplateFields: 10})
	flood := func(n int) {
		for i := range n {
			h := s.Handle(record.AddrFrom4([4]byte{127, 1, 0, byte(i)}), 1)
			id := uint16(300 + i)
			h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: fields(1)})
		}
	}
	a := s.Handle(exporterA, 1)
	a.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(1)})
	if _, err := a.UseTemplate(9, 0, 256); err != nil {
		t.Fatal(err)
	}
	flood(30) // evicts its own templates: more lines than the limit
	a.AddTemplate(9, 0, 257, netflow.TemplateRecord{TemplateId: 257, Fields: fields(1)})
	flood(30) // evicts A's new template before its data
	if held(a, 257) {
		t.Fatalf("A's unused template survived the flood: %+v", s.Stats())
	}
	// Every other template in use: the flood, then A, are refused.
	for i := range 9 {
		h := s.Handle(record.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1)
		h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: fields(1)})
		h.UseTemplate(9, 0, 256)
	}
	flood(30)
	if st := s.Stats(); st.TemplatesRefusedTotal < 30 {
		t.Fatalf("stats = %+v, want the flood refused", st)
	}
	a.AddTemplate(9, 0, 258, netflow.TemplateRecord{TemplateId: 258, Fields: fields(2)})
	if held(a, 258) {
		t.Fatalf("A's template stored in a store full of templates in use: %+v", s.Stats())
	}
	out := log.String()
	for _, want := range []string{
		"never decoded a data record\" exporter=192.0.2.1 version=9 domain=0 template=257",
		"template refused: the store holds max-template-fields, all in templates decoding data\" exporter=192.0.2.1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line %q in the log:\n%s", want, out)
		}
	}
}

// lockProbe is a log handler that records whether a line was logged while
// the store held one of its locks.
type lockProbe struct {
	slog.Handler
	s      *Store
	locked *[]string
}

func (p lockProbe) Handle(ctx context.Context, r slog.Record) error {
	if !p.s.evictions.mu.TryLock() {
		*p.locked = append(*p.locked, "ev.mu: "+r.Message)
	} else {
		p.s.evictions.mu.Unlock()
	}
	if !p.s.mu.TryLock() {
		*p.locked = append(*p.locked, "s.mu: "+r.Message)
	} else {
		for _, e := range p.s.exporters {
			if !e.mu.TryLock() {
				*p.locked = append(*p.locked, "e.mu: "+r.Message)
			} else {
				e.mu.Unlock()
			}
		}
		p.s.mu.Unlock()
	}
	return p.Handler.Handle(ctx, r)
}

// TestLoggedWithoutLocks: evictions and refusals are logged after the
// store's locks are released, so a slow log never stalls other workers.
func TestLoggedWithoutLocks(t *testing.T) {
	s := NewStore(Config{MaxTemplatesPerExporter: 2, MaxTemplateFields: 4, MaxExporters: 2})
	var locked []string
	var lines netflowtest.Log
	s.SetReporter(reporter.New(slog.New(lockProbe{slog.NewTextHandler(&lines, nil), s, &locked})))
	defer s.Close()
	add := func(a record.Addr, id uint16, n int) {
		h := s.Handle(a, 1)
		h.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: fields(n)})
	}
	add(exporterA, 256, 1)
	add(exporterA, 257, 1)
	add(exporterA, 258, 1) // evicts A's own 256
	add(exporterB, 256, 2)
	add(exporterB, 257, 1) // evicts A's 257 for the total
	add(exporterC, 256, 1) // evicts exporter A
	for _, a := range []record.Addr{exporterA, exporterB, exporterC} {
		h := s.Handle(a, 1)
		for id := uint16(256); id < 259; id++ {
			h.UseTemplate(9, 0, id)
		}
	}
	add(exporterC, 300, 3)                                  // refused: the total
	add(record.AddrFrom4([4]byte{198, 51, 100, 1}), 256, 1) // refused: max-exporters
	st := s.Stats()
	if st.TemplatesEvictedNeverUsed < 2 || st.ExportersEvicted != 1 || st.TemplatesRefusedTotal != 1 || st.ExportersRefused != 1 {
		t.Errorf("stats = %+v, want every kind of line exercised", st)
	}
	if len(locked) > 0 {
		t.Errorf("logged under a lock: %q", locked)
	}
	t.Log(lines.String())
}
