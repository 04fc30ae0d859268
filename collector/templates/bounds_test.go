package templates

import (
	"errors"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

func fields(n int) []netflow.Field {
	f := make([]netflow.Field, n)
	for i := range f {
		f[i] = netflow.Field{Type: uint16(i + 1), Length: 4}
	}
	return f
}

// TestUnknownExporterHasNoState: looking up an exporter that never sent a
// template, as a datagram with a spoofed source does, neither inserts nor
// allocates.
func TestUnknownExporterHasNoState(t *testing.T) {
	s := NewStore(Config{})
	allocs := testing.AllocsPerRun(100, func() {
		h := s.Handle(exporterA, 1)
		if _, err := h.GetTemplate(9, 0, 256); !errors.Is(err, netflow.ErrorTemplateNotFound) {
			t.Fatal(err)
		}
		if _, ok := h.SamplingRate(SamplerKey{9, 0, 1}); ok {
			t.Fatal("rate of an unknown exporter")
		}
		h.SetSamplingRate(SamplerKey{9, 0, 1}, 0)              // ignored
		h.AddTemplate(9, 0, 256, netflow.TemplateRecord{})     // a withdrawal keeps nothing
		if _, err := h.RemoveTemplate(9, 0, 256); err == nil { // nothing to remove
			t.Fatal("removed a template of an unknown exporter")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per lookup of an unknown exporter, want 0", allocs)
	}
	if st := s.Stats(); st.Exporters != 0 {
		t.Errorf("%d exporters after lookups only", st.Exporters)
	}
	// Learning something creates the state.
	h := s.Handle(exporterA, 1)
	h.SetSamplingRate(SamplerKey{9, 0, 1}, 100)
	if st := s.Stats(); st.Exporters != 1 || st.SamplingRates != 1 {
		t.Errorf("stats = %+v, want 1 exporter with 1 rate", st)
	}
}

// TestMaxExporters: at MaxExporters, an exporter none of whose templates
// decodes data makes room for a new one, the oldest first; exporters whose
// data uses their templates are kept, and a new exporter is refused, until
// they have decoded nothing for TemplateIdle.
func TestMaxExporters(t *testing.T) {
	s := NewStore(Config{MaxExporters: 2})
	addr := func(i int) record.Addr { return record.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	add := func(i int, now int64) {
		h := s.Handle(addr(i), now)
		h.AddTemplate(9, 0, 256, netflow.TemplateRecord{Fields: oneField})
		h.AddTemplate(9, 0, 257, netflow.TemplateRecord{Fields: oneField})
	}
	for i := range 5 {
		add(i, 1)
	}
	st := s.Stats()
	if st.Exporters != 2 || st.Templates != 4 || st.ExportersEvicted != 3 || st.ExportersRefused != 0 {
		t.Errorf("stats = %+v, want 2 exporters, 4 templates, 3 evicted", st)
	}
	if s.ExporterTemplates(addr(3)) != 2 || s.ExporterTemplates(addr(4)) != 2 {
		t.Errorf("the newest exporters were not kept")
	}
	// Their data uses their templates: a new exporter is refused.
	for _, i := range []int{3, 4} {
		h := s.Handle(addr(i), 2)
		if _, err := h.UseTemplate(9, 0, 256); err != nil {
			t.Fatal(err)
		}
	}
	add(5, 3)
	if st := s.Stats(); st.Exporters != 2 || st.ExportersEvicted != 3 || st.ExportersRefused != 2 {
		t.Errorf("stats = %+v, want 2 exporters kept and 2 refusals", st)
	}
	// A known exporter keeps learning.
	h := s.Handle(addr(3), 3)
	h.AddTemplate(9, 0, 258, netflow.TemplateRecord{Fields: oneField})
	if _, err := h.GetTemplate(9, 0, 258); err != nil {
		t.Error(err)
	}
	// After TemplateIdle without data, they make room again.
	add(6, 2+int64(s.cfg.TemplateIdle)+1)
	if st := s.Stats(); st.Exporters != 2 || st.ExportersEvicted != 4 || s.ExporterTemplates(addr(6)) != 2 {
		t.Errorf("stats = %+v, want an idle exporter evicted for exporter 6", st)
	}
}

// TestMaxTemplateFields: past the total bound, a template is refused when
// every template held decodes data; a refused redefinition keeps the old
// template.
func TestMaxTemplateFields(t *testing.T) {
	s := NewStore(Config{MaxTemplateFields: 5})
	a, b := s.Handle(exporterA, 1), s.Handle(exporterB, 1)
	a.AddTemplate(10, 0, 256, netflow.TemplateRecord{Fields: fields(2)})
	b.AddTemplate(10, 0, 256, netflow.TemplateRecord{Fields: fields(2)})
	a.UseTemplate(10, 0, 256)
	b.UseTemplate(10, 0, 256)
	b.AddTemplate(10, 0, 257, netflow.TemplateRecord{Fields: fields(2)}) // 6 > 5: refused
	if _, err := b.GetTemplate(10, 0, 257); err == nil {
		t.Error("template over the total bound accepted")
	}
	a.AddTemplate(10, 0, 256, netflow.IPFIXOptionsTemplateRecord{Scopes: fields(1), Options: fields(2)}) // 2 → 3 fields: 5
	b.AddTemplate(10, 0, 256, netflow.TemplateRecord{Fields: fields(3)})                                 // 2 → 3 fields: 6, refused, old one kept
	if tmpl, _ := b.GetTemplate(10, 0, 256); len(tmpl.(netflow.TemplateRecord).Fields) != 2 {
		t.Error("refused replacement removed the old template")
	}
	st := s.Stats()
	if st.TemplateFields != 5 || st.Templates != 2 || st.TemplatesRefusedTotal != 2 || st.TemplatesRefusedPerExporter != 0 ||
		st.TemplatesEvictedNeverUsed+st.TemplatesEvictedIdle != 0 {
		t.Errorf("stats = %+v, want 5 fields in 2 templates and 2 refusals", st)
	}
	// Removing a template gives its fields back.
	a.RemoveTemplate(10, 0, 256)
	b.AddTemplate(10, 0, 257, netflow.TemplateRecord{Fields: fields(3)})
	if st := s.Stats(); st.TemplateFields != 5 || st.Templates != 2 {
		t.Errorf("after removal: %+v", st)
	}
}

func TestMaxSamplingRates(t *testing.T) {
	s := NewStore(Config{MaxSamplingRates: 3})
	a, b := s.Handle(exporterA, 1), s.Handle(exporterB, 1)
	for id := range uint64(2) {
		a.SetSamplingRate(SamplerKey{9, 0, id}, 10)
		b.SetSamplingRate(SamplerKey{9, 0, id}, 10)
	}
	b.SetSamplingRate(SamplerKey{9, 0, 0}, 20) // known: updated
	if rate, _ := b.SamplingRate(SamplerKey{9, 0, 0}); rate != 20 {
		t.Errorf("rate = %d, want 20", rate)
	}
	if st := s.Stats(); st.SamplingRates != 3 || st.SamplingRatesRefused != 1 {
		t.Errorf("stats = %+v, want 3 rates and 1 refusal", st)
	}
}

func TestExpire(t *testing.T) {
	s := NewStore(Config{ExporterIdle: time.Hour})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := s.Handle(exporterA, t0.UnixNano())
	a.AddTemplate(9, 0, 256, netflow.TemplateRecord{Fields: fields(3)})
	a.SetSamplingRate(SamplerKey{9, 0, 0}, 10)
	b := s.Handle(exporterB, t0.UnixNano())
	b.AddTemplate(9, 0, 256, netflow.TemplateRecord{Fields: oneField})

	// B is seen again 50 minutes later, A is not.
	s.Handle(exporterB, t0.Add(50*time.Minute).UnixNano())
	if n := s.Expire(t0.Add(59 * time.Minute)); n != 0 {
		t.Fatalf("expired %d before the idle time", n)
	}
	if n := s.Expire(t0.Add(61 * time.Minute)); n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	st := s.Stats()
	if st.Exporters != 1 || st.Templates != 1 || st.TemplateFields != 1 || st.SamplingRates != 0 || st.ExportersExpired != 1 {
		t.Errorf("stats = %+v, want only B's template left", st)
	}
	if _, err := a.GetTemplate(9, 0, 256); err == nil {
		t.Error("expired exporter's template still served")
	}
	// A handle taken before the expiry starts afresh when A comes back.
	a.AddTemplate(9, 0, 257, netflow.TemplateRecord{Fields: oneField})
	if again := s.Handle(exporterA, t0.Add(62*time.Minute).UnixNano()); again.e != a.e || again.e == nil {
		t.Error("state recreated through a stale handle is not in the store")
	}

	// Handle sweeps by itself, at most every ExporterIdle/4.
	s.Handle(exporterA, t0.Add(3*time.Hour).UnixNano())
	if st := s.Stats(); st.Exporters != 0 || st.ExportersExpired != 3 {
		t.Errorf("after a lazy sweep: %+v", st)
	}
}

func TestMaxInterfaces(t *testing.T) {
	s := NewStore(Config{MaxInterfacesPerExporter: 2, MaxInterfaces: 3})
	a, b := s.Handle(exporterA, 1), s.Handle(exporterB, 1)
	for i := range uint32(3) {
		a.SetInterface(InterfaceKey{10, 0, i}, InterfaceNames{Name: "a"})
		b.SetInterface(InterfaceKey{10, 0, i}, InterfaceNames{Name: "b"})
	}
	a.SetInterface(InterfaceKey{10, 0, 0}, InterfaceNames{Name: "renamed"}) // known: still updated
	st := s.Stats()
	if st.Interfaces != 3 || st.InterfacesRefused != 3 {
		t.Fatalf("stats %+v, want 3 held and 3 refused", st)
	}
	if n, _ := a.Interface(InterfaceKey{10, 0, 0}); n.Name != "renamed" {
		t.Errorf("interface 0 = %+v", n)
	}
	s.Expire(time.Unix(0, 1).Add(2 * time.Hour))
	if st := s.Stats(); st.Interfaces != 0 {
		t.Errorf("after expiry: %+v", st)
	}
}
