package templates

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
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
// LastUsed is the receive time (Unix nanoseconds) of the last datagram
// whose data it decoded, 0 if none did: a restored template keeps its
// standing against eviction.
type TemplateEntry struct {
	Key      TemplateKey
	Template any
	LastUsed int64
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
	// LastUsed is written even when 0 (never used). A file written before
	// templates had it (absent) reads as used when its exporter was last
	// seen: see ExporterSnapshot.UnmarshalJSON.
	LastUsed *int64 `json:"last_used"`
}

// lastUsedUnknown marks a template read without last_used until its
// exporter's UnmarshalJSON replaces it.
const lastUsedUnknown = math.MinInt64

// UnmarshalJSON reads an exporter. Its templates from a file written
// before last_used existed count as used when the exporter was last seen:
// counting them never used would make every template of every exporter
// the first evicted after the upgrade, real exporters' included. The
// price: a flood's templates in such a file keep their standing until
// template-idle after the exporter's last datagram.
func (es *ExporterSnapshot) UnmarshalJSON(b []byte) error {
	type plain ExporterSnapshot // without this method
	if err := json.Unmarshal(b, (*plain)(es)); err != nil {
		return err
	}
	for i := range es.Templates {
		if es.Templates[i].LastUsed == lastUsedUnknown {
			es.Templates[i].LastUsed = es.LastSeen
		}
	}
	return nil
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
	return json.Marshal(templateEntryJSON{t.Key, kind, raw, &t.LastUsed})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *TemplateEntry) UnmarshalJSON(b []byte) error {
	var j templateEntryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	t.Key, t.LastUsed = j.Key, lastUsedUnknown
	if j.LastUsed != nil {
		t.LastUsed = *j.LastUsed
	}
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
			es.Templates = append(es.Templates, TemplateEntry{k, t.template, t.lastUsed.Load()})
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
		// Fresher exporters were restored first: no eviction for older ones.
		e, atBound := s.insert(addr, es.LastSeen)
		if atBound {
			s.exportersRefused.Add(1)
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
			result, added, _, _ := e.addTemplate(t.Key, t.Template, fields, t.LastUsed, now.UnixNano(), false, 0)
			if added != nil {
				s.evictions.pushTemplate(added, int(s.templates.Load()))
			}
			switch result {
			case stored:
				st.Templates++
				// Its data's standing against exporter eviction, as before.
				if e.lastData.Load() < t.LastUsed {
					e.lastData.Store(t.LastUsed)
				}
			case full:
				s.refusedTotal.Add(1)
				st.Refused++
			default:
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

// Upper bounds of what each part of a snapshot takes in the JSON that
// WriteFile writes, for SnapshotToPersist's size bound. They are the
// longest each can be (every number at its widest, the longest kind of
// template, an IPv4-mapped IPv6 address), separators included.
const (
	fileBytes          = 64  // {"version":1,"exporters":[]}
	exporterBytes      = 160 // address, last_seen and three empty lists
	templateBytes      = 256 // key, kind, the template's counts and last_used
	fieldBytes         = 72  // {"pen-provided":false,"type":65535,"length":65535,"pen":4294967295},
	samplingRateBytes  = 128
	interfaceBytes     = 128 // without the names
	escapedBytesPerOne = 6   // a byte of a name, escaped as \u00XX at worst
)

func templateEntryBytes(t TemplateEntry) int {
	n, _ := templateFields(t.Template)
	return templateBytes + fieldBytes*n
}

// SnapshotToPersist is Snapshot within MaxStateBytes of JSON (as WriteFile
// writes it), and what it left out. What data uses goes first: the
// exporters whose templates decoded data, the most recent data first, with
// their templates that decoded data, their sampling rates and interface
// names; then, in what room is left but in no more than a quarter of
// MaxStateBytes, the rest, exporters seen most recently first: templates
// that never decoded data (an exporter's whose data has not come yet, or a
// flood's), and the sampling rates and interface names of exporters none
// of whose templates decoded data.
func (s *Store) SnapshotToPersist() (Snapshot, Omitted) {
	return s.Snapshot().bound(s.cfg.MaxStateBytes)
}

// Omitted counts what SnapshotToPersist left out.
type Omitted struct {
	Templates, SamplingRates, Interfaces int
}

// Total is everything left out.
func (o Omitted) Total() int { return o.Templates + o.SamplingRates + o.Interfaces }

// lastData is when one of the exporter's templates last decoded data, 0 if
// none did.
func (es *ExporterSnapshot) lastData() int64 {
	var last int64
	for _, t := range es.Templates {
		last = max(last, t.LastUsed)
	}
	return last
}

func (snap Snapshot) bound(maxBytes int) (Snapshot, Omitted) {
	budget := maxBytes - fileBytes
	var omitted Omitted
	take := func(n int) bool {
		if n > budget {
			return false
		}
		budget -= n
		return true
	}

	out := make([]ExporterSnapshot, len(snap.Exporters))
	included := make([]bool, len(snap.Exporters))
	lastData := make([]int64, len(snap.Exporters))
	for i := range snap.Exporters {
		lastData[i] = snap.Exporters[i].lastData()
		out[i].Address, out[i].LastSeen = snap.Exporters[i].Address, snap.Exporters[i].LastSeen
	}
	// fits takes n bytes for an entry of exporter i, and the exporter's
	// own if it is not written yet.
	fits := func(i, n int) bool {
		if included[i] {
			return take(n)
		}
		if !take(exporterBytes + n) {
			return false
		}
		included[i] = true
		return true
	}
	// add writes what of exporter i first picks (used templates, or
	// those waiting for data), and, if rest, its sampling rates and
	// interface names.
	add := func(i int, usedTemplates, rest bool) {
		es, o := &snap.Exporters[i], &out[i]
		for _, t := range es.Templates {
			if (t.LastUsed != 0) != usedTemplates {
				continue
			}
			if fits(i, templateEntryBytes(t)) {
				o.Templates = append(o.Templates, t)
			} else {
				omitted.Templates++
			}
		}
		if !rest {
			return
		}
		for _, r := range es.SamplingRates {
			if fits(i, samplingRateBytes) {
				o.SamplingRates = append(o.SamplingRates, r)
			} else {
				omitted.SamplingRates++
			}
		}
		for _, n := range es.Interfaces {
			if fits(i, interfaceBytes+escapedBytesPerOne*(len(n.Names.Name)+len(n.Names.Description))) {
				o.Interfaces = append(o.Interfaces, n)
			} else {
				omitted.Interfaces++
			}
		}
	}
	// What data uses first: the exporters whose templates decoded data,
	// the most recent data first.
	byData := make([]int, 0, len(snap.Exporters))
	for i := range snap.Exporters {
		if lastData[i] != 0 {
			byData = append(byData, i)
		}
	}
	slices.SortStableFunc(byData, func(a, b int) int { return cmp.Compare(lastData[b], lastData[a]) })
	for _, i := range byData {
		add(i, true, true)
	}
	// Then the rest, in what room is left, within a quarter of the
	// bound, the exporters seen most recently first.
	budget = min(budget, maxBytes/4)
	for i := range snap.Exporters {
		add(i, false, lastData[i] == 0)
		slices.SortFunc(out[i].Templates, func(a, b TemplateEntry) int { return a.Key.compare(b.Key) })
	}
	bounded := Snapshot{Exporters: make([]ExporterSnapshot, 0, len(out))}
	for i := range out {
		if included[i] {
			bounded.Exporters = append(bounded.Exporters, out[i])
		}
	}
	return bounded, omitted
}
