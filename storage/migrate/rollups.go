package migrate

import (
	"fmt"
	"strings"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
)

// Rollup is a pre-aggregated copy of the flows table at a coarser time
// grain, kept longer than the raw rows. A materialized view fills it as
// flows are inserted. Its counters are already scaled by the sampling rate,
// so a query sums them as they are.
type Rollup struct {
	// Table is the rollup's table name, without the database.
	Table string
	// Interval is the time grain: TimeReceived is truncated to it.
	Interval time.Duration
	// truncate is the ClickHouse function that truncates to Interval.
	truncate string
	// partition is the partition key: whole partitions go when TTL expires.
	partition string
}

// Rollups lists the rollup tables, finest first.
var Rollups = []Rollup{
	{Table: "flows_1m", Interval: time.Minute, truncate: "toStartOfMinute", partition: "toYYYYMMDD(TimeReceived)"},
	{Table: "flows_5m", Interval: 5 * time.Minute, truncate: "toStartOfFiveMinutes", partition: "toYYYYMMDD(TimeReceived)"},
	{Table: "flows_1h", Interval: time.Hour, truncate: "toStartOfHour", partition: "toYYYYMM(TimeReceived)"},
}

// RollupDimensions are the flow columns kept in the rollups. Addresses and
// ports are left out: their cardinality would make a rollup as large as
// the raw table. Queries on them read the raw table.
var RollupDimensions = []string{
	"ExporterAddress", "FlowType", "InIfIndex", "OutIfIndex",
	"SrcAS", "DstAS", "Proto", "EType", "FlowDirection", "ForwardingStatus",
}

// RollupCounters are the summed columns of every rollup: Bytes and Packets
// scaled by the sampling rate, and Flows, the number of flow records.
var RollupCounters = []string{"Bytes", "Packets", "Flows"}

// QualifiedTable is the rollup's table name with the database.
func (r Rollup) QualifiedTable() string { return Database + "." + r.Table }

// TTL returns the configured retention of the rollup.
func (r Rollup) TTL(cfg Config) time.Duration {
	switch r.Interval {
	case time.Minute:
		return cfg.TTL1m
	case 5 * time.Minute:
		return cfg.TTL5m
	default:
		return cfg.TTL1h
	}
}

func columnType(name string) string {
	for _, c := range record.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	panic("migrate: rollup dimension " + name + " is not a flow column")
}

// CreateRollupTable returns the statement creating a rollup's table: a
// SummingMergeTree whose key is the time bucket and every dimension, so rows
// of the same bucket and dimensions merge into one. It keeps an insert
// deduplication window: a replayed batch reaches the view again and must
// be recognised here too.
func CreateRollupTable(r Rollup, cfg Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n(\n", cfg.dataTable(r.Table), cfg.onCluster())
	fmt.Fprintf(&b, "    `TimeReceived` DateTime COMMENT %s CODEC(DoubleDelta, LZ4),\n",
		clickhouse.QuoteString("start of the "+r.Interval.String()+" bucket"))
	for _, d := range RollupDimensions {
		fmt.Fprintf(&b, "    %s %s,\n", clickhouse.QuoteIdentifier(d), columnType(d))
	}
	b.WriteString("    `Bytes` UInt64 COMMENT 'bytes, scaled by the sampling rate',\n")
	b.WriteString("    `Packets` UInt64 COMMENT 'packets, scaled by the sampling rate',\n")
	b.WriteString("    `Flows` UInt64 COMMENT 'flow records'\n")
	b.WriteString(")\n")
	b.WriteString("ENGINE = " + cfg.shardedEngine("SummingMergeTree", r.Table+"_local", "(Bytes, Packets, Flows)") + "\n")
	fmt.Fprintf(&b, "PARTITION BY %s\n", r.partition)
	fmt.Fprintf(&b, "ORDER BY (TimeReceived, %s)\n", strings.Join(RollupDimensions, ", "))
	if ttl := r.TTL(cfg); ttl > 0 {
		fmt.Fprintf(&b, "TTL TimeReceived + toIntervalSecond(%d)\n", int64(ttl.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	fmt.Fprintf(&b, "COMMENT %s", clickhouse.QuoteString("sluice flows aggregated per "+r.Interval.String()))
	return b.String()
}

// rollupSelect is the aggregation from a raw table (from) into a rollup.
func rollupSelect(r Rollup, from string) string {
	dims := strings.Join(RollupDimensions, ", ")
	return fmt.Sprintf("SELECT %s(TimeReceived) AS TimeReceived, %s, "+
		"sum(Bytes * SamplingRate) AS Bytes, sum(Packets * SamplingRate) AS Packets, count() AS Flows "+
		"FROM %s GROUP BY TimeReceived, %s", r.truncate, dims, from, dims)
}

// BackfillRollup returns the statement that fills a rollup from the flows
// already stored, but only while the rollup is empty: it runs before the
// view exists (at start, with no insert in flight), so a second run finds
// the rollup filled and adds nothing.
//
// In cluster mode it reads and writes the Distributed tables, from one node.
func BackfillRollup(r Rollup) string {
	return fmt.Sprintf("INSERT INTO %s SETTINGS async_insert = 0 SELECT * FROM (%s) WHERE (SELECT count() FROM %s) = 0",
		r.QualifiedTable(), rollupSelect(r, FlowsTable), r.QualifiedTable())
}

// CreateRollupView returns the materialized view that feeds a rollup from
// every insert into the flows table: on each shard, from the local raw
// table into the local rollup.
func CreateRollupView(r Rollup, cfg Config) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s_mv%s TO %s AS %s",
		r.QualifiedTable(), cfg.onCluster(), cfg.dataTable(r.Table), rollupSelect(r, cfg.dataTable("flows")))
}

// rollupStatements creates every rollup: table, backfill, then view.
func rollupStatements(cfg Config) []string {
	var stmts []string
	for _, r := range Rollups {
		stmts = append(stmts, CreateRollupTable(r, cfg))
		stmts = append(stmts, cfg.distributedTable(r.Table)...)
		stmts = append(stmts, BackfillRollup(r), CreateRollupView(r, cfg))
	}
	return stmts
}

// ApplyTTL returns the statements that set each table's retention to the
// configured one, so changing a TTL in the configuration takes effect on
// existing tables at the next start. Expired rows go at the next merges
// rather than in a rewrite of every part (materialize_ttl_after_modify = 0).
// A TTL of 0 sets nothing: a table created with 0 keeps its rows, but one
// that had a TTL keeps it (REMOVE TTL is not idempotent); set a long TTL
// instead.
func ApplyTTL(cfg Config) []string {
	var stmts []string
	if cfg.TTL > 0 {
		stmts = append(stmts, modifyTTL(cfg, "flows", cfg.TTL))
	}
	for _, r := range Rollups {
		if ttl := r.TTL(cfg); ttl > 0 {
			stmts = append(stmts, modifyTTL(cfg, r.Table, ttl))
		}
	}
	if cfg.TTLCounters > 0 {
		stmts = append(stmts, modifyTTL(cfg, "interface_counters", cfg.TTLCounters))
	}
	return stmts
}

func modifyTTL(cfg Config, table string, ttl time.Duration) string {
	return fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL TimeReceived + toIntervalSecond(%d) SETTINGS materialize_ttl_after_modify = 0",
		cfg.dataTable(table), cfg.onCluster(), int64(ttl.Seconds()))
}
