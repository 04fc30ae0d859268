// Package templates keeps the per-exporter state that NetFlow v9 and IPFIX
// decoding needs between datagrams: the templates that describe data records,
// and the sampling rates and interface names announced in options data
// records.
//
// State is keyed by the exporter's address and, inside it, by NetFlow
// version, observation domain (v9 source ID) and template or sampler ID. The
// UDP source port is deliberately not part of the key: exporters that send
// from several ports (one per line card or per process restart) share their
// templates, as the observation domain already tells their template spaces
// apart.
//
// Source addresses are easy to spoof, so the state is bounded as a whole:
//   - an exporter gets state only once it has something to keep (a template
//     accepted or a sampling rate learned); looking up an unknown exporter
//     neither allocates nor inserts;
//   - at most MaxExporters exporters, MaxTemplateFields template fields and
//     MaxSamplingRates sampling rates are held in total, besides the
//     per-exporter bounds; what does not fit is refused and counted;
//   - an exporter not seen for ExporterIdle is removed. Expiry needs no
//     goroutine: Handle sweeps the store at most every ExporterIdle/4,
//     measured with the receive times it is given, and Expire sweeps on
//     demand;
//   - when a bound is reached, room is made by evicting what data does not
//     use (evict.go): a template that never decoded a data record, or has
//     not for TemplateIdle, goes first, the oldest first; an exporter none
//     of whose templates decoded data for TemplateIdle goes before a new
//     exporter is refused. Only when everything held is in use is a new
//     template (or exporter) refused. Evictions and refusals are counted
//     and logged (rate-limited), naming the exporter.
//
// Everything lives in memory; Snapshot and Restore, and WriteFile and
// ReadFile (a JSON file replaced atomically), let the collector persist the
// state across restarts. The stored template values are goflow2's plain
// template structs.
package templates

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

// Config bounds the state kept.
type Config struct {
	// MaxTemplatesPerExporter is the most templates (data and options) one
	// exporter may have across its observation domains; further new
	// templates are refused and counted. Default 4096.
	MaxTemplatesPerExporter int `yaml:"max-templates-per-exporter"`
	// MaxSamplingRatesPerExporter bounds the sampler entries learned from
	// one exporter's options data. Default 4096.
	MaxSamplingRatesPerExporter int `yaml:"max-sampling-rates-per-exporter"`
	// MaxExporters bounds how many exporters have state. Default 10 000.
	MaxExporters int `yaml:"max-exporters"`
	// MaxTemplateFields bounds the fields (scope and option fields
	// included) of all templates of all exporters. Default 1 000 000.
	MaxTemplateFields int `yaml:"max-template-fields"`
	// MaxSamplingRates bounds the sampler entries of all exporters.
	// Default 100 000.
	MaxSamplingRates int `yaml:"max-sampling-rates"`
	// MaxInterfacesPerExporter bounds the interfaces whose names (IE 82,
	// 83) one exporter's options data announce. Default 4096.
	MaxInterfacesPerExporter int `yaml:"max-interfaces-per-exporter"`
	// MaxInterfaces bounds the interfaces with names of all exporters.
	// Default 100 000.
	MaxInterfaces int `yaml:"max-interfaces"`
	// ExporterIdle is how long an exporter's state is kept after its last
	// datagram. Default 1h.
	ExporterIdle time.Duration `yaml:"exporter-idle"`
	// TemplateIdle is how long after it last decoded a data record a
	// template counts as unused: when a bound is reached, templates that
	// never decoded data, then those unused for TemplateIdle, are evicted
	// to make room (and exporters none of whose templates decoded data for
	// that long). Default 15m.
	TemplateIdle time.Duration `yaml:"template-idle"`
	// MaxStateBytes bounds the size of the persisted state
	// (templates.json). The exporters whose templates decoded data come
	// first, the most recent data first, with those templates, their
	// sampling rates and interface names; the rest (templates that never
	// decoded data, and the rates and names of exporters none of whose
	// templates did) take at most a quarter of the bound, exporters seen
	// most recently first; what does not fit is left out (and counted).
	// Default 32 MiB.
	MaxStateBytes int `yaml:"max-state-bytes"`
	// SaveInterval is how often the state is written to the data
	// directory when it has changed (and always at stop), so that a
	// restart loses no template. Default 10s.
	SaveInterval time.Duration `yaml:"save-interval"`
}

