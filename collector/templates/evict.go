package templates

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Eviction: what a bound makes room for.
//
// A flood of templates from spoofed sources fills the bounds with templates
// no data record ever uses. Refusing what comes next would lock out every
// exporter that starts (or restarts) during or after the flood, until the
// spoofed state expires after ExporterIdle. Instead, when a bound is
// reached, room is made by evicting what data does not use:
//
//   - a template that never decoded a data record, the oldest first: new
//     templates join a queue in the order they arrive, so a template
//     waiting for its first data record keeps its place while the rest of
//     the queue is evicted before it;
//   - then a template whose last data record is older than TemplateIdle,
//     the least recently used first (found by a scan, at most once a
//     second, when no template is waiting in the queue).
//
// A template that decodes data is never evicted for another: when every
// template held is in use, a new one is refused. The per-exporter bound
// evicts among the exporter's own templates the same way; the total bound
// among all exporters'. MaxExporters evicts an exporter none of whose
// templates decoded data for TemplateIdle (never, first) before it refuses
// a new one.
//
// Marking a template used (Handle.UseTemplate) is an atomic load per data
// set, and a store at most once a second: the decoding path stays cheap and
// allocation-free. The queues hold a pointer per template and per exporter;
// an entry whose template (or exporter) left the store is dropped when
// reached, and a queue is compacted when it grows half as long again as
// the store, so it stays within one and a half times the store's size.

// evictions is the store's eviction state and its counters.
type evictions struct {
	log     *slog.Logger
	limiter *reporter.Limiter // nil: evictions and refusals are counted, not logged

	mu        sync.Mutex // taken before s.mu and any exporter's lock, never while holding them
	templates fifo[candidate]
	exporters fifo[*exporter]
	// When the store was last scanned for idle templates (exporters), so
	// that a store full of templates in use is scanned at most once a second.
	templatesScan, exportersScan scanClock

	neverUsed, idle, exportersEvicted atomic.Uint64
}

// candidate is a template in an eviction queue: queued when added (it may
// go while it has never decoded data), or by a scan for idle templates (it
// may go while still idle).
type candidate struct {
	t       *storedTemplate
	scanned bool
}

// evictable tells whether c's template may be evicted at nowNanos, and why.
// A template queued when added that has decoded data since is not: it
// leaves the queue, and a scan queues it again once it is idle, so that
// every template that never decoded data goes before any idle one.
func (s *Store) evictable(c candidate, nowNanos int64) (reason string, ok bool) {
	if c.t.gone.Load() {
		return "", false
	}
	reason, ok = s.unused(c.t, nowNanos)
	return reason, ok && (c.scanned || reason == ReasonNeverUsed)
}

// Log keys (the limiter's) and the reasons of the eviction metrics.
const (
	ReasonNeverUsed = "never_used" // the template never decoded a data record
	ReasonIdle      = "idle"       // the template decoded no data record for TemplateIdle
)

// SetReporter makes the store log its evictions and refusals through r,
// at most 5 lines per kind every 10 s (the rest counted in the next line
// and in a "repeated log lines suppressed" line); lines about an exporter
// whose data uses its templates have a budget of their own, so a flood's
// lines never crowd them out. Lines are logged after the store's locks
// are released. Call it before use;
// without it they are only counted. Close stops its limiter.
func (s *Store) SetReporter(r *reporter.Reporter) {
	s.evictions.log = r.Logger
	s.evictions.limiter = r.NewLimiter(5, 10*time.Second)
}

// Close reports the log lines held back by the limiter. The store stays
// usable.
func (s *Store) Close() {
	if s.evictions.limiter != nil {
		s.evictions.limiter.Stop()
	}
}

// unused tells whether a template may be evicted at nowNanos, and why.
func (s *Store) unused(t *storedTemplate, nowNanos int64) (reason string, ok bool) {
	last := t.lastUsed.Load()
	switch {
	case last == 0:
		return ReasonNeverUsed, true
	case nowNanos-last > int64(s.cfg.TemplateIdle):
		return ReasonIdle, true
	}
	return "", false
}

// held tells whether the candidate's template is still in the store, for
// the queues' compaction.
func (c candidate) held() bool { return !c.t.gone.Load() }

