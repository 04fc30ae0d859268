package main

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"sluice/internal/reporter"
)

// The computed budget is the README's Memory budget for the records (the
// queue's 8 × 8192 records, an insert's 50,000 rows gathered four times
// over and encoded), what start-up left in the heap, and a quarter more.
func TestGoMemoryBudget(t *testing.T) {
	const (
		queue     = 8 * 8192 * 864
		gathering = 4 * 50000 * 864
		encoding  = 50000 * 260
		startup   = 100 << 20
	)
	if recordBytes != 864 {
		t.Fatalf("a record is %d bytes, the README's Memory budget says 864", recordBytes)
	}
	if got, want := goMemoryBudget(DefaultConfig(), startup), int64(queue+gathering+encoding+startup)*5/4; got != want {
		t.Errorf("budget %d, want %d", got, want)
	}
	cfg := DefaultConfig()
	cfg.Queue.Batches *= 2
	if got, want := goMemoryBudget(cfg, startup), int64(2*queue+gathering+encoding+startup)*5/4; got != want {
		t.Errorf("budget with twice the queue %d, want %d", got, want)
	}
	cfg = DefaultConfig()
	cfg.Queue.Batches, cfg.Collector.BatchSize, cfg.Pipeline.BatchRows = 1, 64, 1000
	if got := goMemoryBudget(cfg, 10<<20); got != minGoMemoryLimit {
		t.Errorf("budget of a tiny queue and batches %d, want the smallest limit accepted, %d", got, int64(minGoMemoryLimit))
	}
}

// A limit bounds the heap with the proportional collector off, unless the
// environment sets the collector; none leaves Go's default.
func TestApplyGoMemoryLimit(t *testing.T) {
	for _, name := range []string{"GOMEMLIMIT", "GOGC"} {
		if v, ok := os.LookupEnv(name); ok {
			os.Unsetenv(name)
			t.Cleanup(func() { os.Setenv(name, v) })
		}
	}
	prevLimit, prevPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	t.Cleanup(func() {
		debug.SetMemoryLimit(prevLimit)
		debug.SetGCPercent(prevPercent)
	})
	var log bytes.Buffer
	r := reporter.New(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))

	applyGoMemoryLimit(r, 0, nil)
	if limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1); percent != 100 || limit != prevLimit {
		t.Errorf("no computed budget: GOGC %d, limit %d; want Go's default", percent, limit)
	}
	debug.SetGCPercent(100)

	applyGoMemoryLimit(r, 0, func() int64 { return 256 << 20 })
	if limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100); limit != 256<<20 || percent != -1 {
		t.Errorf("computed budget: GOGC %d, limit %d; want off and 256 MiB", percent, limit)
	}
	// 7/8 of 256 MiB less the live heap (this test binary's: a few MiB).
	if m := regexp.MustCompile(`Go heap touched.* bytes=(\d+)`).FindStringSubmatch(log.String()); m == nil || len(m[1]) < 9 {
		t.Errorf("the heap's pages were not touched up to the budget:\n%s", log.String())
	}
	debug.SetMemoryLimit(prevLimit)

	applyGoMemoryLimit(r, 384<<20, func() int64 { t.Error("computed though set"); return 0 })
	if limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100); limit != 384<<20 || percent != -1 {
		t.Errorf("go-memory-limit 384 MiB: GOGC %d, limit %d", percent, limit)
	}
	debug.SetMemoryLimit(prevLimit)

	t.Setenv("GOGC", "200")
	applyGoMemoryLimit(r, 2<<30, func() int64 { return 0 })
	if limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100); limit == 2<<30 || percent != 100 {
		t.Errorf("GOGC in the environment: GOGC %d, limit %d; want them left alone", percent, limit)
	}
	if !strings.Contains(log.String(), "GOGC=200") {
		t.Errorf("the log does not say the environment won:\n%s", log.String())
	}
}
