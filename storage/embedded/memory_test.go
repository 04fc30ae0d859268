package embedded_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
)

// serverSettings reads the engine's memory settings back.
func serverSettings(t *testing.T) map[string]uint64 {
	t.Helper()
	settings, err := embedded.MemorySettings(t.Context(), engine)
	if err != nil {
		t.Fatal(err)
	}
	return settings
}

// memTotal is the machine's memory from /proc/meminfo.
func memTotal(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}

// reopenEngine stops the shared engine and opens it again on the same data
// with memory as its budget: libchdb allows one session per process.
// context.Background: tests restore the defaults in a cleanup, after
// t.Context is canceled.
func reopenEngine(t *testing.T, r *reporter.Reporter, memory embedded.Memory) {
	t.Helper()
	if engine != nil {
		if err := engine.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cfg := embedded.DefaultConfig()
	cfg.DataDir, cfg.Memory = dataDir, memory
	var err error
	if engine, err = embedded.Open(context.Background(), r, cfg); err != nil {
		engine = nil
		t.Fatal(err)
	}
}

// TestMemoryBudget checks that the engine takes its budget from the
// configuration instead of chDB's server defaults (90 % of the machine,
// 5 GiB caches), and that the limit holds: a statement beyond it fails,
// and the engine goes on.
func TestMemoryBudget(t *testing.T) {
	def := embedded.DefaultMemory()
	got := serverSettings(t)
	// Half the machine, or less under a cgroup limit; chDB's own default
	// would be 90 %.
	if limit, total := got["max_server_memory_usage"], memTotal(t); limit == 0 || limit > total/2+total/100 {
		t.Errorf("default max_server_memory_usage = %d, want at most half of the machine's %d bytes", limit, total)
	}
	for name, want := range map[string]uint64{"mark_cache_size": def.MarkCacheSize, "primary_index_cache_size": def.IndexCacheSize, "index_mark_cache_size": def.IndexCacheSize} {
		if got[name] != want {
			t.Errorf("default %s = %d, want %d", name, got[name], want)
		}
	}

	// Reopen on the same data with an explicit budget, then back to the
	// defaults for the tests that follow.
	var logs bytes.Buffer
	r := reporter.New(slog.New(slog.NewTextHandler(&logs, nil)))
	reopen := func(memory embedded.Memory) { reopenEngine(t, r, memory) }
	// Caches of 520 MiB in a 1 GiB budget: valid, but worth a warning.
	budget := embedded.Memory{Limit: 1 << 30, MarkCacheSize: 320 << 20, IndexCacheSize: 100 << 20}
	t.Cleanup(func() { reopen(def) })
	reopen(def)
	if !strings.Contains(logs.String(), "embedded engine open") || strings.Contains(logs.String(), "caches may take") {
		t.Errorf("the default budget: no open logged, or a warning about its caches:\n%s", logs.String())
	}
	reopen(budget)
	if !strings.Contains(logs.String(), "caches may take half its memory limit") {
		t.Errorf("no warning for caches of half the limit:\n%s", logs.String())
	}
	got = serverSettings(t)
	for name, want := range map[string]uint64{"max_server_memory_usage": budget.Limit, "mark_cache_size": budget.MarkCacheSize,
		"primary_index_cache_size": budget.IndexCacheSize, "index_mark_cache_size": budget.IndexCacheSize} {
		if got[name] != want {
			t.Errorf("%s = %d, want %d", name, got[name], want)
		}
	}
	// About 1.6 GB of state in one aggregation: beyond the 1 GiB budget.
	_, err := engine.Query(t.Context(), "SELECT length(groupArray(number)) FROM numbers(200000000)", "TSV")
	if err == nil || !strings.Contains(err.Error(), "MEMORY_LIMIT_EXCEEDED") {
		t.Fatalf("a statement beyond the engine's limit: %v, want MEMORY_LIMIT_EXCEEDED", err)
	}
	if out, err := engine.Query(t.Context(), "SELECT count() FROM numbers(1000)", "TSV"); err != nil || strings.TrimSpace(string(out)) != "1000" {
		t.Fatalf("after a statement beyond the limit: %q, %v", out, err)
	}
}

func TestMemoryValidate(t *testing.T) {
	for _, tc := range []struct {
		memory embedded.Memory
		want   string
	}{
		{embedded.DefaultMemory(), ""},
		{embedded.Memory{Limit: 1 << 30, MarkCacheSize: 1, IndexCacheSize: 1}, ""},
		{embedded.Memory{Limit: 1 << 20, MarkCacheSize: 1, IndexCacheSize: 1}, "memory-limit: must be 0 (half the machine's memory) or at least"},
		{embedded.Memory{Limit: 1 << 30, MarkCacheSize: 512 << 20, IndexCacheSize: 256 << 20}, "memory-limit: 1073741824 bytes leave no room beside the caches"},
		{embedded.Memory{Limit: 1 << 30, MarkCacheSize: 1, IndexCacheSize: 1 << 63}, "leave no room beside the caches (mark-cache-size and twice index-cache-size: 18446744073709551615 bytes)"},
		{embedded.Memory{IndexCacheSize: 1}, "mark-cache-size: must be positive"},
		{embedded.Memory{MarkCacheSize: 1}, "index-cache-size: must be positive"},
	} {
		err := tc.memory.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.memory, err, tc.want)
		}
	}
}

