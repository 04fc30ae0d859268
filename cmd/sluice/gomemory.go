package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// minGoMemoryLimit is the smallest go-memory-limit accepted: below it the
// collector would run all the time.
const minGoMemoryLimit = 64 << 20

// Bytes of the records' budget (README, Memory budget): a record in memory,
// and the Native encoding of an insert's row beside it.
const (
	recordBytes     = int64(unsafe.Sizeof(record.Flow{}))
	encodedRowBytes = 260
	gatheredCopies  = 4 // an insert's rows are held about this many times over while gathered (pipeline.Config)
)

// goMemoryBudget is the Go heap budget of `sluice run`: the records its
// queue and its pipeline may hold at most (the README's Memory budget),
// what the heap held once everything was built (enrichment tables,
// templates), and a quarter of both on top, where garbage gathers between
// two collections. It leaves out an analyst's answer held until written
// (up to storage.sql.max-result-bytes): one that arrives while the queue
// is full takes the heap past it, and the collector then runs more often
// (at most half the CPU) until the answer is written.
func goMemoryBudget(cfg Config, startupHeap int64) int64 {
	records := int64(cfg.Queue.Batches)*int64(cfg.Collector.BatchSize)*recordBytes +
		gatheredCopies*int64(cfg.Pipeline.BatchRows)*recordBytes + int64(cfg.Pipeline.BatchRows)*encodedRowBytes
	// Never below the smallest limit accepted: a tiny queue and batches
	// (a test's, say) would have the collector run all the time.
	return max((records+startupHeap)*5/4, minGoMemoryLimit)
}

// applyGoMemoryLimit bounds the Go heap and turns the proportional
// collector off, so that the heap grows to the limit and is collected
// there: the resident set then stays near a budget the configuration sets,
// instead of following twice the heap in use, which rises and falls with
// the records the queue holds while storage is busy (BENCHMARKS.md, seventh
// round). computed is the budget for limit 0 (nil or 0: none). GOMEMLIMIT or GOGC
// in the environment win, as for any Go program.
func applyGoMemoryLimit(r *reporter.Reporter, limit int64, computed func() int64) {
	if limit == 0 && computed != nil {
		limit = computed()
	}
	if limit <= 0 {
		return
	}
	if env := goGCEnvironment(); env != "" {
		r.Info("Go heap: the environment sets the collector; go-memory-limit not applied", "environment", env)
		return
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(-1)
	// Said before the pages are touched: a budget the machine cannot hold
	// ends the process there.
	r.Info("Go heap bounded; touching its pages", "go_memory_limit", limit)
	r.Debug("Go heap touched", "bytes", preTouchHeap(limit))
}

// preTouchHeap writes to enough fresh heap pages to bring the heap to
// seven eighths of limit, then frees them, and returns how many bytes it
// touched. The pages stay resident and mapped for later allocations (the
// runtime hands back only what exceeds 95 % of the limit), so the resident
// set is the budget from the start instead of reaching it over minutes,
// page by page, as the heap first cycles through it; and a budget the
// machine or cgroup cannot hold fails now, not hours in. The JVM's
// AlwaysPreTouch does the same.
func preTouchHeap(limit int64) int64 {
	// The heap as it is: the computed budget has just collected it once.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	n := limit*7/8 - int64(m.HeapAlloc)
	if n <= 0 {
		return 0
	}
	const page = 4096
	b := make([]byte, n)
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	runtime.GC()
	return n
}

// goGCEnvironment names the collector's settings in the environment.
func goGCEnvironment() string {
	var set []string
	for _, name := range []string{"GOMEMLIMIT", "GOGC"} {
		if v, ok := os.LookupEnv(name); ok {
			set = append(set, name+"="+v)
		}
	}
	return strings.Join(set, " ")
}

// liveHeap is the heap's live bytes after a collection: what start-up left.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