// Validate names each bad key.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		key   string
		value int
	}{
		{"max-templates-per-exporter", c.MaxTemplatesPerExporter},
		{"max-sampling-rates-per-exporter", c.MaxSamplingRatesPerExporter},
		{"max-exporters", c.MaxExporters},
		{"max-template-fields", c.MaxTemplateFields},
		{"max-sampling-rates", c.MaxSamplingRates},
		{"max-interfaces-per-exporter", c.MaxInterfacesPerExporter},
		{"max-interfaces", c.MaxInterfaces},
	} {
		if f.value < 1 {
			errs = append(errs, fmt.Errorf("%s: must be at least 1, got %d", f.key, f.value))
		}
	}
	if c.ExporterIdle < time.Minute {
		errs = append(errs, fmt.Errorf("exporter-idle: must be at least 1m, got %s", c.ExporterIdle))
	}
	if c.TemplateIdle < time.Minute {
		errs = append(errs, fmt.Errorf("template-idle: must be at least 1m, got %s", c.TemplateIdle))
	}
	if c.MaxStateBytes < minStateBytes {
		errs = append(errs, fmt.Errorf("max-state-bytes: must be at least %d, got %d", minStateBytes, c.MaxStateBytes))
	}
	if c.SaveInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("save-interval: must be at least 100ms, got %s", c.SaveInterval))
	}
	return errors.Join(errs...)
}

// DefaultConfig returns the default bounds.
func DefaultConfig() Config {
	return Config{
		MaxTemplatesPerExporter:     4096,
		MaxSamplingRatesPerExporter: 4096,
		MaxExporters:                10_000,
		MaxTemplateFields:           1_000_000,
		MaxSamplingRates:            100_000,
		MaxInterfacesPerExporter:    4096,
		MaxInterfaces:               100_000,
		ExporterIdle:                time.Hour,
		TemplateIdle:                15 * time.Minute,
		MaxStateBytes:               32 << 20,
		SaveInterval:                10 * time.Second,
	}
}

// minStateBytes is the least MaxStateBytes: room for a few exporters.
const minStateBytes = 4096

// Store holds the state of every exporter. It is safe for concurrent use.
type Store struct {
	cfg        Config
	sweepEvery int64 // nanoseconds between lazy sweeps
	lastSweep  atomic.Int64

	mu        sync.RWMutex
	exporters map[record.Addr]*exporter

	// Totals over all exporters, changed under the owning exporter's lock.
	templates, fields, sampling atomic.Int64
	interfaceCount              atomic.Int64

	// changes counts changes of templates and sampling rates (not of
	// last-seen times), so that a persister writes only when needed.
	changes atomic.Uint64

	refusedPerExporter, refusedTotal, invalid atomic.Uint64
	samplingRefused                           atomic.Uint64
	exportersRefused, exportersExpired        atomic.Uint64
	interfacesRefused                         atomic.Uint64

	evictions evictions // evict.go
}

// NewStore returns an empty store. Zero bounds in cfg take their defaults.
func NewStore(cfg Config) *Store {
	def := DefaultConfig()
	orDefault := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	orDefault(&cfg.MaxTemplatesPerExporter, def.MaxTemplatesPerExporter)
	orDefault(&cfg.MaxSamplingRatesPerExporter, def.MaxSamplingRatesPerExporter)
	orDefault(&cfg.MaxExporters, def.MaxExporters)
	orDefault(&cfg.MaxTemplateFields, def.MaxTemplateFields)
	orDefault(&cfg.MaxSamplingRates, def.MaxSamplingRates)
	orDefault(&cfg.MaxInterfacesPerExporter, def.MaxInterfacesPerExporter)
	orDefault(&cfg.MaxInterfaces, def.MaxInterfaces)
	orDefault(&cfg.MaxStateBytes, def.MaxStateBytes)
	if cfg.ExporterIdle <= 0 {
		cfg.ExporterIdle = def.ExporterIdle
	}
	if cfg.TemplateIdle <= 0 {
		cfg.TemplateIdle = def.TemplateIdle
	}
	if cfg.SaveInterval <= 0 {
		cfg.SaveInterval = def.SaveInterval
	}
	return &Store{
		cfg:        cfg,
		sweepEvery: int64(cfg.ExporterIdle / 4),
		exporters:  make(map[record.Addr]*exporter),
	}
}

