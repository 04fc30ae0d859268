// Package snmp enriches flow records with the names the exporters give
// themselves and their interfaces: sysName, and per ifIndex the IF-MIB
// ifName, ifAlias (the description) and speed, polled with SNMPv2c or
// SNMPv3 in the background and cached.
//
// Lookups (Interface, ExporterName) run on the per-record path: they never
// block, never do I/O and do not allocate. Each exporter's names live in an
// immutable snapshot swapped atomically when a poll succeeds, and the set of
// exporters is an immutable hash table replaced when one is added or
// forgotten.
// A lookup that misses is counted and, without waiting, asks the scheduler
// (through a bounded queue, once per exporter) to poll the exporter; the
// record goes on without the names. A failed poll keeps the names already
// cached, and the cache is written to the state directory so a restart
// shows names at once, even with the agents down.
package snmp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/background"
	"sluice/internal/reporter"
)

// Interface is what the cache knows about one interface of an exporter.
type Interface struct {
	Name        string // ifName (ifDescr when the agent has no ifName)
	Description string // ifAlias
	Speed       uint64 // bits per second; 0 when unknown
}

// exporter is one exporter known to the poller.
type exporter struct {
	addr netip.Addr
	key  addrKey
	cred *credential
	data atomic.Pointer[snapshot] // nil until a poll succeeds (or the cache is loaded)
	// lastSeen is the coarse clock (unix seconds) of the last lookup;
	// notBefore is the coarse clock before which a miss asks for no poll.
	lastSeen  atomic.Int64
	notBefore atomic.Int64

	// Owned by the scheduler goroutine.
	nextPoll time.Time
	failures int
	busy     bool // queued for, or in, a poll
	removed  bool // expired while busy: its result is dropped
}

// Tunables fixed outside tests.
const (
	// missRepoll is how soon a lookup of an interface the last poll did not
	// list asks for another poll (interfaces get added between polls), when
	// the interval is longer. Not sooner: some exporters put ifIndexes in
	// flows that no agent table lists, and each poll walks whole tables.
	missRepoll = 15 * time.Minute
	// backoffBase is the wait after the first failed poll of an exporter;
	// it doubles with each failure in a row, up to the interval.
	backoffBase = time.Minute
	// saveEvery is how often, at most, the cache is written when it changed.
	saveEvery = time.Minute
	// tick is how often the schedule is scanned and the coarse clock moves.
	tick = time.Second
	// requestQueue bounds the poll requests waiting for the scheduler.
	requestQueue = 1024
	// maxPollDuration bounds one poll, whatever the tables' size or the
	// agent's pace, so that one agent cannot hold a worker.
	maxPollDuration = 2 * time.Minute
	// maxInterfaces bounds the interfaces kept for one exporter.
	maxInterfaces = 1 << 16
	// stateFileName is the cache's file in the state directory.
	stateFileName = "snmp-cache.json"
)

// Poller polls exporters and answers lookups from its cache.
type Poller struct {
	r         *reporter.Reporter
	cfg       Config
	creds     []*credential
	statePath string // "" when nothing is persisted
	limiter   *reporter.Limiter
	metrics   metrics
	// Counters resolved once so that lookups do no label lookup.
	missNotPolled, missUnknownInterface, missExporterLimit prometheus.Counter

	exporters        atomic.Pointer[exporterTable]
	clock            atomic.Int64 // coarse unix seconds, advanced by run
	full             atomic.Bool  // max-exporters reached
	cachedExporters  atomic.Int64
	cachedInterfaces atomic.Int64

	requests chan netip.Addr
	// asked remembers, by hash, new exporters whose first poll was asked
	// for and not yet handled, so that a burst of lookups sends one request
	// without a lock. It is lossy: two exporters sharing a slot may each
	// ask twice, which the scheduler absorbs.
	asked [256]atomic.Uint64

	running atomic.Bool
	polling background.Work

	// Tunables; tests shorten them.
	missRepoll, backoffBase, saveEvery, tick time.Duration
}

// Dependencies is what a Poller is handed.
type Dependencies struct {
	// StateDir keeps the cache across restarts ("" keeps nothing on disk).
	StateDir string
}

