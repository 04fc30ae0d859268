// Package storage gathers the configuration of the storage components: the
// ClickHouse schema (storage/migrate), the batch writer (storage/writer) and
// the limits of analysts' queries. The engine itself is chosen by the
// deployment: the embedded engine (storage/embedded) for `sluice run`.
package storage

import (
	"errors"
	"fmt"

	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/writer"
)

// Config is the `storage:` section.
type Config struct {
	// Schema: table options such as the raw table's TTL.
	Schema migrate.Config `yaml:"schema"`
	// Writer: target table and insert retries.
	Writer writer.Config `yaml:"writer"`
	// SQL bounds each query of the SQL endpoint.
	SQL clickhouse.QueryLimits `yaml:"sql"`
}

// DefaultConfig returns the storage defaults.
func DefaultConfig() Config {
	return Config{Schema: migrate.DefaultConfig(), Writer: writer.DefaultConfig(), SQL: clickhouse.DefaultQueryLimits()}
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
	for _, err := range unjoin(c.SQL.Validate()) {
		errs = append(errs, fmt.Errorf("sql.%w", err))
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
