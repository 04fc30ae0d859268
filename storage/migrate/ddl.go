// Package migrate owns sluice's ClickHouse schema: the DDL derived from
// record.Columns (flows) and from storage/schema's declarations (the other
// tables), and the idempotent, versioned steps that create it. The SQL
// is engine-agnostic: the embedded engine (chDB) and a ClickHouse server run
// the same statements.
package migrate

import (
	"fmt"
	"strings"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/schema"
)

// Names of the schema's objects. They are an interface operators rely on.
const (
	Database        = schema.Database
	FlowsTable      = Database + ".flows"
	MigrationsTable = Database + ".schema_migrations"
)

// dedupWindow is how many recent insert blocks a non-replicated MergeTree
// remembers for insert deduplication. Without it, insert_deduplication_token
// does nothing on the embedded engine, and a replayed batch would be stored
// twice. Replicated tables deduplicate by default.
const dedupWindow = 1000

// CreateDatabase returns the statement creating sluice's database.
func CreateDatabase(cfg Config) string {
	return "CREATE DATABASE IF NOT EXISTS " + Database + cfg.onCluster()
}

// flowsTableStatements creates the raw flows table (and, in cluster mode,
// the Distributed table over it).
func flowsTableStatements(cfg Config) []string {
	return append([]string{CreateFlowsTable(cfg)}, cfg.distributedTable("flows")...)
}

// CreateFlowsTable returns the statement creating the raw flows table, one
// column per entry of record.Columns, in table order.
func CreateFlowsTable(cfg Config) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + cfg.dataTable("flows") + cfg.onCluster() + "\n(\n")
	for i, c := range record.Columns {
		b.WriteString("    ")
		b.WriteString(clickhouse.QuoteIdentifier(c.Name))
		b.WriteString(" ")
		b.WriteString(c.Type)
		// ClickHouse wants COMMENT before CODEC.
		if c.Doc != "" {
			b.WriteString(" COMMENT ")
			b.WriteString(clickhouse.QuoteString(c.Doc))
		}
		if c.Codec != "" {
			b.WriteString(" ")
			b.WriteString(c.Codec)
		}
		if i < len(record.Columns)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")\n")
	b.WriteString("ENGINE = " + cfg.shardedEngine("MergeTree", "flows_local", "") + "\n")
	// Daily partitions keep TTL drops cheap (whole parts go) without making
	// too many parts; the sort key groups an exporter's flows within five
	// minutes, which is how dashboards and detections read them.
	b.WriteString("PARTITION BY toYYYYMMDD(TimeReceived)\n")
	b.WriteString("ORDER BY (toStartOfFiveMinutes(TimeReceived), ExporterAddress, TimeReceived)\n")
	if cfg.TTL > 0 {
		fmt.Fprintf(&b, "TTL TimeReceived + toIntervalSecond(%d)\n", int64(cfg.TTL.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	b.WriteString("COMMENT 'sluice raw flow records, one row per exported flow'")
	return b.String()
}

// createMigrationsTable returns the statement creating the table that records
// applied schema versions. ReplacingMergeTree and the insert token both make
// a version recorded twice collapse into one row.
func createMigrationsTable(cfg Config) string {
	return "CREATE TABLE IF NOT EXISTS " + MigrationsTable + cfg.onCluster() + "\n(\n" +
		"    `version` UInt32 COMMENT 'schema version',\n" +
		"    `description` String COMMENT 'what the version changed',\n" +
		"    `applied_at` DateTime DEFAULT now() COMMENT 'when it was first applied'\n" +
		")\n" +
		"ENGINE = " + cfg.everywhereEngine("ReplacingMergeTree", "schema_migrations", "") + "\n" +
		"ORDER BY version\n" +
		fmt.Sprintf("SETTINGS non_replicated_deduplication_window = %d", dedupWindow)
}