// Handle returns the view of one exporter's state used while decoding one
// datagram received at nowNanos (Unix nanoseconds). It marks a known
// exporter as seen and, at most every ExporterIdle/4, expires idle
// exporters. An unknown exporter gets no state until the handle stores a
// template or a sampling rate.
func (s *Store) Handle(addr record.Addr, nowNanos int64) Handle {
	if last := s.lastSweep.Load(); nowNanos-last >= s.sweepEvery && s.lastSweep.CompareAndSwap(last, nowNanos) {
		s.expire(nowNanos)
	}
	e := s.lookup(addr)
	if e != nil && e.lastSeen.Load() < nowNanos {
		e.lastSeen.Store(nowNanos)
	}
	return Handle{store: s, addr: addr, now: nowNanos, e: e}
}

// Changes returns a number that grows whenever a template or sampling rate
// is added, changed or removed (expiry included). Receiving an identical
// template again is no change.
func (s *Store) Changes() uint64 { return s.changes.Load() }

// Expire removes the exporters not seen for ExporterIdle before now and
// returns how many it removed. Handle already calls it lazily; calling it
// from a timer as well is harmless.
func (s *Store) Expire(now time.Time) int {
	return s.expire(now.UnixNano())
}

func (s *Store) expire(nowNanos int64) int {
	cutoff := nowNanos - int64(s.cfg.ExporterIdle)
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := 0
	for addr, e := range s.exporters {
		if e.lastSeen.Load() < cutoff {
			delete(s.exporters, addr)
			e.retire()
			removed++
		}
	}
	if removed > 0 {
		s.changes.Add(1)
	}
	s.exportersExpired.Add(uint64(removed))
	return removed
}

func (s *Store) lookup(addr record.Addr) *exporter {
	s.mu.RLock()
	e := s.exporters[addr]
	s.mu.RUnlock()
	return e
}

// create returns the exporter's state, creating it when the store has room
// or room can be made by evicting an exporter whose data uses none of its
// templates; nil when neither (counted and logged). The eviction and the
// insertion happen under one lock, so no other new exporter can take the
// room made for this one.
func (s *Store) create(addr record.Addr, nowNanos int64) *exporter {
	if e, full := s.insert(addr, nowNanos); !full {
		return e
	}
	if e := s.evictExporter(nowNanos, addr); e != nil {
		return e
	}
	s.exportersRefused.Add(1)
	s.evictions.refused(addr, false, "refused_max_exporters", "max_exporters", "new exporter refused: every exporter held decodes data (max-exporters reached)")
	return nil
}

// insert adds the exporter's state unless the store holds MaxExporters
// (full).
func (s *Store) insert(addr record.Addr, nowNanos int64) (e *exporter, full bool) {
	s.mu.Lock()
	e, added := s.insertLocked(addr, nowNanos)
	n := len(s.exporters)
	s.mu.Unlock()
	if added {
		s.evictions.pushExporter(e, n)
	}
	return e, e == nil
}

// insertLocked returns the exporter's state, adding it (added) unless the
// store holds MaxExporters (nil). The caller holds s.mu and queues an
// added exporter for eviction.
func (s *Store) insertLocked(addr record.Addr, nowNanos int64) (e *exporter, added bool) {
	if e, ok := s.exporters[addr]; ok {
		return e, false
	}
	if len(s.exporters) >= s.cfg.MaxExporters {
		return nil, false
	}
	e = &exporter{store: s, addr: addr}
	e.lastSeen.Store(nowNanos)
	s.exporters[addr] = e
	return e, true
}

// Stats is a point-in-time summary of the store, for metrics. The counters
// count since the store was created.
type Stats struct {
	Exporters      int
	Templates      int
	TemplateFields int
	SamplingRates  int
	Interfaces     int // interfaces with names from options data

	TemplatesRefusedPerExporter uint64 // the exporter had MaxTemplatesPerExporter templates, all in use
	TemplatesRefusedTotal       uint64 // MaxTemplateFields were held in total, all in use
	TemplatesEvictedNeverUsed   uint64 // evicted to make room: had never decoded a data record
	TemplatesEvictedIdle        uint64 // evicted to make room: had decoded none for TemplateIdle
	ExportersEvicted            uint64 // evicted to make room for a new exporter: no data for TemplateIdle
	TemplatesInvalid            uint64 // describe zero-length records (withdrawals included)
	SamplingRatesRefused        uint64 // a per-exporter or the total bound was reached
	ExportersRefused            uint64 // state for a new exporter refused: MaxExporters were held, all decoding data
	ExportersExpired            uint64 // removed after ExporterIdle without a datagram
	InterfacesRefused           uint64 // interface names refused: a per-exporter or the total bound was reached
}

