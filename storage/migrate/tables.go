package migrate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"sluice/storage/clickhouse"
	"sluice/storage/schema"
)

// Names of the tables storage/schema declares.
var (
	// AlertsTable holds what detections find (schema.Alerts).
	AlertsTable = schema.Alerts.Qualified()
	// CountersTable holds sFlow interface counter samples, one row per
	// sample (schema.Counters).
	CountersTable = schema.Counters.Qualified()
	// ExportersTable lists every exporter and interface seen in the flows
	// (schema.Exporters).
	ExportersTable = schema.Exporters.Qualified()
)

// definition is a column as CREATE TABLE and ADD COLUMN write it: name,
// type, comment, codec (ClickHouse wants COMMENT before CODEC).
func definition[R any](c schema.Column[R]) string {
	d := clickhouse.QuoteIdentifier(c.Name) + " " + c.Type
	if c.Comment != "" {
		d += " COMMENT " + clickhouse.QuoteString(c.Comment)
	}
	if c.Codec != "" {
		d += " " + c.Codec
	}
	return d
}

// writeColumns writes the parenthesised column list of a CREATE TABLE,
// one column a line.
func writeColumns[R any](b *strings.Builder, cols []schema.Column[R]) {
	b.WriteString("(\n")
	for i, c := range cols {
		b.WriteString("    " + definition(c))
		if i < len(cols)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")\n")
}

// createTable returns the statement creating a declared table, with the
// configured retention (0: none). It keeps an insert deduplication window,
// so that a replayed insert is stored once. In cluster mode the table is
// the Replicated <name>_local of each shard.
func createTable[R any](t *schema.Table[R], cfg Config, ttl time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n", cfg.dataTable(t.Name), cfg.onCluster())
	writeColumns(&b, t.Columns)
	b.WriteString("ENGINE = " + cfg.shardedEngine(t.Engine, t.Name+"_local", t.Version) + "\n")
	if t.PartitionBy != "" {
		b.WriteString("PARTITION BY " + t.PartitionBy + "\n")
	}
	b.WriteString("ORDER BY " + t.OrderBy + "\n")
	if t.TTLColumn != "" && ttl > 0 {
		fmt.Fprintf(&b, "TTL %s + toIntervalSecond(%d)\n", t.TTLColumn, int64(ttl.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	b.WriteString("COMMENT " + clickhouse.QuoteString(t.Comment))
	return b.String()
}

// createTableStatements creates a declared table and, in cluster mode, the
// Distributed table over it (sharded by exporter, as flows are).
func createTableStatements[R any](t *schema.Table[R], cfg Config, ttl time.Duration) []string {
	return append([]string{createTable(t, cfg, ttl)}, cfg.distributedTable(t.Name)...)
}

// createAlertsTable returns the statements creating the alerts table
// (schema version 7).
func createAlertsTable(cfg Config) []string {
	return createTableStatements(&schema.Alerts, cfg, cfg.TTLAlerts)
}

// addAlertColumns returns a migration adding columns of schema.Alerts to
// an existing alerts table (a table created later has them already, hence
// IF NOT EXISTS); in cluster mode to the local table and the Distributed
// table over it.
func addAlertColumns(names ...string) func(Config) []string {
	return func(cfg Config) []string {
		tables := []string{cfg.dataTable(schema.Alerts.Name)}
		if cfg.clustered() {
			tables = append(tables, AlertsTable)
		}
		var stmts []string
		for _, table := range tables {
			for _, name := range names {
				i := slices.IndexFunc(schema.Alerts.Columns, func(c schema.Column[schema.NoRow]) bool { return c.Name == name })
				if i < 0 {
					panic("migrate: column " + name + " is not in schema.Alerts")
				}
				stmts = append(stmts, "ALTER TABLE "+table+cfg.onCluster()+" ADD COLUMN IF NOT EXISTS "+definition(schema.Alerts.Columns[i]))
			}
		}
		return stmts
	}
}

// countersTableStatements creates interface_counters (schema version 8,
// provisional).
func countersTableStatements(cfg Config) []string {
	return createTableStatements(&schema.Counters, cfg, cfg.TTLCounters)
}
