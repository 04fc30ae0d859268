package embedded

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	chdb "sluice/storage/embedded/internal/chdbpurego"
)

// Memory is the embedded engine's memory budget, the `storage.embedded:`
// section. chDB's own defaults are a server's: 90 % of the machine for the
// engine and 5 GiB for each of its mark and index caches, as though
// nothing else ran beside it; here the collector's and pipeline's queues
// share the process.
type Memory struct {
	// Limit bounds all the engine holds at once (ClickHouse's
	// max_server_memory_usage): an insert or query that would go beyond
	// it fails with MEMORY_LIMIT_EXCEEDED (an insert is retried). 0 is
	// half the machine's memory, or of its cgroup's limit.
	Limit uint64 `yaml:"memory-limit"`
	// MarkCacheSize bounds the cache of the tables' marks (where each
	// granule starts in a column file), which queries read first.
	MarkCacheSize uint64 `yaml:"mark-cache-size"`
	// IndexCacheSize bounds each of the primary-index cache and the
	// skip-index mark cache.
	IndexCacheSize uint64 `yaml:"index-cache-size"`
	// PurgeInterval is how often the engine hands the pages its allocator
	// (jemalloc) freed back to the system (default 10s; 0 never). A
	// ClickHouse server does so from a background thread; chDB does not,
	// and the pages a query's aggregation freed stayed resident: beside
	// 150 MiB allocated, 700 MiB. A purge takes the engine about 20 ms.
	PurgeInterval time.Duration `yaml:"purge-interval"`
}

// minMemoryLimit is the least Limit accepted: below it merges of the wide
// raw table's parts fail.
const minMemoryLimit = 512 << 20

// DefaultMemory: half the machine, 512 MiB of marks, 256 MiB of each index
// cache, freed pages handed back every 10 s.
func DefaultMemory() Memory {
	return Memory{MarkCacheSize: 512 << 20, IndexCacheSize: 256 << 20, PurgeInterval: 10 * time.Second}
}

// caches is what the three caches may hold together, saturated rather
// than wrapped around.
func (m Memory) caches() uint64 {
	const most = ^uint64(0)
	if m.IndexCacheSize > (most-m.MarkCacheSize)/2 {
		return most
	}
	return m.MarkCacheSize + 2*m.IndexCacheSize
}

// Validate names each bad key.
func (m Memory) Validate() error {
	var errs []error
	if m.Limit != 0 && m.Limit < minMemoryLimit {
		errs = append(errs, fmt.Errorf("memory-limit: must be 0 (half the machine's memory) or at least %d bytes, and more than the caches, got %d", minMemoryLimit, m.Limit))
	}
	if m.PurgeInterval < 0 {
		errs = append(errs, fmt.Errorf("purge-interval: must be >= 0, got %s", m.PurgeInterval))
	}
	if m.MarkCacheSize == 0 {
		errs = append(errs, errors.New("mark-cache-size: must be positive"))
	}
	if m.IndexCacheSize == 0 {
		errs = append(errs, errors.New("index-cache-size: must be positive"))
	}
	if m.Limit >= minMemoryLimit && m.caches() >= m.Limit {
		errs = append(errs, fmt.Errorf("memory-limit: %d bytes leave no room beside the caches (mark-cache-size and twice index-cache-size: %d bytes)",
			m.Limit, m.caches()))
	}
	return errors.Join(errs...)
}

// args are the engine's command-line configuration overrides for m, which
// clickhouse-local (and so chDB) takes after "--".
func (m Memory) args() []string {
	limit := "--max_server_memory_usage_to_ram_ratio=0.5"
	if m.Limit != 0 {
		limit = "--max_server_memory_usage=" + strconv.FormatUint(m.Limit, 10)
	}
	index := strconv.FormatUint(m.IndexCacheSize, 10)
	return []string{
		"--",
		limit,
		"--mark_cache_size=" + strconv.FormatUint(m.MarkCacheSize, 10),
		"--primary_index_cache_size=" + index,
		"--index_mark_cache_size=" + index,
	}
}

// memorySettingsQuery reads the engine's memory settings, as TSV name and
// value lines (parseMemorySettings).
const memorySettingsQuery = `SELECT name, value FROM system.server_settings
	WHERE name IN ('max_server_memory_usage', 'mark_cache_size', 'primary_index_cache_size', 'index_mark_cache_size')`

// parseMemorySettings reads memorySettingsQuery's answer.
func parseMemorySettings(tsv []byte) (map[string]uint64, error) {
	settings := map[string]uint64{}
	for line := range strings.Lines(string(tsv)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), "\t")
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s = %q: %w", name, value, err)
		}
		settings[name] = n
	}
	return settings, nil
}

// readMemoryBudget reads back the budget the engine applied: the limit
// that half the machine came to, and the caches, which ClickHouse lowers
// to half the machine's memory if asked for more. The index cache is the
// larger of the two index caches.
func readMemoryBudget(conn chdb.ChdbConn) (Memory, error) {
	res, err := conn.Query(memorySettingsQuery, "TSV")
	if err != nil {
		return Memory{}, err
	}
	if res == nil {
		return Memory{}, errors.New("no result")
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return Memory{}, err
	}
	settings, err := parseMemorySettings(res.Buf())
	if err != nil {
		return Memory{}, err
	}
	m := Memory{
		Limit:          settings["max_server_memory_usage"],
		MarkCacheSize:  settings["mark_cache_size"],
		IndexCacheSize: max(settings["primary_index_cache_size"], settings["index_mark_cache_size"]),
	}
	if m.Limit == 0 {
		return Memory{}, errors.New("max_server_memory_usage missing from system.server_settings")
	}
	return m, nil
}
