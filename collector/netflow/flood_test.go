package netflow

import (
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sluice/collector/netflow/netflowtest"
	"sluice/collector/templates"
	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// The flood of the reliability report (issue 20): 20,000 NetFlow v9
// datagrams from 200 spoofed addresses, 50 templates of 10 fields each, in
// 4 s of receive time. No data record uses any of them.
const (
	floodDatagrams     = 20_000
	floodSources       = 200
	floodTemplates     = 50
	floodFields        = 10
	floodInterval      = 200 * time.Microsecond
	newExporters       = 12
	newExporterData    = 25 // data datagrams per new exporter
	newExporterRecords = 25 // records per data datagram
)

// TestTemplateFloodDoesNotLockOutNewExporters: after a template flood from
// spoofed sources has filled the store's bounds, exporters never seen
// before have every template accepted and every flow decoded, whether they
// start after the flood or during it; the store and its persisted state
// stay within their bounds, and the log names the evictions.
func TestTemplateFloodDoesNotLockOutNewExporters(t *testing.T) {
	cfg := DefaultConfig()
	datagrams := floodDatagrams
	if raceEnabled {
		// The unit tier runs the whole flood (6 s); under the race
		// detector goflow2's template parsing is 14 times slower, so the
		// race tier floods a tenth of the datagrams into a tenth of the
		// total bound: the store still fills 9 times over.
		datagrams /= 10
		cfg.Templates.MaxTemplateFields /= 10
	}
	d := New(cfg)
	var log netflowtest.Log
	d.Templates().SetReporter(reporter.New(slog.New(slog.NewTextHandler(&log, nil))))
	defer d.Templates().Close()
	rng := rand.New(rand.NewPCG(20, 2))
	now := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC).UnixNano()
	floodOne := func(i int) {
		now += int64(floodInterval)
		src := record.AddrFrom4([4]byte{127, 1, 0, byte(i % floodSources)})
		d.Decode(src, now, netflowtest.FloodDatagram(rng, floodTemplates, floodFields), noEmit)
	}
	for i := range datagrams {
		floodOne(i)
	}
	checkBounds(t, "after the flood", d.Templates(), cfg.Templates)
	flood := d.Templates().Stats()
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	t.Logf("heap in use after the flood: %.0f MiB", float64(mem.HeapInuse)/(1<<20))
	t.Logf("after the flood: %d exporters, %d templates, %d fields; evicted %d (never used), refused %d (exporter bound) %d (total bound)",
		flood.Exporters, flood.Templates, flood.TemplateFields, flood.TemplatesEvictedNeverUsed,
		flood.TemplatesRefusedPerExporter, flood.TemplatesRefusedTotal)
	if flood.TemplateFields < cfg.Templates.MaxTemplateFields-floodFields {
		t.Fatalf("the flood filled %d of %d template fields: it does not reach the total bound", flood.TemplateFields, cfg.Templates.MaxTemplateFields)
	}

	// 12 new exporters start after the flood, 12 others while it goes on:
	// a flood datagram between any two of theirs.
	for _, phase := range []struct {
		name   string
		prefix byte
		during bool
	}{{"after the flood", 2, false}, {"during the flood", 3, true}} {
		flows := 0
		for e := range newExporters {
			src := record.AddrFrom4([4]byte{127, phase.prefix, 0, byte(1 + e)})
			datagrams := [][]byte{netflowtest.ExporterTemplate(uint32(e))}
			for i := range newExporterData {
				datagrams = append(datagrams, netflowtest.ExporterData(uint32(e), i*newExporterRecords, newExporterRecords))
			}
			for i, p := range datagrams {
				if phase.during {
					floodOne(i)
				}
				now += int64(floodInterval)
				st, err := d.Decode(src, now, p, noEmit)
				if err != nil {
					t.Errorf("%s: exporter %v: %v", phase.name, src.Netip(), err)
				}
				flows += st.Flows
			}
		}
		want := newExporters * newExporterData * newExporterRecords
		t.Logf("new exporters %s: %d of %d flows decoded", phase.name, flows, want)
		if flows != want {
			t.Errorf("new exporters %s: %d of %d flows decoded", phase.name, flows, want)
		}
	}
	checkBounds(t, "after the new exporters", d.Templates(), cfg.Templates)

	// The persisted state: within its bound, and the new exporters'
	// templates (which decode data) in it.
	snap, omitted := d.Templates().SnapshotToPersist()
	path := filepath.Join(t.TempDir(), "templates.json")
	if err := templates.WriteFile(path, snap); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("persisted state: %d bytes (bound %d), %d exporters, %d entries left out", info.Size(), cfg.Templates.MaxStateBytes, len(snap.Exporters), omitted)
	if info.Size() > int64(cfg.Templates.MaxStateBytes) {
		t.Errorf("persisted state of %d bytes, bound %d", info.Size(), cfg.Templates.MaxStateBytes)
	}
	read, err := templates.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, es := range read.Exporters {
		for _, te := range es.Templates {
			if te.LastUsed != 0 {
				used++
			}
		}
	}
	if used != 2*newExporters {
		t.Errorf("%d templates that decoded data persisted, want %d", used, 2*newExporters)
	}

	// The log names the evictions, and the exporter.
	logged := log.String()
	if !strings.Contains(logged, "template evicted to make room: it never decoded a data record") || !strings.Contains(logged, "exporter=127.1.0.") {
		t.Errorf("no eviction naming a flooding exporter logged:\n%.2000s", logged)
	}
}

// checkBounds fails the test if the store holds more than cfg allows.
func checkBounds(t *testing.T, when string, s *templates.Store, cfg templates.Config) {
	t.Helper()
	st := s.Stats()
	if st.TemplateFields > cfg.MaxTemplateFields || st.Exporters > cfg.MaxExporters {
		t.Errorf("%s: %d template fields (bound %d), %d exporters (bound %d)", when, st.TemplateFields, cfg.MaxTemplateFields, st.Exporters, cfg.MaxExporters)
	}
	for _, es := range s.Snapshot().Exporters {
		if len(es.Templates) > cfg.MaxTemplatesPerExporter {
			t.Errorf("%s: exporter %v holds %d templates (bound %d)", when, es.Address, len(es.Templates), cfg.MaxTemplatesPerExporter)
		}
	}
}
