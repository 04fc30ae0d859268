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
