package embedded

import "sluice/storage/clickhouse"

// SetQueryLimits lets the tests of the one shared engine change its limits
// in place: libchdb allows one session per process, so they cannot start
// another engine with other limits.
func SetQueryLimits(e *Engine, l clickhouse.QueryLimits) { e.setQueryLimits(l) }