// Stats summarises the store. It takes no exporter lock.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	n := len(s.exporters)
	s.mu.RUnlock()
	return Stats{
		Exporters:                   n,
		Templates:                   int(s.templates.Load()),
		TemplateFields:              int(s.fields.Load()),
		SamplingRates:               int(s.sampling.Load()),
		Interfaces:                  int(s.interfaceCount.Load()),
		InterfacesRefused:           s.interfacesRefused.Load(),
		TemplatesRefusedPerExporter: s.refusedPerExporter.Load(),
		TemplatesRefusedTotal:       s.refusedTotal.Load(),
		TemplatesInvalid:            s.invalid.Load(),
		SamplingRatesRefused:        s.samplingRefused.Load(),
		ExportersRefused:            s.exportersRefused.Load(),
		ExportersExpired:            s.exportersExpired.Load(),
		TemplatesEvictedNeverUsed:   s.evictions.neverUsed.Load(),
		TemplatesEvictedIdle:        s.evictions.idle.Load(),
		ExportersEvicted:            s.evictions.exportersEvicted.Load(),
	}
}

// ExporterTemplates returns how many templates the exporter holds now (0
// when it has no state), for its per-exporter metric.
func (s *Store) ExporterTemplates(addr record.Addr) int {
	e := s.lookup(addr)
	if e == nil {
		return 0
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.templates)
}

// TemplateKey identifies a template inside one exporter.
type TemplateKey struct {
	Version           uint16 `json:"version"` // 9 or 10
	ObservationDomain uint32 `json:"domain"`
	TemplateID        uint16 `json:"id"`
}

// SamplerKey identifies a sampling rate inside one exporter. SamplerID is 0
// when the options record names no sampler: that rate applies to every flow
// of the observation domain that carries no sampler ID of its own.
type SamplerKey struct {
	Version           uint16 `json:"version"`
	ObservationDomain uint32 `json:"domain"`
	SamplerID         uint64 `json:"sampler"`
}

// exporter is the state of one exporter.
type exporter struct {
	store    *Store
	addr     record.Addr
	lastSeen atomic.Int64 // Unix nanoseconds
	lastData atomic.Int64 // when one of its templates last decoded data; 0: never
	gone     atomic.Bool  // removed from the store (expired or evicted)

	mu         sync.RWMutex
	removed    bool // expired: a handle holding it must go back to the store
	templates  map[TemplateKey]*storedTemplate
	sampling   map[SamplerKey]uint64
	interfaces map[InterfaceKey]InterfaceNames
	// own holds its templates in the order they were added, for its own
	// bound's evictions (evict.go); ownScan is when its templates were
	// last searched for idle ones.
	own     fifo[candidate]
	ownScan scanClock
}

// storedTemplate is one template held. Its template value is never
// modified; a template received again with other fields is a new
// storedTemplate.
type storedTemplate struct {
	e        *exporter // its exporter, for the store's eviction queue
	key      TemplateKey
	template any
	fields   int
	lastUsed atomic.Int64 // receive time of the last datagram whose data it decoded; 0: never
	gone     atomic.Bool  // no longer in its exporter's map
}

// retire empties an exporter removed from the store and gives its share of
// the totals back.
func (e *exporter) retire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.removed = true
	e.gone.Store(true)
	for _, t := range e.templates {
		e.store.fields.Add(-int64(t.fields))
		t.gone.Store(true)
	}
	e.own = fifo[candidate]{}
	e.store.templates.Add(-int64(len(e.templates)))
	e.store.sampling.Add(-int64(len(e.sampling)))
	e.store.interfaceCount.Add(-int64(len(e.interfaces)))
	e.templates, e.sampling, e.interfaces = nil, nil, nil
}

// storeResult says what became of a template or sampling rate to store.
type storeResult uint8

const (
	stored  storeResult = iota // stored, or already held unchanged
	refused                    // beyond a bound (counted)
	retired                    // the exporter was removed meanwhile: start again from the store
	full                       // the total bound is reached: make room (evict.go), then try again
)