// New builds a Poller and loads the cache persisted in the state
// directory. It starts nothing: Start polls.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Poller, error) {
	r = r.Package()
	stateDir := deps.StateDir
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("snmp: %w", err)
	}
	creds, err := resolveCredentials(cfg.Credentials)
	if err != nil {
		return nil, fmt.Errorf("snmp: %w", err)
	}
	p := &Poller{
		r:           r,
		cfg:         cfg,
		creds:       creds,
		limiter:     r.NewLimiter(5, time.Minute),
		requests:    make(chan netip.Addr, requestQueue),
		missRepoll:  min(missRepoll, cfg.Interval),
		backoffBase: backoffBase,
		saveEvery:   saveEvery,
		tick:        tick,
	}
	p.exporters.Store(newExporterTable(nil))
	p.clock.Store(time.Now().Unix())
	if err := p.registerMetrics(); err != nil {
		return nil, err
	}
	p.missNotPolled = p.metrics.missReasons[missNotPolled]
	p.missUnknownInterface = p.metrics.missReasons[missUnknownInterface]
	p.missExporterLimit = p.metrics.missReasons[missExporterLimit]
	if stateDir != "" && cfg.Enabled {
		if err := os.MkdirAll(stateDir, 0o750); err != nil {
			return nil, fmt.Errorf("snmp: state directory: %w", err)
		}
		p.statePath = filepath.Join(stateDir, stateFileName)
		p.load(time.Now())
	}
	return p, nil
}

// Interface returns the cached names and speed of interface ifIndex of
// exporter. It never blocks and does not allocate. On a miss it counts the
// miss and asks, without waiting, for a poll of the exporter: once for an
// exporter not yet known, and at most once per min(15m, interval) for an
// interface the last poll did not list. ifIndex 0 (no interface) is no
// lookup at all.
func (p *Poller) Interface(exporter netip.Addr, ifIndex uint32) (Interface, bool) {
	if !p.cfg.Enabled || ifIndex == 0 {
		return Interface{}, false
	}
	e := p.exporters.Load().get(keyOf(exporter))
	if e == nil {
		p.metrics.misses.Inc()
		if p.requestNew(exporter) {
			p.missNotPolled.Inc()
		} else {
			p.missExporterLimit.Inc()
		}
		return Interface{}, false
	}
	p.touch(e)
	s := e.data.Load()
	if s != nil {
		if iface, ok := s.lookup(ifIndex); ok {
			p.metrics.hits.Inc()
			return iface, true
		}
		p.missUnknownInterface.Inc()
	} else {
		p.missNotPolled.Inc()
	}
	p.metrics.misses.Inc()
	p.requestRepoll(e)
	return Interface{}, false
}

// ExporterName returns the exporter's sysName, from the cache, like
// Interface.
func (p *Poller) ExporterName(exporter netip.Addr) (string, bool) {
	if !p.cfg.Enabled {
		return "", false
	}
	e := p.exporters.Load().get(keyOf(exporter))
	if e == nil {
		p.metrics.nameMisses.Inc()
		p.requestNew(exporter)
		return "", false
	}
	p.touch(e)
	if s := e.data.Load(); s != nil && s.sysName != "" {
		p.metrics.nameHits.Inc()
		return s.sysName, true
	}
	p.metrics.nameMisses.Inc()
	p.requestRepoll(e)
	return "", false
}

// touch records a lookup of e for expiry, writing only when the coarse
// clock moved so that lookups on many cores do not fight over the line.
func (p *Poller) touch(e *exporter) {
	now := p.clock.Load()
	if e.lastSeen.Load() != now {
		e.lastSeen.Store(now)
	}
}

// requestNew asks for the first poll of an exporter not yet known, once,
// without a lock: it reports false when max-exporters is reached.
func (p *Poller) requestNew(exporter netip.Addr) bool {
	if p.full.Load() {
		return false
	}
	addr := exporter.Unmap()
	if !addr.IsValid() {
		return true
	}
	h, slot := p.askedSlot(addr)
	if slot.Load() == h {
		return true
	}
	// Marked before sending, so that the scheduler's unmarking, after it
	// received the request, cannot come first and leave the mark behind.
	slot.Store(h)
	select {
	case p.requests <- addr:
	default:
		slot.CompareAndSwap(h, 0)
		p.metrics.dropped.Inc()
	}
	return true
}

// askedSlot is addr's mark (never 0, the empty slot) and its slot.
func (p *Poller) askedSlot(addr netip.Addr) (uint64, *atomic.Uint64) {
	key := keyOf(addr)
	h := key.hash() | 1
	return h, &p.asked[h>>56]
}

// requestRepoll asks for a poll of a known exporter unless one was asked
// for or done recently, or the exporter is backing off after failures.
func (p *Poller) requestRepoll(e *exporter) {
	now := p.clock.Load()
	notBefore := e.notBefore.Load()
	if now < notBefore || !e.notBefore.CompareAndSwap(notBefore, now+int64(p.missRepoll/time.Second)) {
		return
	}
	select {
	case p.requests <- e.addr:
	default:
		p.metrics.dropped.Inc()
	}
}

