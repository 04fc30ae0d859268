// Package templates keeps the per-exporter state that NetFlow v9 and IPFIX
// decoding needs between datagrams: the templates that describe data records
// and the sampling rates announced in options data records.
//
// State is keyed by the exporter's address and, inside it, by NetFlow
// version, observation domain (v9 source ID) and template or sampler ID. The
// UDP source port is deliberately not part of the key: exporters that send
// from several ports (one per line card or per process restart) share their
// templates, as the observation domain already tells their template spaces
// apart.
//
// Everything lives in memory; Snapshot and Restore exist so that a later
// component can persist the state across restarts. The stored template values
// are goflow2's plain template structs, so a snapshot can be encoded with
// encoding/gob or JSON without custom code.
package templates

import (
	"sync"
	"sync/atomic"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

// Config bounds the state kept per exporter.
type Config struct {
	// MaxTemplatesPerExporter is the most templates (data and options) one
	// exporter may have across its observation domains; further new
	// templates are refused and counted. Default 4096.
	MaxTemplatesPerExporter int
	// MaxSamplingRatesPerExporter bounds the sampler entries learned from
	// options data. Default 4096.
	MaxSamplingRatesPerExporter int
}

// DefaultConfig returns the default bounds.
func DefaultConfig() Config {
	return Config{MaxTemplatesPerExporter: 4096, MaxSamplingRatesPerExporter: 4096}
}

// Store holds the state of every exporter. It is safe for concurrent use.
type Store struct {
	cfg       Config
	mu        sync.RWMutex
	exporters map[record.Addr]*Exporter
	refused   atomic.Uint64
	invalid   atomic.Uint64
}

// NewStore returns an empty store. Zero bounds in cfg take their defaults.
func NewStore(cfg Config) *Store {
	def := DefaultConfig()
	if cfg.MaxTemplatesPerExporter <= 0 {
		cfg.MaxTemplatesPerExporter = def.MaxTemplatesPerExporter
	}
	if cfg.MaxSamplingRatesPerExporter <= 0 {
		cfg.MaxSamplingRatesPerExporter = def.MaxSamplingRatesPerExporter
	}
	return &Store{cfg: cfg, exporters: make(map[record.Addr]*Exporter)}
}

// Exporter returns the state of one exporter, creating it on first use.
func (s *Store) Exporter(addr record.Addr) *Exporter {
	s.mu.RLock()
	e, ok := s.exporters[addr]
	s.mu.RUnlock()
	if ok {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.exporters[addr]; ok {
		return e
	}
	e = &Exporter{
		store:     s,
		templates: make(map[TemplateKey]any),
		sampling:  make(map[SamplerKey]uint64),
	}
	s.exporters[addr] = e
	return e
}

// Stats is a point-in-time summary of the store, for metrics.
type Stats struct {
	Exporters        int
	Templates        int
	SamplingRates    int
	TemplatesRefused uint64 // templates refused since start because an exporter was at its bound
	TemplatesInvalid uint64 // templates refused since start because they describe zero-length records
}

// Stats counts what the store holds.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Exporters: len(s.exporters), TemplatesRefused: s.refused.Load(), TemplatesInvalid: s.invalid.Load()}
	for _, e := range s.exporters {
		e.mu.RLock()
		st.Templates += len(e.templates)
		st.SamplingRates += len(e.sampling)
		e.mu.RUnlock()
	}
	return st
}

// TemplateKey identifies a template inside one exporter.
type TemplateKey struct {
	Version           uint16 // 9 or 10
	ObservationDomain uint32
	TemplateID        uint16
}

// SamplerKey identifies a sampling rate inside one exporter. SamplerID is 0
// when the options record names no sampler: that rate applies to every flow
// of the observation domain that carries no sampler ID of its own.
type SamplerKey struct {
	Version           uint16
	ObservationDomain uint32
	SamplerID         uint64
}

// Exporter is the state of one exporter. It implements goflow2's
// netflow.NetFlowTemplateSystem, so it can be handed to the goflow2 decoder
// directly. It is safe for concurrent use, although the collector routes an
// exporter's datagrams to one worker to keep templates and data in order.
type Exporter struct {
	store     *Store
	mu        sync.RWMutex
	templates map[TemplateKey]any
	sampling  map[SamplerKey]uint64
}

var _ netflow.NetFlowTemplateSystem = (*Exporter)(nil)

// AddTemplate stores or replaces a template. A new template beyond the
// exporter's bound is refused and counted, but no error is returned: an
// error would make goflow2 abandon the rest of the datagram, and the data
// sets that need the refused template are counted as missing templates
// anyway.
//
// A template whose records would have zero length (no fields, as in an IPFIX
// template withdrawal, or only zero-length fields) removes the template:
// goflow2 would loop forever decoding a data set against it.
func (e *Exporter) AddTemplate(version uint16, obsDomainID uint32, templateID uint16, template any) error {
	key := TemplateKey{version, obsDomainID, templateID}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !hasRecordLength(template) {
		delete(e.templates, key)
		e.store.invalid.Add(1)
		return nil
	}
	if _, exists := e.templates[key]; !exists && len(e.templates) >= e.store.cfg.MaxTemplatesPerExporter {
		e.store.refused.Add(1)
		return nil
	}
	e.templates[key] = template
	return nil
}

// GetTemplate returns a template or netflow.ErrorTemplateNotFound, which
// goflow2 treats as "skip this data set and go on".
func (e *Exporter) GetTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	e.mu.RLock()
	t, ok := e.templates[TemplateKey{version, obsDomainID, templateID}]
	e.mu.RUnlock()
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	return t, nil
}

