package embedded

import (
	"context"

	"sluice/storage/clickhouse"
)

// SetQueryLimits lets the tests of the one shared engine change its limits
// in place: libchdb allows one session per process, so they cannot start
// another engine with other limits.
func SetQueryLimits(e *Engine, l clickhouse.QueryLimits) { e.setQueryLimits(l) }

// LeaveDatabase stands for a failed restore of the current database after
// a request's own: the next statement must restore it.
func LeaveDatabase(e *Engine, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queryLocked(context.Background(), "USE "+clickhouse.QuoteIdentifier(name), "TSV", false)
	e.restoreDatabase = "default"
}

// EngineMessage is engineMessage, for its table test.
var EngineMessage = engineMessage

// MemorySettings reads the engine's memory settings as the engine reads
// them back when it opens, each by its ClickHouse name.
func MemorySettings(ctx context.Context, e *Engine) (map[string]uint64, error) {
	out, err := e.Query(ctx, memorySettingsQuery, "TSV")
	if err != nil {
		return nil, err
	}
	return parseMemorySettings(out)
}
