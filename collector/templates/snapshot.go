package templates

import (
	"time"

	"sluice/pipeline/record"
)

// Snapshot is a copy of a store's state, for persistence. Template values
// are goflow2's netflow.TemplateRecord, netflow.NFv9OptionsTemplateRecord or
// netflow.IPFIXOptionsTemplateRecord (register them with gob if encoding the
// snapshot with gob).
type Snapshot struct {
	Templates     []TemplateEntry
	SamplingRates []SamplingRateEntry
}

// TemplateEntry is one stored template.
type TemplateEntry struct {
	Exporter record.Addr
	Key      TemplateKey
	Template any
}

// SamplingRateEntry is one stored sampling rate.
type SamplingRateEntry struct {
	Exporter record.Addr
	Key      SamplerKey
	Rate     uint64
}

// Snapshot copies the store's state. It locks one exporter at a time, so it
// does not stall decoding of the others.
func (s *Store) Snapshot() Snapshot {
	s.mu.RLock()
	exporters := make(map[record.Addr]*exporter, len(s.exporters))
	for addr, e := range s.exporters {
		exporters[addr] = e
	}
	s.mu.RUnlock()
	var snap Snapshot
	for addr, e := range exporters {
		e.mu.RLock()
		for k, t := range e.templates {
			snap.Templates = append(snap.Templates, TemplateEntry{addr, k, t.template})
		}
		for k, r := range e.sampling {
			snap.SamplingRates = append(snap.SamplingRates, SamplingRateEntry{addr, k, r})
		}
		e.mu.RUnlock()
	}
	return snap
}

// Restore loads a snapshot into the store, on top of what it holds. Bounds
// apply as for live templates, and restored exporters count as seen now.
func (s *Store) Restore(snap Snapshot) {
	now := time.Now().UnixNano()
	for _, t := range snap.Templates {
		h := s.Handle(t.Exporter, now)
		_ = h.AddTemplate(t.Key.Version, t.Key.ObservationDomain, t.Key.TemplateID, t.Template)
	}
	for _, r := range snap.SamplingRates {
		h := s.Handle(r.Exporter, now)
		h.SetSamplingRate(r.Key, r.Rate)
	}
}
