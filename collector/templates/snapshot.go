package templates

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

// Snapshot is a copy of a store's state, for persistence: per exporter, its
// templates, its sampling rates and when it was last seen (which decides
// its expiry after a restore as before).
type Snapshot struct {
	Exporters []ExporterSnapshot `json:"exporters"`
}

// ExporterSnapshot is the state of one exporter.
type ExporterSnapshot struct {
	Address       netip.Addr          `json:"address"`
	LastSeen      int64               `json:"last_seen"` // Unix nanoseconds
	Templates     []TemplateEntry     `json:"templates,omitempty"`
	SamplingRates []SamplingRateEntry `json:"sampling_rates,omitempty"`
	Interfaces    []InterfaceEntry    `json:"interfaces,omitempty"`
}

// TemplateEntry is one stored template. Template is goflow2's
// netflow.TemplateRecord, netflow.NFv9OptionsTemplateRecord or
// netflow.IPFIXOptionsTemplateRecord; in JSON its kind is named beside it.
type TemplateEntry struct {
	Key      TemplateKey
	Template any
}

// SamplingRateEntry is one stored sampling rate.
type SamplingRateEntry struct {
	Key  SamplerKey `json:"key"`
	Rate uint64     `json:"rate"`
}

// Template kinds as written in JSON.
const (
	kindTemplate        = "template"
	kindNFv9Options     = "nfv9-options"
	kindIPFIXOptions    = "ipfix-options"
	snapshotFileVersion = 1
)

type templateEntryJSON struct {
	Key      TemplateKey     `json:"key"`
	Kind     string          `json:"kind"`
	Template json.RawMessage `json:"template"`
}

// MarshalJSON writes the template with its kind, so that it reads back as
// the same goflow2 type.
func (t TemplateEntry) MarshalJSON() ([]byte, error) {
	var kind string
	switch t.Template.(type) {
	case netflow.TemplateRecord:
		kind = kindTemplate
	case netflow.NFv9OptionsTemplateRecord:
		kind = kindNFv9Options
	case netflow.IPFIXOptionsTemplateRecord:
		kind = kindIPFIXOptions
	default:
		return nil, fmt.Errorf("template %v: unknown type %T", t.Key, t.Template)
	}
	raw, err := json.Marshal(t.Template)
	if err != nil {
		return nil, err
	}
	return json.Marshal(templateEntryJSON{t.Key, kind, raw})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *TemplateEntry) UnmarshalJSON(b []byte) error {
	var j templateEntryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t.Key = j.Key
	var err error
	switch j.Kind {
	case kindTemplate:
		var v netflow.TemplateRecord
		err, t.Template = json.Unmarshal(j.Template, &v), v
	case kindNFv9Options:
		var v netflow.NFv9OptionsTemplateRecord
		err, t.Template = json.Unmarshal(j.Template, &v), v
	case kindIPFIXOptions:
		var v netflow.IPFIXOptionsTemplateRecord
		err, t.Template = json.Unmarshal(j.Template, &v), v
	default:
		return fmt.Errorf("template %v: unknown kind %q", j.Key, j.Kind)
	}
	if err != nil {
		return fmt.Errorf("template %v: %w", j.Key, err)
	}
	return nil
}