// pollResult is what a worker hands back to the scheduler.
type pollResult struct {
	e        *exporter
	snap     *snapshot
	err      error
	duration time.Duration
}

// Start polls in the background until Stop.
func (p *Poller) Start(context.Context) error {
	p.polling.Start(p.run)
	return nil
}

// Stop ends the polling and waits for it, the cache written on the way
// out.
func (p *Poller) Stop(ctx context.Context) error {
	if err := p.polling.Stop(ctx); err != nil {
		return fmt.Errorf("snmp: %w", err)
	}
	return nil
}

// run polls until ctx ends: Workers goroutines poll, and this one
// schedules (first polls asked for by lookups, re-polls every interval,
// backoff after failures), forgets expired exporters and writes the cache.
// It writes the cache once more before returning nil.
func (p *Poller) run(ctx context.Context) error {
	if !p.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("snmp: started twice")
	}
	jobs := make(chan *exporter)
	results := make(chan pollResult, p.cfg.Workers)
	var wg sync.WaitGroup
	for range p.cfg.Workers {
		wg.Go(func() {
			for e := range jobs {
				start := time.Now()
				pollCtx, cancel := context.WithTimeout(ctx, maxPollDuration)
				snap, err := p.poll(pollCtx, e)
				cancel()
				results <- pollResult{e: e, snap: snap, err: err, duration: time.Since(start)}
			}
		})
	}
	s := &scheduler{p: p, lastSave: time.Now()}
	s.scan(time.Now())
	ticker := time.NewTicker(p.tick)
	defer ticker.Stop()
loop:
	for {
		var out chan<- *exporter
		var next *exporter
		if len(s.queue) > 0 {
			out, next = jobs, s.queue[0]
		}
		select {
		case <-ctx.Done():
			break loop
		case addr := <-p.requests:
			s.onRequests(addr, time.Now())
		case res := <-results:
			s.onResult(ctx, res)
		case out <- next:
			s.queue[0] = nil
			s.queue = s.queue[1:]
		case now := <-ticker.C:
			p.clock.Store(now.Unix())
			s.scan(now)
			if s.dirty && now.Sub(s.lastSave) >= p.saveEvery {
				s.save(now)
			}
		}
	}
	// Workers finish their poll (cut short by ctx) and hand back the
	// result; reading them while they finish means none blocks on a full
	// results channel.
	close(jobs)
	go func() {
		wg.Wait()
		close(results)
	}()
	for res := range results {
		s.onResult(ctx, res)
	}
	if s.dirty {
		s.save(time.Now())
	}
	return nil
}

// scheduler is run's state, touched by run's goroutine only.
type scheduler struct {
	p        *Poller
	queue    []*exporter // due, waiting for a worker
	dirty    bool        // the cache changed since the last save
	lastSave time.Time
}

func (s *scheduler) enqueue(e *exporter, now time.Time) {
	e.busy = true
	// No lookup needs to ask while the poll is queued or running.
	e.notBefore.Store(now.Add(s.p.missRepoll).Unix())
	s.queue = append(s.queue, e)
}

// onRequests handles a request and every other one already waiting, and
// publishes the new exporters in one copy of the map.
func (s *scheduler) onRequests(first netip.Addr, now time.Time) {
	p := s.p
	current := p.exporters.Load()
	var added map[addrKey]*exporter
	handled := []netip.Addr{}
	handle := func(addr netip.Addr) {
		handled = append(handled, addr)
		key := keyOf(addr)
		e := current.get(key)
		if e == nil {
			e = added[key]
		}
		if e != nil {
			if !e.busy {
				s.enqueue(e, now)
			}
			return
		}
		if current.n+len(added) >= p.cfg.MaxExporters {
			if !p.full.Swap(true) {
				p.r.Warn("max-exporters reached: further exporters get no SNMP names", "max_exporters", p.cfg.MaxExporters)
			}
			return
		}
		if added == nil {
			added = map[addrKey]*exporter{}
		}
		e = &exporter{addr: addr, key: key, cred: credentialFor(p.creds, addr)}
		e.lastSeen.Store(now.Unix())
		added[key] = e
		s.enqueue(e, now)
	}
	handle(first)
drain:
	for {
		select {
		case addr := <-p.requests:
			handle(addr)
		default:
			break drain
		}
	}
	if len(added) > 0 {
		p.exporters.Store(newExporterTable(slices.AppendSeq(current.list(), maps.Values(added))))
	}
	// Unmarked once published: a lookup finds the exporter in the table
	// or, if refused, may ask again.
	for _, addr := range handled {
		h, slot := p.askedSlot(addr)
		slot.CompareAndSwap(h, 0)
	}
}

