package templates

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/pipeline/record"
)

// seenAt is a receive time in the hour before now, as Unix nanoseconds.
func seenAt(now time.Time, ago time.Duration) int64 { return now.Add(-ago).UnixNano() }

// TestSnapshotFileRoundTrip saves every kind of template and a sampling
// rate to a file and restores them into a fresh store, as a restart does.
func TestSnapshotFileRoundTrip(t *testing.T) {
	now := time.Now()
	s := NewStore(Config{})
	a, b := s.Handle(exporterA, seenAt(now, time.Minute)), s.Handle(exporterB, seenAt(now, 2*time.Minute))
	ipfixOpts := netflow.IPFIXOptionsTemplateRecord{TemplateId: 512, FieldCount: 2, ScopeFieldCount: 1,
		Scopes: []netflow.Field{{Type: 302, Length: 4}}, Options: []netflow.Field{{Type: 305, Length: 4}}}
	enterprise := netflow.TemplateRecord{TemplateId: 300, FieldCount: 2,
		Fields: []netflow.Field{{Type: 8, Length: 4}, {PenProvided: true, Type: 1, Length: 8, Pen: 29305}}}
	a.AddTemplate(10, 7, 300, enterprise)
	a.AddTemplate(10, 7, 512, ipfixOpts)
	b.AddTemplate(9, 1, 256, netflow.NFv9OptionsTemplateRecord{TemplateId: 256, ScopeLength: 4, OptionLength: 4,
		Scopes: []netflow.Field{{Type: 1, Length: 4}}, Options: oneField})
	b.SetSamplingRate(SamplerKey{9, 1, 4}, 512)
	b.SetInterface(InterfaceKey{9, 1, 17}, InterfaceNames{"Te0/0/1", "TenGigabitEthernet0/0/1"})
	v6 := record.Addr(netip.MustParseAddr("2001:db8::1").As16())
	c := s.Handle(v6, seenAt(now, time.Second))
	c.AddTemplate(9, 0, 260, netflow.TemplateRecord{TemplateId: 260, FieldCount: 1, Fields: oneField})

	path := filepath.Join(t.TempDir(), "collector", "templates.json")
	if err := WriteFile(path, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if leftovers, _ := filepath.Glob(path + ".tmp-*"); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	snap, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	restored := NewStore(Config{})
	st := restored.Restore(snap, now)
	if want := (RestoreStats{Exporters: 3, Templates: 4, SamplingRates: 1, Interfaces: 1}); st != want {
		t.Errorf("restore stats = %+v, want %+v", st, want)
	}
	if got, want := restored.Snapshot(), s.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("restored state differs:\n got %+v\nwant %+v", got, want)
	}
	rb := restored.Handle(exporterB, now.UnixNano())
	if names, ok := rb.Interface(InterfaceKey{9, 1, 17}); !ok || names.Name != "Te0/0/1" {
		t.Errorf("interface = %+v %v", names, ok)
	}
	if rate, ok := rb.SamplingRate(SamplerKey{9, 1, 4}); !ok || rate != 512 {
		t.Errorf("rate = %d %v", rate, ok)
	}
	if tmpl, err := rb.GetTemplate(9, 1, 256); err != nil {
		t.Error(err)
	} else if _, ok := tmpl.(netflow.NFv9OptionsTemplateRecord); !ok {
		t.Errorf("template type %T", tmpl)
	}
}

// TestRestoreExpiryAndBounds: an exporter idle for longer than
// ExporterIdle is not restored, and a smaller bound keeps the most recently
// seen exporters.
func TestRestoreExpiryAndBounds(t *testing.T) {
	now := time.Now()
	var snap Snapshot
	tmpl := netflow.TemplateRecord{TemplateId: 256, FieldCount: 1, Fields: oneField}
	for i, ago := range []time.Duration{3 * time.Hour, time.Minute, 30 * time.Minute, 10 * time.Minute} {
		snap.Exporters = append(snap.Exporters, ExporterSnapshot{
			Address:   netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
			LastSeen:  seenAt(now, ago),
			Templates: []TemplateEntry{{TemplateKey{10, 0, 256}, tmpl, 0}},
		})
	}

	r := NewStore(Config{MaxExporters: 2})
	st := r.Restore(snap, now)
	if want := (RestoreStats{Exporters: 2, Templates: 2, Expired: 1, Refused: 1}); st != want {
		t.Errorf("restore stats = %+v, want %+v", st, want)
	}
	// A restored exporter keeps its last-seen time, so it expires on
	// schedule: 55 minutes later, the one seen 10 minutes before now goes.
	got := r.Snapshot()
	if len(got.Exporters) != 2 || got.Exporters[0].Address != snap.Exporters[1].Address || got.Exporters[0].LastSeen != snap.Exporters[1].LastSeen ||
		got.Exporters[1].Address != snap.Exporters[3].Address {
		t.Errorf("restored exporters = %+v, want 192.0.2.2 then 192.0.2.4 with their last-seen times", got.Exporters)
	}
	if n := r.Expire(now.Add(55 * time.Minute)); n != 1 {
		t.Errorf("expired %d exporters 55 minutes later, want 1", n)
	}
}

