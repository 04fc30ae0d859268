// Package storage gathers the configuration of the storage components: the
// ClickHouse schema (storage/migrate), the batch writer (storage/writer),
// the limits of analysts' queries, and which store `sluice pipeline`
// writes to: the embedded engine (storage/embedded; always for `sluice
// run`) or a ClickHouse server (storage/server).
package storage

import (
	"errors"
	"fmt"

	"sluice/storage/clickhouse"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/server"
	"sluice/storage/writer"
)

// The backends of Config.Backend.
const (
	BackendEmbedded = "embedded"
	BackendServer   = "server"
)

// Config is the `storage:` section.
type Config struct {
	// Backend is where `sluice pipeline` stores and reads: embedded (the
	// engine in the data directory, default) or server (Server).
	Backend string `yaml:"backend"`
	// Server is the ClickHouse server or cluster of backend server.
	Server server.Config `yaml:"server"`
	// Embedded is the embedded engine's memory budget (`sluice run`, and
	// `sluice pipeline` with backend embedded).
	Embedded embedded.Memory `yaml:"embedded"`
	// Schema: table options such as the raw table's TTL.
	Schema migrate.Config `yaml:"schema"`
	// Writer: target table and insert retries.
	Writer writer.Config `yaml:"writer"`
	// SQL bounds each query of the SQL endpoint.
	SQL clickhouse.QueryLimits `yaml:"sql"`
}

// DefaultConfig returns the storage defaults.
func DefaultConfig() Config {
	return Config{Backend: BackendEmbedded, Server: server.DefaultConfig(), Embedded: embedded.DefaultMemory(), Schema: migrate.DefaultConfig(), Writer: writer.DefaultConfig(), SQL: clickhouse.DefaultQueryLimits()}
}

// Validate names bad keys by their path under `storage:`.
func (c Config) Validate() error {
	var errs []error
	switch c.Backend {
	case BackendEmbedded:
	case BackendServer:
		// Only a server in use must be reachable: the embedded backend
		// leaves the section at its defaults, which name no address.
		for _, err := range unjoin(c.Server.Validate()) {
			errs = append(errs, fmt.Errorf("server.%w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("backend: %q is not embedded or server", c.Backend))
	}
	for _, err := range unjoin(c.Embedded.Validate()) {
		errs = append(errs, fmt.Errorf("embedded.%w", err))
	}
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
