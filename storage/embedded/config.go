package embedded

import (
	"errors"
	"fmt"

	"sluice/storage/clickhouse"
)

// Config is the embedded engine's configuration.
type Config struct {
	// DataDir holds the engine's databases (DataDir/clickhouse) and its
	// insert spool (DataDir/spool); data written there survives a restart.
	DataDir string
	// QueryLimits bound each read-only query (QueryReadOnly).
	QueryLimits clickhouse.QueryLimits
	// Memory is the engine's memory budget.
	Memory Memory
}

// DefaultConfig returns the default configuration; DataDir is left for
// the caller to set.
func DefaultConfig() Config {
	return Config{QueryLimits: clickhouse.DefaultQueryLimits(), Memory: DefaultMemory()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data directory: must not be empty")
	}
	if err := c.QueryLimits.Validate(); err != nil {
		return fmt.Errorf("query limits: %w", err)
	}
	if err := c.Memory.Validate(); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	return nil
}
