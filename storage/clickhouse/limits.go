package clickhouse

import (
	"errors"
	"fmt"
	"time"
)

// QueryLimits bound what one analyst query may cost, on the embedded engine
// (where inserts wait while a query runs) as on a server.
type QueryLimits struct {
	// MaxExecutionTime stops a query that runs longer. On the embedded
	// engine inserts wait while a query runs, so this also bounds how long
	// ingestion can stall.
	MaxExecutionTime time.Duration `yaml:"max-execution-time"`
	// MaxResultBytes refuses a result larger than this: it is held in
	// memory, by the engine and by the HTTP answer.
	MaxResultBytes uint64 `yaml:"max-result-bytes"`
	// MaxMemoryUsage stops a query that needs more memory than this.
	MaxMemoryUsage uint64 `yaml:"max-memory-usage"`
}

// DefaultQueryLimits: 60 s, 256 MiB of result, 4 GiB of memory.
func DefaultQueryLimits() QueryLimits {
	return QueryLimits{MaxExecutionTime: time.Minute, MaxResultBytes: 256 << 20, MaxMemoryUsage: 4 << 30}
}

// Validate names each bad key.
func (l QueryLimits) Validate() error {
	var errs []error
	if l.MaxExecutionTime < time.Second || l.MaxExecutionTime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("max-execution-time: must be whole seconds, at least 1s, got %s", l.MaxExecutionTime))
	}
	if l.MaxResultBytes == 0 {
		errs = append(errs, errors.New("max-result-bytes: must be positive"))
	}
	if l.MaxMemoryUsage == 0 {
		errs = append(errs, errors.New("max-memory-usage: must be positive"))
	}
	return errors.Join(errs...)
}

// Settings is the list of ClickHouse settings that enforce the limits, for
// a query's SETTINGS clause. An oversized result is an error, never a
// silently truncated answer.
func (l QueryLimits) Settings() string {
	return fmt.Sprintf("max_execution_time = %d, max_result_bytes = %d, result_overflow_mode = 'throw', max_memory_usage = %d",
		int(l.MaxExecutionTime/time.Second), l.MaxResultBytes, l.MaxMemoryUsage)
}
