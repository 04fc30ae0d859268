package migrate

import (
	"errors"
	"fmt"
	"time"
)

// Config is the schema's configuration: how long each table keeps rows.
// A TTL is set when a table is created and applied again at every start
// (ApplyTTL), so a change takes effect on existing tables; 0 means no TTL
// for a new table.
type Config struct {
	// TTL of the raw flows table. Default 15 days.
	TTL time.Duration `yaml:"ttl"`
	// TTL1m, TTL5m and TTL1h are the rollups' retentions (every rollup
	// family of that grain). Defaults 7 days, 90 days and 1 year.
	TTL1m time.Duration `yaml:"ttl-1m"`
	TTL5m time.Duration `yaml:"ttl-5m"`
	TTL1h time.Duration `yaml:"ttl-1h"`
	// TTLAlerts is how long the alerts table keeps detections' alerts.
	// Default 1 year.
	TTLAlerts time.Duration `yaml:"ttl-alerts"`
	// TTLCounters is the retention of interface_counters (sFlow counter
	// samples). Default 90 days.
	TTLCounters time.Duration `yaml:"ttl-counters"`
	// Cluster, when set, is the ClickHouse cluster (from the server's
	// remote_servers) the schema is created on: every statement runs ON
	// CLUSTER, data tables are Replicated, and the public tables are
	// Distributed over them. Empty (the default) is a single node.
	Cluster string `yaml:"cluster"`
}

const day = 24 * time.Hour

// DefaultConfig returns the default retentions.
func DefaultConfig() Config {
	return Config{TTL: 15 * day, TTL1m: 7 * day, TTL5m: 90 * day, TTL1h: 365 * day, TTLAlerts: 365 * day, TTLCounters: 90 * day}
}

// Validate checks the configuration, naming each bad key.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		key string
		ttl time.Duration
	}{{"ttl", c.TTL}, {"ttl-1m", c.TTL1m}, {"ttl-5m", c.TTL5m}, {"ttl-1h", c.TTL1h}, {"ttl-alerts", c.TTLAlerts}, {"ttl-counters", c.TTLCounters}} {
		if f.ttl < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", f.key, f.ttl))
		} else if f.ttl%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s: must be whole seconds, got %s", f.key, f.ttl))
		}
	}
	return errors.Join(errs...)
}
