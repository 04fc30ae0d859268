package rollup

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `storage.rollup:` section: how often the roller rolls the
// 1-minute rollups up into the 5-minute and hourly ones on the embedded
// engine (a ClickHouse server fills them with views and runs no roller).
type Config struct {
	// Interval between passes. A pass rolls up every window inserts
	// touched since the last one, so the 5-minute and hourly rollups lag
	// the 1-minute ones by at most about this much. Default 30s.
	Interval time.Duration `yaml:"interval"`
}

// DefaultConfig returns the roller's defaults.
func DefaultConfig() Config { return Config{Interval: 30 * time.Second} }

// Validate names a bad key.
func (c Config) Validate() error {
	if c.Interval < time.Second {
		return fmt.Errorf("interval: must be at least 1s, got %s", c.Interval)
	}
	return nil
}

var errNoStore = errors.New("a store is required")