// makeRoom evicts unused templates of any exporter until need more fields
// fit under MaxTemplateFields, and reserves them (adds them to the total)
// before it lets another worker in: the room made is the caller's, who
// hands the reservation to addTemplate. It reports whether it reserved.
// forData tells whether forAddr's data uses its templates (for the logs).
// The caller holds no lock; the evictions are logged after ev.mu is
// released.
func (s *Store) makeRoom(need, nowNanos int64, forAddr record.Addr, forData bool) bool {
	var buf [4]eviction
	logs, ok := s.reserve(need, nowNanos, buf[:0])
	for _, x := range logs {
		s.evictions.logEvicted(x, forAddr, forData)
	}
	return ok
}

// reserve is makeRoom under ev.mu; it appends what it evicted to logs.
func (s *Store) reserve(need, nowNanos int64, logs []eviction) ([]eviction, bool) {
	limit := int64(s.cfg.MaxTemplateFields)
	if need > limit {
		return logs, false
	}
	ev := &s.evictions
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for !take(&s.fields, need, limit) {
		c, ok := ev.templates.next(&ev.templatesScan, nowNanos, s.queueIdleTemplates)
		if !ok {
			return logs, false
		}
		if reason, ok := s.evictable(c, nowNanos); ok && c.t.e.evictTemplate(c.t, nowNanos) {
			logs = append(logs, ev.evicted(reason, c.t))
		}
		// Else gone, or in use: out of the queue until a scan finds it idle.
	}
	return logs, true
}

// queueIdleTemplates queues the templates of every exporter that decoded
// data, but none for TemplateIdle, least recently used first. The caller
// holds ev.mu.
func (s *Store) queueIdleTemplates(nowNanos int64) bool {
	var idle []candidate
	for _, e := range s.exporterList() {
		e.mu.RLock()
		idle = e.idleTemplates(nowNanos, idle)
		e.mu.RUnlock()
	}
	return queueByUse(&s.evictions.templates, idle)
}

// idleTemplates appends to idle the exporter's templates that decoded
// data, but none for TemplateIdle. The caller holds e.mu.
func (e *exporter) idleTemplates(nowNanos int64, idle []candidate) []candidate {
	for _, t := range e.templates {
		if reason, ok := e.store.unused(t, nowNanos); ok && reason == ReasonIdle {
			idle = append(idle, candidate{t, true})
		}
	}
	return idle
}

// queueByUse queues idle templates, least recently used first, and
// reports whether there were any.
func queueByUse(q *fifo[candidate], idle []candidate) bool {
	slices.SortFunc(idle, func(a, b candidate) int { return byTime(a.t.lastUsed.Load(), b.t.lastUsed.Load()) })
	for _, c := range idle {
		q.push(c)
	}
	return len(idle) > 0
}

func byTime(a, b int64) int { return int(min(max(a-b, -1), 1)) }

func (s *Store) exporterList() []*exporter {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := make([]*exporter, 0, len(s.exporters))
	for _, e := range s.exporters {
		list = append(list, e)
	}
	return list
}

// evictTemplate removes t if the exporter still holds it and it is still
// unused.
func (e *exporter) evictTemplate(t *storedTemplate, nowNanos int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed || e.templates[t.key] != t {
		return false
	}
	if _, ok := e.store.unused(t, nowNanos); !ok {
		return false // used meanwhile
	}
	e.drop(t)
	return true
}

// evictOwn evicts the exporter's own oldest unused template, to make room
// under MaxTemplatesPerExporter, and returns it for the caller to log once
// e.mu is released. The caller holds e.mu.
func (e *exporter) evictOwn(nowNanos int64) (eviction, bool) {
	s := e.store
	for {
		c, ok := e.own.next(&e.ownScan, nowNanos, e.queueIdle)
		if !ok {
			return eviction{}, false
		}
		if reason, ok := s.evictable(c, nowNanos); ok {
			e.drop(c.t)
			return s.evictions.evicted(reason, c.t), true
		}
	}
}

// queueIdle queues the exporter's templates idle for TemplateIdle, least
// recently used first. The caller holds e.mu.
func (e *exporter) queueIdle(nowNanos int64) bool {
	return queueByUse(&e.own, e.idleTemplates(nowNanos, nil))
}