// TestChanges: only real changes move the counter a persister watches.
func TestChanges(t *testing.T) {
	s := NewStore(Config{})
	h := s.Handle(exporterA, 1)
	tmpl := netflow.TemplateRecord{TemplateId: 256, Fields: oneField}
	steps := []struct {
		name    string
		do      func()
		changed bool
	}{
		{"new template", func() { h.AddTemplate(9, 0, 256, tmpl) }, true},
		{"same template again", func() { h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: oneField}) }, false},
		{"template redefined", func() {
			h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: []netflow.Field{{Type: 12, Length: 4}}})
		}, true},
		{"new rate", func() { h.SetSamplingRate(SamplerKey{9, 0, 1}, 100) }, true},
		{"same rate", func() { h.SetSamplingRate(SamplerKey{9, 0, 1}, 100) }, false},
		{"rate changed", func() { h.SetSamplingRate(SamplerKey{9, 0, 1}, 200) }, true},
		{"seen again", func() { s.Handle(exporterA, 2) }, false},
		{"template withdrawn", func() { h.RemoveTemplate(9, 0, 256) }, true},
		{"exporter expired", func() { s.Expire(time.Unix(0, 0).Add(2 * time.Hour)) }, true},
	}
	for _, step := range steps {
		before := s.Changes()
		step.do()
		if changed := s.Changes() != before; changed != step.changed {
			t.Errorf("%s: changed = %v, want %v", step.name, changed, step.changed)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if snap, err := ReadFile(filepath.Join(dir, "absent.json")); err != nil || len(snap.Exporters) != 0 {
		t.Errorf("missing file: %+v, %v; want empty, no error", snap, err)
	}
	for name, content := range map[string]string{
		"torn":         `{"version":1,"exporters":[{"address":"192.0.2.1"`,
		"future":       `{"version":2,"exporters":[]}`,
		"unknown kind": `{"version":1,"exporters":[{"address":"192.0.2.1","last_seen":1,"templates":[{"key":{"version":9,"domain":0,"id":256},"kind":"nope","template":{}}]}]}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}

// TestRestoredExporterKeepsStanding: an exporter whose templates decoded
// data just before a restart is, after the restore, still one whose data
// uses its templates: a new (spoofed) exporter at MaxExporters is refused
// rather than evicting it.
func TestRestoredExporterKeepsStanding(t *testing.T) {
	now := time.Now()
	s := NewStore(Config{MaxExporters: 2})
	h := s.Handle(exporterA, now.UnixNano())
	h.AddTemplate(9, 0, 256, netflow.TemplateRecord{TemplateId: 256, Fields: oneField})
	if _, err := h.UseTemplate(9, 0, 256); err != nil {
		t.Fatal(err)
	}
	r := NewStore(Config{MaxExporters: 1})
	r.Restore(s.Snapshot(), now)
	later := now.Add(2 * time.Second).UnixNano()
	spoofed := r.Handle(record.AddrFrom4([4]byte{198, 51, 100, 7}), later)
	spoofed.AddTemplate(9, 0, 999, netflow.TemplateRecord{TemplateId: 999, Fields: oneField})
	if !held(r.Handle(exporterA, later), 256) {
		t.Errorf("restored exporter in use evicted for a spoofed one: %+v", r.Stats())
	}
	if st := r.Stats(); st.ExportersRefused != 1 || st.ExportersEvicted != 0 {
		t.Errorf("stats = %+v, want the spoofed exporter refused", st)
	}
}

// TestOldFileTemplatesCountAsUsed: a templates.json written before
// templates had last_used reads its templates as used when their exporter
// was last seen (not as never used, which would make them the first
// evicted after the upgrade); last_used written as 0 stays never used.
func TestOldFileTemplatesCountAsUsed(t *testing.T) {
	now := time.Now()
	seen := seenAt(now, time.Minute)
	path := filepath.Join(t.TempDir(), "templates.json")
	old := fmt.Sprintf(`{"version":1,"exporters":[{"address":"192.0.2.1","last_seen":%d,"templates":[
		{"key":{"version":9,"domain":0,"id":256},"kind":"template","template":{"TemplateId":256,"FieldCount":1,"Fields":[{"Type":8,"Length":4}]}},
		{"key":{"version":9,"domain":0,"id":257},"kind":"template","template":{"TemplateId":257,"FieldCount":1,"Fields":[{"Type":8,"Length":4}]},"last_used":0}]}]}`, seen)
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := snap.Exporters[0].Templates
	if len(got) != 2 || got[0].LastUsed != seen || got[1].LastUsed != 0 {
		t.Fatalf("templates read %+v, want 256 used at last seen (%d), 257 never used", got, seen)
	}
	// Written again, a never-used template says so explicitly.
	if err := WriteFile(path, snap); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"last_used":0`) {
		t.Errorf("never-used template written without last_used: %s", data)
	}
	if again, err := ReadFile(path); err != nil || !reflect.DeepEqual(again, snap) {
		t.Errorf("read again %+v, %v; want %+v", again, err, snap)
	}
}