// Snapshot copies the store's state, most recently seen exporter first. It
// locks one exporter at a time, so it does not stall decoding of the
// others. Template values are shared, not copied: stored templates are
// never modified in place.
func (s *Store) Snapshot() Snapshot {
	s.mu.RLock()
	exporters := make(map[record.Addr]*exporter, len(s.exporters))
	for addr, e := range s.exporters {
		exporters[addr] = e
	}
	s.mu.RUnlock()
	snap := Snapshot{Exporters: make([]ExporterSnapshot, 0, len(exporters))}
	for addr, e := range exporters {
		es := ExporterSnapshot{Address: addr.Netip(), LastSeen: e.lastSeen.Load()}
		e.mu.RLock()
		for k, t := range e.templates {
			es.Templates = append(es.Templates, TemplateEntry{k, t.template})
		}
		for k, r := range e.sampling {
			es.SamplingRates = append(es.SamplingRates, SamplingRateEntry{k, r})
		}
		for k, n := range e.interfaces {
			es.Interfaces = append(es.Interfaces, InterfaceEntry{k, n})
		}
		e.mu.RUnlock()
		slices.SortFunc(es.Interfaces, func(a, b InterfaceEntry) int { return a.Key.compare(b.Key) })
		slices.SortFunc(es.Templates, func(a, b TemplateEntry) int { return a.Key.compare(b.Key) })
		slices.SortFunc(es.SamplingRates, func(a, b SamplingRateEntry) int { return a.Key.compare(b.Key) })
		snap.Exporters = append(snap.Exporters, es)
	}
	snap.sort()
	return snap
}

// sort orders exporters by last seen, newest first (then by address, for a
// stable file).
func (snap *Snapshot) sort() {
	slices.SortFunc(snap.Exporters, func(a, b ExporterSnapshot) int {
		if c := cmp.Compare(b.LastSeen, a.LastSeen); c != 0 {
			return c
		}
		return a.Address.Compare(b.Address)
	})
}

func (k TemplateKey) compare(o TemplateKey) int {
	return cmp.Or(cmp.Compare(k.Version, o.Version), cmp.Compare(k.ObservationDomain, o.ObservationDomain), cmp.Compare(k.TemplateID, o.TemplateID))
}

func (k SamplerKey) compare(o SamplerKey) int {
	return cmp.Or(cmp.Compare(k.Version, o.Version), cmp.Compare(k.ObservationDomain, o.ObservationDomain), cmp.Compare(k.SamplerID, o.SamplerID))
}

// RestoreStats says what Restore kept and what it left out.
type RestoreStats struct {
	Exporters     int // exporters restored
	Templates     int // templates restored
	SamplingRates int // sampling rates restored
	Interfaces    int // interfaces with names restored
	Expired       int // exporters left out: not seen for ExporterIdle before now
	Refused       int // templates, rates or exporters beyond a bound (also counted in Stats)
}

// Restore loads a snapshot into the store, on top of what it holds, as if
// each exporter had last been seen when the snapshot says. Exporters idle
// for ExporterIdle before now are left out, and the bounds apply as for
// live state: the most recently seen exporters are restored first, so a
// smaller bound keeps the freshest. Invalid templates are skipped.
func (s *Store) Restore(snap Snapshot, now time.Time) RestoreStats {
	var st RestoreStats
	cutoff := now.UnixNano() - int64(s.cfg.ExporterIdle)
	snap.Exporters = slices.Clone(snap.Exporters) // sorted here, not in the caller's
	snap.sort()
	for _, es := range snap.Exporters {
		if es.LastSeen < cutoff {
			st.Expired++
			continue
		}
		addr := record.Addr(es.Address.As16())
		if es.Address.Is4() {
			addr = record.AddrFrom4(es.Address.As4())
		}
		e := s.create(addr, es.LastSeen)
		if e == nil {
			st.Refused++
			continue
		}
		if e.lastSeen.Load() < es.LastSeen {
			e.lastSeen.Store(es.LastSeen)
		}
		st.Exporters++
		for _, t := range es.Templates {
			fields, valid := templateFields(t.Template)
			if !valid {
				continue
			}
			if e.addTemplate(t.Key, t.Template, fields) == stored {
				st.Templates++
			} else {
				st.Refused++
			}
		}
		for _, r := range es.SamplingRates {
			if r.Rate == 0 {
				continue
			}
			if e.setSamplingRate(r.Key, r.Rate) == stored {
				st.SamplingRates++
			} else {
				st.Refused++
			}
		}
		for _, i := range es.Interfaces {
			if i.Names == (InterfaceNames{}) {
				continue
			}
			if e.setInterface(i.Key, i.Names) == stored {
				st.Interfaces++
			} else {
				st.Refused++
			}
		}
	}
	return st
}
