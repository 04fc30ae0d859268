// Package storage gathers the configuration of the storage components: the
// ClickHouse schema (storage/migrate) and the batch writer (storage/writer).
// The engine itself is chosen by the deployment: the embedded engine
// (storage/embedded) for `sluice run`.
package storage

import (
	"errors"
	"fmt"

	"sluice/storage/migrate"
	"sluice/storage/writer"
)

// Config is the `storage:` section.
type Config struct {
	// Schema: table options such as the raw table's TTL.
	Schema migrate.Config `yaml:"schema"`
	// Writer: target table and insert retries.
	Writer writer.Config `yaml:"writer"`
}

// DefaultConfig returns the storage defaults.
func DefaultConfig() Config {
	return Config{Schema: migrate.DefaultConfig(), Writer: writer.DefaultConfig()}
}

// Validate names bad keys by their path under `storage:`.
func (c Config) Validate() error {
	var errs []error
	if err := c.Schema.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("schema.%w", err))
	}
	if err := c.Writer.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("writer.%w", err))
	}
	return errors.Join(errs...)
}