// dirtyBytes is what the engine's allocator keeps resident beyond what it
// has handed out and its own metadata: the pages freed but not given back.
func dirtyBytes(t *testing.T) int64 {
	t.Helper()
	out, err := engine.Query(t.Context(), "SELECT * FROM system.jemalloc_stats", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.ReplaceAll(string(out), `\n`, "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "Allocated: ")
		if !ok {
			continue
		}
		fields := map[string]int64{}
		for part := range strings.SplitSeq(rest, ", ") {
			name, value, _ := strings.Cut(part, ": ")
			value, _, _ = strings.Cut(value, " ")
			fields[name], _ = strconv.ParseInt(value, 10, 64)
		}
		return fields["resident"] - fields["active"] - fields["metadata"]
	}
	t.Fatalf("no Allocated line in the allocator's statistics:\n%.2000s", out)
	return 0
}

// The engine hands the pages a statement freed back to the system every
// purge-interval; without it they stay resident. Both are watched for the
// same two seconds, well within jemalloc's own decay (5 s, and only when
// the engine allocates again), so that decay alone cannot pass the test.
func TestPurgeHandsFreedPagesBack(t *testing.T) {
	r := reporter.New(slog.New(slog.DiscardHandler))
	reopen := func(memory embedded.Memory) { reopenEngine(t, r, memory) }
	t.Cleanup(func() { reopen(embedded.DefaultMemory()) })
	// A hundred thousand small hash sets: hundreds of MiB in the
	// allocator's arenas, freed when the statement ends.
	const churn = "SELECT k, uniqExact(number) FROM (SELECT number % 100000 AS k, number FROM numbers(20000000)) GROUP BY k FORMAT Null"
	const given = 64 << 20
	// watch runs churn and returns the least freed-but-resident bytes
	// seen over the next two seconds.
	watch := func(interval time.Duration) int64 {
		t.Helper()
		m := embedded.DefaultMemory()
		m.PurgeInterval = interval
		reopen(m)
		if _, err := engine.Query(t.Context(), churn, "TSV"); err != nil {
			t.Fatal(err)
		}
		least := dirtyBytes(t)
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && least >= given; {
			time.Sleep(50 * time.Millisecond)
			least = min(least, dirtyBytes(t))
		}
		return least
	}
	if off := watch(0); off < given {
		t.Fatalf("without purging, %d MiB freed but resident after the statement; want at least %d, or this test proves nothing", off>>20, given>>20)
	}
	if on := watch(20 * time.Millisecond); on >= given {
		t.Fatalf("purging every 20 ms: %d MiB still freed but resident 2 s after the statement, want under %d", on>>20, given>>20)
	}
}