// addTemplate stores a template within the bounds, evicting one of the
// exporter's own unused templates when it holds MaxTemplatesPerExporter.
// lastUsed is the template's last use (restored state; 0 for a new one);
// evict false refuses rather than evicts (a restore, which adds the
// freshest state first). It returns the template added, for the store's
// eviction queue (pushed by the caller, outside the exporter's lock), and
// when the result is full, the fields it needs room for.
//
// reserved is how many fields makeRoom already added to the total for it:
// addTemplate settles them whatever the result (takes only the difference,
// or gives them back).
//
// A template of its own evicted for room is returned in own (reason ""
// when none), for the caller to log once e.mu is released.
func (e *exporter) addTemplate(key TemplateKey, template any, fields int, lastUsed, nowNanos int64, evict bool, reserved int64) (result storeResult, added *storedTemplate, need int64, own eviction) {
	s := e.store
	e.mu.Lock()
	defer e.mu.Unlock()
	giveBack := reserved
	defer func() { s.fields.Add(-giveBack) }()
	if e.removed {
		return retired, nil, 0, own
	}
	old, exists := e.templates[key]
	if exists && sameTemplate(old.template, template) {
		return stored, nil, 0, own // the usual periodic refresh: nothing changes
	}
	if !exists && len(e.templates) >= s.cfg.MaxTemplatesPerExporter {
		var ok bool
		if evict {
			own, ok = e.evictOwn(nowNanos)
		}
		if !ok {
			s.refusedPerExporter.Add(1)
			return refused, nil, 0, own
		}
	}
	oldFields := 0
	if exists {
		oldFields = old.fields
		// Still the template the exporter's data uses, redefined.
		lastUsed = max(lastUsed, old.lastUsed.Load())
	}
	need = int64(fields - oldFields)
	if !take(&s.fields, need-reserved, int64(s.cfg.MaxTemplateFields)) {
		return full, nil, need, own
	}
	giveBack = 0
	if e.templates == nil {
		e.templates = make(map[TemplateKey]*storedTemplate)
	}
	t := &storedTemplate{e: e, key: key, template: template, fields: fields}
	t.lastUsed.Store(lastUsed)
	e.templates[key] = t
	s.changes.Add(1)
	if exists {
		old.gone.Store(true) // its entries in the eviction queues are dead: the new one goes at the back
	} else {
		s.templates.Add(1)
	}
	e.own.push(candidate{t, false})
	e.own.compact(len(e.templates), candidate.held)
	return stored, t, 0, own
}

func (e *exporter) removeTemplate(key TemplateKey) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.templates[key]
	if !ok {
		return nil, false
	}
	e.drop(t)
	return t.template, true
}

// drop removes a held template; the caller holds e.mu.
func (e *exporter) drop(t *storedTemplate) {
	delete(e.templates, t.key)
	t.gone.Store(true)
	e.store.templates.Add(-1)
	e.store.fields.Add(-int64(t.fields))
	e.store.changes.Add(1)
}

func (e *exporter) setSamplingRate(key SamplerKey, rate uint64) storeResult {
	s := e.store
	return setBounded(e, &e.sampling, key, rate, s.cfg.MaxSamplingRatesPerExporter, &s.sampling, s.cfg.MaxSamplingRates, &s.samplingRefused)
}

// setBounded stores value under key in one of the exporter's maps, within
// the per-exporter bound and the store's total (count against limit);
// what is refused is counted. Updating a known key is never refused.
func setBounded[K, V comparable](e *exporter, m *map[K]V, key K, value V, perExporter int,
	count *atomic.Int64, limit int, refusedCount *atomic.Uint64) storeResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return retired
	}
	old, exists := (*m)[key]
	if exists && old == value {
		return stored
	}
	if !exists {
		if len(*m) >= perExporter || !take(count, 1, int64(limit)) {
			refusedCount.Add(1)
			return refused
		}
	}
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[key] = value
	e.store.changes.Add(1)
	return stored
}

