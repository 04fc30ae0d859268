package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `pipeline:` section.
type Config struct {
	// BatchRows is the number of records that triggers an insert.
	BatchRows int `yaml:"batch-rows"`
	// FlushInterval is the longest a record waits before being inserted.
	FlushInterval time.Duration `yaml:"flush-interval"`
}

// DefaultConfig inserts every 50,000 records or every 2 seconds.
func DefaultConfig() Config {
	return Config{BatchRows: 50_000, FlushInterval: 2 * time.Second}
}

// Validate names bad keys.
func (c Config) Validate() error {
	var errs []error
	if c.BatchRows < 1 {
		errs = append(errs, fmt.Errorf("batch-rows: must be at least 1, got %d", c.BatchRows))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush-interval: must be positive, got %s", c.FlushInterval))
	}
	return errors.Join(errs...)
}