// evictExporter removes an exporter none of whose templates decoded data
// for TemplateIdle (never, first) and, under the same lock, adds forAddr's
// state in its place, so that no other new exporter takes the room made
// for it. It returns forAddr's state, nil when no exporter may go. The
// caller holds no lock.
func (s *Store) evictExporter(nowNanos int64, forAddr record.Addr) *exporter {
	ev := &s.evictions
	var logged *exporter
	defer func() {
		if logged != nil {
			ev.logExporterEvicted(logged, forAddr) // runs after the unlock below
		}
	}()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for {
		victim, ok := ev.exporters.next(&ev.exportersScan, nowNanos, s.queueIdleExporters)
		if !ok {
			return nil
		}
		if victim.gone.Load() || !s.exporterUnused(victim, nowNanos) {
			continue
		}
		s.mu.Lock()
		e, added := s.insertLocked(forAddr, nowNanos) // room made meanwhile (expiry), or added by another worker
		switch {
		case e != nil:
			ev.exporters.push(victim) // not needed after all: it stays a candidate
			victim = nil
		case s.exporters[victim.addr] == victim:
			delete(s.exporters, victim.addr)
			e, added = s.insertLocked(forAddr, nowNanos)
		default:
			victim = nil // gone meanwhile
		}
		live := len(s.exporters)
		s.mu.Unlock()
		if added {
			ev.pushExporterLocked(e, live)
		}
		if victim != nil {
			victim.retire()
			s.changes.Add(1)
			ev.exportersEvicted.Add(1)
			logged = victim
		}
		if e != nil {
			return e
		}
	}
}

// logExporterEvicted logs an exporter evicted for forAddr. The caller holds
// no lock.
func (ev *evictions) logExporterEvicted(victim *exporter, forAddr record.Addr) {
	if ev.limiter == nil {
		return
	}
	key := "exporter_evicted"
	if victim.lastData.Load() != 0 {
		key += dataKey
	}
	if ok, suppressed := ev.limiter.Allow(key); ok {
		ev.log.Warn("exporter's template state evicted to make room for a new exporter (max-exporters reached): none of its templates decoded data for template-idle",
			"exporter", victim.addr.Netip(), "for", forAddr.Netip(), "suppressed", suppressed)
	}
}

// exporterUnused tells whether none of e's templates decoded data for
// TemplateIdle.
func (s *Store) exporterUnused(e *exporter, nowNanos int64) bool {
	last := e.lastData.Load()
	return last == 0 || nowNanos-last > int64(s.cfg.TemplateIdle)
}

// queueIdleExporters queues the exporters whose data stopped using their
// templates TemplateIdle ago, least recently first. The caller holds ev.mu.
func (s *Store) queueIdleExporters(nowNanos int64) bool {
	var idle []*exporter
	for _, e := range s.exporterList() {
		if e.lastData.Load() != 0 && s.exporterUnused(e, nowNanos) {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *exporter) int { return byTime(a.lastData.Load(), b.lastData.Load()) })
	for _, e := range idle {
		s.evictions.exporters.push(e)
	}
	return len(idle) > 0
}

// pushTemplate queues a template just added; live is the store's template
// count. The caller holds no exporter lock.
func (ev *evictions) pushTemplate(t *storedTemplate, live int) {
	ev.mu.Lock()
	ev.templates.push(candidate{t, false})
	ev.templates.compact(live, candidate.held)
	ev.mu.Unlock()
}

// pushExporter queues an exporter just added; live is the store's
// exporter count. The caller holds no lock.
func (ev *evictions) pushExporter(e *exporter, live int) {
	ev.mu.Lock()
	ev.pushExporterLocked(e, live)
	ev.mu.Unlock()
}

// pushExporterLocked is pushExporter for a caller holding ev.mu.
func (ev *evictions) pushExporterLocked(e *exporter, live int) {
	ev.exporters.push(e)
	ev.exporters.compact(live, func(e *exporter) bool { return !e.gone.Load() })
}

// eviction is a template evicted, logged once the locks are released.
type eviction struct {
	victim record.Addr
	key    TemplateKey
	reason string
	data   bool // the victim's exporter decodes data
}