// onResult stores a successful poll or schedules the retry of a failed one.
func (s *scheduler) onResult(ctx context.Context, res pollResult) {
	p, e := s.p, res.e
	e.busy = false
	if e.removed {
		return
	}
	now := time.Now()
	if res.err != nil && ctx.Err() != nil {
		// Cut short by shutdown: not the exporter's fault.
		e.nextPoll = now
		return
	}
	p.metrics.pollDuration.Observe(res.duration.Seconds())
	result := resultOK
	switch {
	case res.err != nil:
		result = classify(res.err)
	case res.snap.count == 0 && res.snap.sysName == "":
		result = resultEmpty
	}
	p.metrics.polls.WithLabelValues(result).Inc()
	if result != resultOK {
		e.failures++
		backoff := min(p.backoffBase<<min(e.failures-1, 20), p.cfg.Interval)
		e.nextPoll = now.Add(backoff)
		e.notBefore.Store(e.nextPoll.Unix())
		args := []any{"exporter", e.addr.String(), "result", result, "failures_in_a_row", e.failures, "retry_in", backoff.String()}
		args = append(args, e.cred.logAttrs()...)
		if res.err != nil {
			args = append(args, "error", res.err.Error())
		}
		if old := e.data.Load(); old != nil {
			args = append(args, "keeping_names_polled_at", old.polledAt.UTC().Format(time.RFC3339))
		}
		p.limiter.Log(p.r.Logger, "poll-"+result, "SNMP poll failed: "+hint(result), args...)
		return
	}
	old := e.data.Swap(res.snap)
	if old == nil || e.failures > 0 {
		p.r.Info("SNMP names polled", "exporter", e.addr.String(), "sys_name", res.snap.sysName,
			"interfaces", res.snap.count, "after_failures", e.failures)
	}
	delta := int64(res.snap.count)
	if old == nil {
		p.cachedExporters.Add(1)
	} else {
		delta -= int64(old.count)
	}
	p.cachedInterfaces.Add(delta)
	e.failures = 0
	// A little jitter spreads exporters first polled together.
	e.nextPoll = now.Add(p.cfg.Interval - rand.N(p.cfg.Interval/10+1))
	e.notBefore.Store(now.Add(p.missRepoll).Unix())
	s.dirty = true
	p.r.Debug("SNMP poll", "exporter", e.addr.String(), "sys_name", res.snap.sysName,
		"interfaces", res.snap.count, "duration", res.duration.String())
}

// scan queues the exporters due for a poll and forgets the expired ones.
func (s *scheduler) scan(now time.Time) {
	p := s.p
	current := p.exporters.Load()
	expiredBefore := now.Add(-p.cfg.Expire).Unix()
	// Every tick: walk the slots, allocating nothing unless some expired.
	var expired []*exporter
	for i := range current.slots {
		e := current.slots[i].e
		if e == nil {
			continue
		}
		if e.lastSeen.Load() < expiredBefore {
			expired = append(expired, e)
			continue
		}
		if !e.busy && !now.Before(e.nextPoll) {
			s.enqueue(e, now)
		}
	}
	if len(expired) == 0 {
		return
	}
	for _, e := range expired {
		e.removed = true
	}
	next := newExporterTable(slices.DeleteFunc(current.list(), func(e *exporter) bool { return e.removed }))
	for _, e := range expired {
		if old := e.data.Load(); old != nil {
			p.cachedExporters.Add(-1)
			p.cachedInterfaces.Add(-int64(old.count))
		}
	}
	p.exporters.Store(next)
	p.metrics.expired.Add(float64(len(expired)))
	if next.n < p.cfg.MaxExporters {
		p.full.Store(false)
	}
	s.dirty = true
	p.r.Info("forgot exporters no lookup asked about", "exporters", len(expired), "expire", p.cfg.Expire.String())
}

func (s *scheduler) save(now time.Time) {
	s.lastSave = now
	if s.p.statePath == "" {
		s.dirty = false
		return
	}
	if err := s.p.save(); err != nil {
		s.p.metrics.stateWrites.WithLabelValues("error").Inc()
		s.p.limiter.Log(s.p.r.Logger, "state-write", "cannot write the SNMP cache; names will be polled again after a restart",
			"path", s.p.statePath, "error", err.Error())
		return
	}
	s.p.metrics.stateWrites.WithLabelValues("ok").Inc()
	s.dirty = false
}