// RemoveTemplate deletes a template (IPFIX template withdrawal).
func (e *Exporter) RemoveTemplate(version uint16, obsDomainID uint32, templateID uint16) (any, error) {
	key := TemplateKey{version, obsDomainID, templateID}
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.templates[key]
	if !ok {
		return nil, netflow.ErrorTemplateNotFound
	}
	delete(e.templates, key)
	return t, nil
}

// GetTemplates returns a copy of the exporter's templates keyed the way
// goflow2 keys them (version<<48 | domain<<16 | template ID).
func (e *Exporter) GetTemplates() netflow.FlowBaseTemplateSet {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make(netflow.FlowBaseTemplateSet, len(e.templates))
	for k, t := range e.templates {
		out[uint64(k.Version)<<48|uint64(k.ObservationDomain)<<16|uint64(k.TemplateID)] = t
	}
	return out
}

// SetSamplingRate records a rate announced in an options data record. A rate
// of 0 is ignored. Past the exporter's bound new samplers are dropped (known
// ones are still updated).
func (e *Exporter) SetSamplingRate(key SamplerKey, rate uint64) {
	if rate == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, exists := e.sampling[key]; !exists && len(e.sampling) >= e.store.cfg.MaxSamplingRatesPerExporter {
		return
	}
	e.sampling[key] = rate
}

// SamplingRate returns the rate of a sampler, falling back to the
// observation domain's sampler-less rate (SamplerID 0) when that sampler is
// unknown. It reports false when neither is known.
func (e *Exporter) SamplingRate(key SamplerKey) (uint64, bool) {
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

// hasRecordLength reports whether records described by a template consume at
// least one byte each: one field with a non-zero fixed length, or a
// variable-length one (whose length prefix takes at least a byte).
func hasRecordLength(template any) bool {
	var groups [2][]netflow.Field
	switch t := template.(type) {
	case netflow.TemplateRecord:
		groups[0] = t.Fields
	case netflow.NFv9OptionsTemplateRecord:
		groups[0], groups[1] = t.Scopes, t.Options
	case netflow.IPFIXOptionsTemplateRecord:
		groups[0], groups[1] = t.Scopes, t.Options
	default:
		return false
	}
	for _, fields := range groups {
		for _, f := range fields {
			if f.Length != 0 {
				return true
			}
		}
	}
	return false
}