// dataKey ends the limiter's key of a line about an exporter whose data
// uses its templates: such lines have their own budget, so that a flood's
// lines never crowd them out.
const dataKey = "_data"

// evicted counts an eviction of t and returns what to log.
func (ev *evictions) evicted(reason string, t *storedTemplate) eviction {
	if reason == ReasonIdle {
		ev.idle.Add(1)
	} else {
		ev.neverUsed.Add(1)
	}
	return eviction{t.e.addr, t.key, reason, t.e.lastData.Load() != 0}
}

// logEvicted logs an eviction made to make room for a template of
// forAddr; forData tells whether forAddr's data uses its templates. The
// caller holds no lock.
func (ev *evictions) logEvicted(x eviction, forAddr record.Addr, forData bool) {
	if ev.limiter == nil {
		return
	}
	key, msg := "evicted_never_used", "template evicted to make room: it never decoded a data record"
	if x.reason == ReasonIdle {
		key, msg = "evicted_idle", "template evicted to make room: it decoded no data record for template-idle"
	}
	if x.data || forData {
		key += dataKey
	}
	if ok, suppressed := ev.limiter.Allow(key); ok {
		ev.log.Warn(msg, "exporter", x.victim.Netip(), "version", x.key.Version, "domain", x.key.ObservationDomain,
			"template", x.key.TemplateID, "for", forAddr.Netip(), "reason", x.reason, "suppressed", suppressed)
	}
}

// refused logs a refusal (counted by the caller) of forAddr's template or
// state; data tells whether its data uses its templates. reason is one of
// the refusal metrics' reasons; key is the limiter's, "refused_" + reason.
// The caller holds no lock.
func (ev *evictions) refused(addr record.Addr, data bool, key, reason, msg string) {
	if ev.limiter == nil {
		return
	}
	if data {
		key += dataKey
	}
	if ok, suppressed := ev.limiter.Allow(key); ok {
		ev.log.Warn(msg, "exporter", addr.Netip(), "reason", reason, "suppressed", suppressed)
	}
}

// scanClock lets a scan run at most once a second of receive time.
// Receive times come from several workers and step back a little between
// them; only a step back of more than clockStepBack is taken for a clock
// change (which makes a scan due at once rather than a step later).
type scanClock struct {
	last    int64
	started bool
}

const clockStepBack = int64(time.Minute)

func (c *scanClock) due(nowNanos int64) bool {
	if d := nowNanos - c.last; c.started && d < int64(time.Second) && d >= -clockStepBack {
		return false
	}
	c.last, c.started = nowNanos, true
	return true
}

// fifo is a queue of eviction candidates in the order they were pushed.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) {
	if q.head > 0 && q.head >= len(q.items)/2 {
		// Reuse the popped half rather than growing: amortised, each
		// entry is moved at most once per pop of another.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, v)
}

func (q *fifo[T]) pop() (v T, ok bool) {
	if q.head == len(q.items) {
		return v, false
	}
	v = q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v, true
}

func (q *fifo[T]) len() int { return len(q.items) - q.head }

// next pops the oldest entry; when the queue is empty, it first lets
// refill queue more, if clock says a scan is due.
func (q *fifo[T]) next(clock *scanClock, nowNanos int64, refill func(nowNanos int64) bool) (T, bool) {
	for {
		if v, ok := q.pop(); ok {
			return v, true
		}
		if !clock.due(nowNanos) || !refill(nowNanos) {
			var zero T
			return zero, false
		}
	}
}

// compact drops the entries keep rejects once the queue is half as long
// again as live (about as many entries as can be alive) and a little more,
// and gives back the room a long queue left behind. Each compaction
// follows at least live/2 pushes: amortised, a few moves a push.
func (q *fifo[T]) compact(live int, keep func(T) bool) {
	if q.len() <= live+live/2+64 {
		return
	}
	n := 0
	for _, v := range q.items[q.head:] {
		if keep(v) {
			q.items[n] = v
			n++
		}
	}
	clear(q.items[n:])
	q.items, q.head = q.items[:n], 0
	if cap(q.items) > 2*n+64 {
		fitted := make([]T, n, n+n/4+16)
		copy(fitted, q.items)
		q.items = fitted
	}
}