// take adds n to total unless that would exceed limit. A negative n always
// succeeds.
func take(total *atomic.Int64, n, limit int64) bool {
	for {
		cur := total.Load()
		if n > 0 && cur+n > limit {
			return false
		}
		if total.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// Handle is one exporter's view of the store while one datagram is decoded.
// It implements goflow2's netflow.NetFlowTemplateSystem, so it can be handed
// to the goflow2 decoder directly; a pointer to a Handle kept in reused
// memory converts to that interface without allocating.
//
// A Handle is used by one goroutine at a time; the collector routes an
// exporter's datagrams to one worker, which keeps templates and data in
// order.
type Handle struct {
	store *Store
	addr  record.Addr
	now   int64
	e     *exporter // nil until the exporter has state
}

var _ netflow.NetFlowTemplateSystem = (*Handle)(nil)

// exporter returns the exporter's state, nil if it has none.
func (h *Handle) exporter() *exporter {
	if h.e == nil {
		h.e = h.store.lookup(h.addr)
	}
	return h.e
}

// AddTemplate stores or replaces a template, creating the exporter's state
// if needed. A template beyond a bound is refused and counted, but no error
// is returned: an error would make goflow2 abandon the rest of the
// datagram, and the data sets that need the refused template are counted
// as missing templates anyway.
//
// A template whose records would have zero length (no fields, as in an IPFIX
// template withdrawal, or only zero-length fields) removes the template:
// goflow2 would loop forever decoding a data set against it.
func (h *Handle) AddTemplate(version uint16, obsDomainID uint32, templateID uint16, template any) error {
	key := TemplateKey{version, obsDomainID, templateID}
	fields, valid := templateFields(template)
	if !valid {
		h.store.invalid.Add(1)
		if e := h.exporter(); e != nil {
			e.removeTemplate(key)
		}
		return nil
	}
	s := h.store
	h.update(func(e *exporter) storeResult {
		var reserved int64 // fields makeRoom reserved for it
		for attempt := 0; ; attempt++ {
			result, added, need, own := e.addTemplate(key, template, fields, 0, h.now, true, reserved)
			data := e.lastData.Load() != 0
			if own.reason != "" {
				s.evictions.logEvicted(own, h.addr, data)
			}
			if added != nil {
				s.evictions.pushTemplate(added, int(s.templates.Load()))
			}
			if result != full {
				if result == refused {
					s.evictions.refused(h.addr, data, "refused_exporter_limit", "exporter_limit", "template refused: the exporter holds max-templates-per-exporter templates, all decoding data")
				}
				return result
			}
			// A redefinition may need more than was reserved, when makeRoom
			// evicted its own previous version (unused): once more then.
			if attempt == maxRoomAttempts || !s.makeRoom(need, h.now, h.addr, data) {
				s.refusedTotal.Add(1)
				s.evictions.refused(h.addr, data, "refused_total_limit", "total_limit", "template refused: the store holds max-template-fields, all in templates decoding data")
				return refused
			}
			reserved = need
		}
	})
	return nil
}

// maxRoomAttempts bounds how often one template makes room. The room made
// is reserved for it, so a second attempt is needed only when the eviction
// took its own previous version.
const maxRoomAttempts = 3

// update applies set to the exporter's state, creating it if needed (past
// the store's bound it is refused, and set not applied). An exporter that
// expired while in use is looked up again.
func (h *Handle) update(set func(*exporter) storeResult) {
	for {
		e := h.exporter()
		if e == nil {
			if e = h.store.create(h.addr, h.now); e == nil {
				return
			}
			h.e = e
		}
		if set(e) != retired {
			return
		}
		h.e = nil
	}
}

// GetTemplate returns a template or netflow.ErrorTemplateNotFound, which
// goflow2 treats as "skip this data set and go on".
func (h *Handle) GetTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	if t := h.held(TemplateKey{version, obsDomainID, templateID}); t != nil {
		return t.template, nil
	}
	return nil, netflow.ErrorTemplateNotFound
}

// UseTemplate is GetTemplate for a data set about to be decoded: it also
// marks the template (and its exporter) as decoding data at the handle's
// receive time, which keeps it from eviction (evict.go). Marking costs an
// atomic load, and a store at most once a second; it allocates nothing.
//
// The mark is made under the exporter's read lock, which eviction's write
// lock excludes: a template UseTemplate returns is one eviction sees as
// used, not one it is removing.
func (h *Handle) UseTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	e := h.exporter()
	if e == nil {
		return nil, netflow.ErrorTemplateNotFound
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.templates[TemplateKey{version, obsDomainID, templateID}]
	if t == nil {
		return nil, netflow.ErrorTemplateNotFound
	}
	now := max(h.now, 1) // 0 means never used
	if last := t.lastUsed.Load(); last == 0 || now-last >= useResolution {
		t.lastUsed.Store(now)
		if last := e.lastData.Load(); last == 0 || now-last >= useResolution {
			e.lastData.Store(now)
		}
	}
	return t.template, nil
}

// useResolution is how stale a template's (or exporter's) last use may be
// before a use stores it again: TemplateIdle is minutes, and storing at
// most once a second keeps an exporter's datagrams from writing the same
// cache line each time.
const useResolution = int64(time.Second)

func (h *Handle) held(key TemplateKey) *storedTemplate {
	e := h.exporter()
	if e == nil {
		return nil
	}
	e.mu.RLock()
	t := e.templates[key]
	e.mu.RUnlock()
	return t
}

// RemoveTemplate deletes a template (IPFIX template withdrawal).
func (h *Handle) RemoveTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	if e := h.exporter(); e != nil {
		if t, ok := e.removeTemplate(TemplateKey{version, obsDomainID, templateID}); ok {
			return t, nil
		}
	}
	return nil, netflow.ErrorTemplateNotFound
}

