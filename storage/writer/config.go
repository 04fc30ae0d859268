package writer

import (
	"errors"
	"fmt"
	"time"

	"sluice/storage/migrate"
)

// Config is the batch writer's configuration.
type Config struct {
	// Table receives the flows. Default: sluice.flows. Only flows stored
	// there fill the exporters table, which lists that table's exporters.
	Table string `yaml:"table"`
	// RetryMin is the wait after a first failed insert; it doubles after each
	// further failure up to RetryMax. Defaults: 100ms and 10s.
	RetryMin time.Duration `yaml:"retry-min"`
	RetryMax time.Duration `yaml:"retry-max"`
}

// DefaultConfig returns the default writer configuration.
func DefaultConfig() Config {
	return Config{
		Table:    migrate.FlowsTable,
		RetryMin: 100 * time.Millisecond,
		RetryMax: 10 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Table == "" {
		return errors.New("table: must not be empty")
	}
	if c.RetryMin <= 0 {
		return fmt.Errorf("retry-min: must be positive, got %s", c.RetryMin)
	}
	if c.RetryMax < c.RetryMin {
		return fmt.Errorf("retry-max: must be at least retry-min (%s), got %s", c.RetryMin, c.RetryMax)
	}
	return nil
}
