package migrate

import (
	"fmt"
	"time"
)

// Config is the schema's configuration.
type Config struct {
	// TTL deletes flows whose TimeReceived is older than this. 0 (the
	// default) keeps them forever. It is written into the table when the
	// table is created; changing it for an existing table needs an ALTER
	// migration that does not exist yet.
	TTL time.Duration `yaml:"ttl"`
}

// DefaultConfig returns the default schema configuration.
func DefaultConfig() Config {
	return Config{}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.TTL < 0 {
		return fmt.Errorf("ttl: must not be negative, got %s", c.TTL)
	}
	if c.TTL%time.Second != 0 {
		return fmt.Errorf("ttl: must be whole seconds, got %s", c.TTL)
	}
	return nil
}
