package templates

import (
	"errors"
	"sync"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

var oneField = []netflow.Field{{Type: 8, Length: 4}}

var (
	exporterA = record.AddrFrom4([4]byte{192, 0, 2, 1})
	exporterB = record.AddrFrom4([4]byte{192, 0, 2, 2})
)

func TestTemplatesKeyedByExporterAndDomain(t *testing.T) {
	s := NewStore(Config{})
	tmpl := netflow.TemplateRecord{TemplateId: 256, FieldCount: 1, Fields: oneField}
	a := s.Handle(exporterA, 1)
	if err := a.AddTemplate(10, 1, 256, tmpl); err != nil {
		t.Fatal(err)
	}
	if again := s.Handle(exporterA, 1); again.e != a.e {
		t.Fatal("Handle does not return the same state twice")
	}
	if _, err := a.GetTemplate(10, 1, 256); err != nil {
		t.Errorf("same key: %v", err)
	}
	b := s.Handle(exporterB, 1)
	for _, miss := range []struct {
		e       *Handle
		version uint16
		domain  uint32
	}{{&a, 10, 2}, {&a, 9, 1}, {&b, 10, 1}} {
		if _, err := miss.e.GetTemplate(miss.version, miss.domain, 256); !errors.Is(err, netflow.ErrorTemplateNotFound) {
			t.Errorf("version %d domain %d: err = %v, want ErrorTemplateNotFound", miss.version, miss.domain, err)
		}
	}
	if got := a.GetTemplates(); len(got) != 1 || got[uint64(10)<<48|1<<16|256] == nil {
		t.Errorf("GetTemplates = %v", got)
	}
	if _, err := a.RemoveTemplate(10, 1, 256); err != nil {
		t.Error(err)
	}
	if _, err := a.RemoveTemplate(10, 1, 256); !errors.Is(err, netflow.ErrorTemplateNotFound) {
		t.Errorf("second remove: %v", err)
	}
}

// TestTemplateBound: past the per-exporter bound, the exporter's own
// templates that never decoded data make room, the oldest first; when its
// data uses every template it holds, a new one is refused.
func TestTemplateBound(t *testing.T) {
	s := NewStore(Config{MaxTemplatesPerExporter: 2})
	e := s.Handle(exporterA, 1)
	for id := uint16(256); id < 260; id++ {
		if err := e.AddTemplate(9, 0, id, netflow.TemplateRecord{TemplateId: id, Fields: oneField}); err != nil {
			t.Fatal(err)
		}
		if id == 256 {
			e.UseTemplate(9, 0, id)
		}
	}
	// 257 then 258 were evicted; 256 decodes data and 259 now too.
	for id, want := range map[uint16]bool{256: true, 257: false, 258: false, 259: true} {
		if _, err := e.GetTemplate(9, 0, id); (err == nil) != want {
			t.Errorf("template %d held: %v, want %v", id, err == nil, want)
		}
	}
	e.UseTemplate(9, 0, 259)
	e.AddTemplate(9, 0, 260, netflow.TemplateRecord{TemplateId: 260, Fields: oneField})
	if st := s.Stats(); st.TemplatesEvictedNeverUsed != 2 || st.TemplatesRefusedPerExporter != 1 {
		t.Errorf("stats = %+v, want 2 evicted and 1 refused", st)
	}
	// Replacing a known template is always allowed.
	if err := e.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, FieldCount: 3, Fields: oneField}); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Templates != 2 || st.TemplatesRefusedPerExporter != 1 || st.Exporters != 1 {
		t.Errorf("stats = %+v, want 2 templates and 1 refused", st)
	}
	got, _ := e.GetTemplate(9, 0, 256)
	if got.(netflow.TemplateRecord).FieldCount != 3 {
		t.Error("template 256 was not replaced")
	}
	// Another exporter has its own budget.
	b := s.Handle(exporterB, 1)
	if err := b.AddTemplate(9, 0, 300, netflow.TemplateRecord{Fields: oneField}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetTemplate(9, 0, 300); err != nil {
		t.Error(err)
	}
}

func TestSamplingRates(t *testing.T) {
	s := NewStore(Config{MaxSamplingRatesPerExporter: 2})
	e := s.Handle(exporterA, 1)
	e.SetSamplingRate(SamplerKey{9, 5, 0}, 100)
	e.SetSamplingRate(SamplerKey{9, 5, 2}, 1000)
	e.SetSamplingRate(SamplerKey{9, 5, 3}, 5000) // over the bound
	e.SetSamplingRate(SamplerKey{9, 6, 0}, 0)    // zero ignored
	cases := []struct {
		key  SamplerKey
		rate uint64
		ok   bool
	}{
		{SamplerKey{9, 5, 2}, 1000, true},
		{SamplerKey{9, 5, 3}, 100, true}, // unknown sampler: domain default
		{SamplerKey{9, 5, 0}, 100, true},
		{SamplerKey{9, 6, 0}, 0, false},
		{SamplerKey{10, 5, 2}, 0, false},
	}
	for _, tc := range cases {
		rate, ok := e.SamplingRate(tc.key)
		if rate != tc.rate || ok != tc.ok {
			t.Errorf("%+v: got %d %v, want %d %v", tc.key, rate, ok, tc.rate, tc.ok)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := NewStore(Config{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := record.AddrFrom4([4]byte{192, 0, 2, byte(w % 2)})
			for i := range 200 {
				e := s.Handle(addr, int64(i+1))
				e.AddTemplate(10, uint32(w), uint16(256+i%10), netflow.TemplateRecord{Fields: oneField})
				e.GetTemplate(10, uint32(w), uint16(256+i%10))
				e.SetSamplingRate(SamplerKey{10, uint32(w), uint64(i % 3)}, 10)
				e.SamplingRate(SamplerKey{10, uint32(w), 1})
				if i%50 == 0 {
					s.Snapshot()
					s.Stats()
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Exporters != 2 || st.Templates != 40 {
		t.Errorf("stats = %+v", st)
	}
}

func TestZeroLengthTemplatesWithdraw(t *testing.T) {
	s := NewStore(Config{})
	e := s.Handle(exporterA, 1)
	e.AddTemplate(10, 0, 256, netflow.TemplateRecord{Fields: oneField})
	cases := []any{
		netflow.TemplateRecord{},                                        // IPFIX withdrawal
		netflow.TemplateRecord{Fields: []netflow.Field{{Type: 8}}},      // zero-length field only
		netflow.IPFIXOptionsTemplateRecord{Scopes: []netflow.Field{{}}}, // same for options
		"not a template",
	}
	for i, tmpl := range cases {
		e.AddTemplate(10, 0, 256, netflow.TemplateRecord{Fields: oneField})
		e.AddTemplate(10, 0, 256, tmpl)
		if _, err := e.GetTemplate(10, 0, 256); !errors.Is(err, netflow.ErrorTemplateNotFound) {
			t.Errorf("case %d: template still present", i)
		}
	}
	// Variable-length fields always consume their length prefix.
	e.AddTemplate(10, 0, 257, netflow.TemplateRecord{Fields: []netflow.Field{{Type: 82, Length: 0xffff}}})
	if _, err := e.GetTemplate(10, 0, 257); err != nil {
		t.Error("variable-length template refused")
	}
	if st := s.Stats(); st.TemplatesInvalid != 4 {
		t.Errorf("invalid = %d, want 4", st.TemplatesInvalid)
	}
}