// GetTemplates returns a copy of the exporter's templates keyed the way
// goflow2 keys them (version<<48 | domain<<16 | template ID).
func (h *Handle) GetTemplates() netflow.FlowBaseTemplateSet {
	out := make(netflow.FlowBaseTemplateSet)
	if e := h.exporter(); e != nil {
		e.mu.RLock()
		defer e.mu.RUnlock()
		for k, t := range e.templates {
			out[uint64(k.Version)<<48|uint64(k.ObservationDomain)<<16|uint64(k.TemplateID)] = t.template
		}
	}
	return out
}

// SetSamplingRate records a rate announced in an options data record,
// creating the exporter's state if needed. A rate of 0 is ignored. Past a
// bound new samplers are refused and counted (known ones are still
// updated).
func (h *Handle) SetSamplingRate(key SamplerKey, rate uint64) {
	if rate == 0 {
		return
	}
	h.update(func(e *exporter) storeResult { return e.setSamplingRate(key, rate) })
}

// SamplingRate returns the rate of a sampler, falling back to the
// observation domain's sampler-less rate (SamplerID 0) when that sampler is
// unknown. It reports false when neither is known.
func (h *Handle) SamplingRate(key SamplerKey) (uint64, bool) {
	e := h.exporter()
	if e == nil {
		return 0, false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if rate, ok := e.sampling[key]; ok {
		return rate, true
	}
	if key.SamplerID != 0 {
		key.SamplerID = 0
		rate, ok := e.sampling[key]
		return rate, ok
	}
	return 0, false
}

// templateFields returns how many fields a template holds, and whether its
// records consume at least one byte each: one field with a non-zero fixed
// length, or a variable-length one (whose length prefix takes at least a
// byte).
func templateFields(template any) (n int, valid bool) {
	var groups [2][]netflow.Field
	switch t := template.(type) {
	case netflow.TemplateRecord:
		groups[0] = t.Fields
	case netflow.NFv9OptionsTemplateRecord:
		groups[0], groups[1] = t.Scopes, t.Options
	case netflow.IPFIXOptionsTemplateRecord:
		groups[0], groups[1] = t.Scopes, t.Options
	default:
		return 0, false
	}
	for _, fields := range groups {
		n += len(fields)
		for _, f := range fields {
			if f.Length != 0 {
				valid = true
			}
		}
	}
	return n, valid
}

// sameTemplate reports whether two templates describe the same records.
// Templates are refreshed every few seconds by most exporters; comparing
// them keeps a refresh from counting as a change.
func sameTemplate(a, b any) bool {
	switch a := a.(type) {
	case netflow.TemplateRecord:
		b, ok := b.(netflow.TemplateRecord)
		return ok && a.TemplateId == b.TemplateId && a.FieldCount == b.FieldCount && slices.Equal(a.Fields, b.Fields)
	case netflow.NFv9OptionsTemplateRecord:
		b, ok := b.(netflow.NFv9OptionsTemplateRecord)
		return ok && a.TemplateId == b.TemplateId && a.ScopeLength == b.ScopeLength && a.OptionLength == b.OptionLength &&
			slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Options, b.Options)
	case netflow.IPFIXOptionsTemplateRecord:
		b, ok := b.(netflow.IPFIXOptionsTemplateRecord)
		return ok && a.TemplateId == b.TemplateId && a.FieldCount == b.FieldCount && a.ScopeFieldCount == b.ScopeFieldCount &&
			slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Options, b.Options)
	}
	return false
}
