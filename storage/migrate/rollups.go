package migrate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"sluice/storage/clickhouse"
	"sluice/storage/schema"
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
	// Dimensions are the flow columns the rollup keeps (and sorts by);
	// every other column is summed away.
	Dimensions []string
}

// RollupDimensions are the flow columns kept in the wide rollups (flows_1m,
// flows_5m, flows_1h). Addresses and ports are left out: their cardinality
// would make a rollup as large as the raw table. Queries on them read the
// raw table.
var RollupDimensions = []string{
	"ExporterAddress", "FlowType", "InIfIndex", "OutIfIndex",
	"SrcAS", "DstAS", "Proto", "EType", "FlowDirection", "ForwardingStatus",
}

// ASRollupDimensions are the dimensions of the AS rollups (flows_as_*):
// top AS, country and protocol queries read them. With only these columns,
// a bucket holds one row per AS pair and protocol, whatever the exporters
// and interfaces, where the wide rollup multiplies them all. An AS's
// addresses are mostly in one country, so the countries add few rows.
var ASRollupDimensions = []string{"SrcAS", "DstAS", "EType", "Proto", "SrcCountry", "DstCountry"}

// InterfaceRollupDimensions are the dimensions of the interface rollups
// (flows_if_*): traffic per exporter, interface and direction, and
// utilisation. The names, boundaries and speeds are attributes of the
// exporter and interface: they add no rows.
var InterfaceRollupDimensions = []string{
	"ExporterAddress", "ExporterName", "InIfIndex", "OutIfIndex", "InIfName", "OutIfName",
	"InIfBoundary", "OutIfBoundary", "InIfSpeed", "OutIfSpeed", "FlowDirection", "TrafficDirection",
}

// NetworkRollupDimensions are the dimensions of the network rollups
// (flows_net_*): traffic matrices between sites and tenants, and traffic
// relative to the own networks.
var NetworkRollupDimensions = []string{"SrcNetSite", "DstNetSite", "SrcNetTenant", "DstNetTenant", "TrafficDirection"}

// rollupGrains are the time grains every family of rollups has.
var rollupGrains = []struct {
	suffix    string
	interval  time.Duration
	truncate  string
	partition string
}{
	{"1m", time.Minute, "toStartOfMinute", "toYYYYMMDD(TimeReceived)"},
	{"5m", 5 * time.Minute, "toStartOfFiveMinutes", "toYYYYMMDD(TimeReceived)"},
	{"1h", time.Hour, "toStartOfHour", "toYYYYMM(TimeReceived)"},
}

// rollupFamily returns a rollup per grain, named prefix + grain, finest
// first.
func rollupFamily(prefix string, dims []string) []Rollup {
	var out []Rollup
	for _, g := range rollupGrains {
		out = append(out, Rollup{Table: prefix + g.suffix, Interval: g.interval, truncate: g.truncate, partition: g.partition, Dimensions: dims})
	}
	return out
}

// The rollup families. wideRollups are schema version 2's; the narrow ones
// (AS, interfaces, networks) came with version 7.
var (
	wideRollups      = rollupFamily("flows_", RollupDimensions)
	asRollups        = rollupFamily("flows_as_", ASRollupDimensions)
	interfaceRollups = rollupFamily("flows_if_", InterfaceRollupDimensions)
	networkRollups   = rollupFamily("flows_net_", NetworkRollupDimensions)
)

// Rollups lists every rollup table, family by family, from the one
// expected to have the fewest rows per bucket to the wide one, each finest
// first. Queries read the first family of a grain that answers.
var Rollups = slices.Concat(asRollups, networkRollups, interfaceRollups, wideRollups)

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

// CreateRollupTable returns the statement creating a rollup's table: a
// SummingMergeTree whose key is the time bucket and every dimension, so rows
// of the same bucket and dimensions merge into one. It keeps an insert
// deduplication window: a replayed batch reaches the view again and must
// be recognised here too.
func CreateRollupTable(r Rollup, cfg Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n", cfg.dataTable(r.Table), cfg.onCluster())
	writeColumns(&b, rollupColumns(r))
	b.WriteString("ENGINE = " + cfg.shardedEngine("SummingMergeTree", r.Table+"_local", "(Bytes, Packets, Flows)") + "\n")
	fmt.Fprintf(&b, "PARTITION BY %s\n", r.partition)
	fmt.Fprintf(&b, "ORDER BY (TimeReceived, %s)\n", strings.Join(r.Dimensions, ", "))
	if ttl := r.TTL(cfg); ttl > 0 {
		fmt.Fprintf(&b, "TTL TimeReceived + toIntervalSecond(%d)\n", int64(ttl.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	fmt.Fprintf(&b, "COMMENT %s", clickhouse.QuoteString("sluice flows aggregated per "+r.Interval.String()))
	return b.String()
}

// rollupColumns are a rollup's columns: the bucket, the dimensions (typed
// as in the flows table), the counters.
func rollupColumns(r Rollup) []schema.Column[schema.NoRow] {
	cols := []schema.Column[schema.NoRow]{{Name: "TimeReceived", Type: "DateTime", Codec: "CODEC(DoubleDelta, LZ4)", Comment: "start of the " + r.Interval.String() + " bucket"}}
	for _, d := range r.Dimensions {
		cols = append(cols, schema.Column[schema.NoRow]{Name: d, Type: schema.FlowType(d)})
	}
	return append(cols,
		schema.Column[schema.NoRow]{Name: "Bytes", Type: "UInt64", Comment: "bytes, scaled by the sampling rate"},
		schema.Column[schema.NoRow]{Name: "Packets", Type: "UInt64", Comment: "packets, scaled by the sampling rate"},
		schema.Column[schema.NoRow]{Name: "Flows", Type: "UInt64", Comment: "flow records"})
}

// rollupSelect is the aggregation from a raw table (from) into a rollup.
func rollupSelect(r Rollup, from string) string {
	dims := strings.Join(r.Dimensions, ", ")
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

// createRollups returns a migration creating rollups: for each, the
// table, its backfill, then its view.
func createRollups(rollups []Rollup) func(Config) []string {
	return func(cfg Config) []string {
		var stmts []string
		for _, r := range rollups {
			stmts = append(stmts, createRollup(r, cfg)...)
		}
		return stmts
	}
}

func createRollup(r Rollup, cfg Config) []string {
	return append(createRollupTable(r, cfg), BackfillRollup(r), CreateRollupView(r, cfg))
}

// createRollupTable creates the rollup's table and, in cluster mode, the
// Distributed table over it, sharded by exporter when the rollup keeps it
// (as flows are), by its first dimension otherwise: only a backfill inserts
// through the Distributed table, and the queries sum over every shard.
func createRollupTable(r Rollup, cfg Config) []string {
	key := "cityHash64(ExporterAddress)"
	if !slices.Contains(r.Dimensions, "ExporterAddress") {
		key = "cityHash64(" + r.Dimensions[0] + ")"
	}
	return append([]string{CreateRollupTable(r, cfg)}, cfg.distributedTableBy(r.Table, key)...)
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
		stmts = append(stmts, modifyTTL(cfg, "flows", "TimeReceived", cfg.TTL))
	}
	for _, r := range Rollups {
		if ttl := r.TTL(cfg); ttl > 0 {
			stmts = append(stmts, modifyTTL(cfg, r.Table, "TimeReceived", ttl))
		}
	}
	if cfg.TTLAlerts > 0 {
		stmts = append(stmts, modifyTTL(cfg, "alerts", "Time", cfg.TTLAlerts))
	}
	if cfg.TTLCounters > 0 {
		stmts = append(stmts, modifyTTL(cfg, "interface_counters", "TimeReceived", cfg.TTLCounters))
	}
	return stmts
}

func modifyTTL(cfg Config, table, column string, ttl time.Duration) string {
	return fmt.Sprintf("ALTER TABLE %s%s MODIFY TTL %s + toIntervalSecond(%d) SETTINGS materialize_ttl_after_modify = 0",
		cfg.dataTable(table), cfg.onCluster(), column, int64(ttl.Seconds()))
}

// Aggregates lists the tables the materialized views fill from every
// insert into flows, as families for clickhouse.Aggregator: each rollup
// family at its grains, and both sides of the exporters table. The
// aggregator does in Go what the views do, so that the two ways of filling
// the rollups can be measured against each other (BenchmarkInsertViews);
// the views fill them (see BENCHMARKS.md, 7 December 2026).
func Aggregates() []clickhouse.AggregateFamily {
	var out []clickhouse.AggregateFamily
	for _, fam := range [][]Rollup{asRollups, networkRollups, interfaceRollups, wideRollups} {
		f := clickhouse.AggregateFamily{Dimensions: fam[0].Dimensions}
		for _, r := range fam {
			f.Grains = append(f.Grains, clickhouse.AggregateGrain{Table: r.QualifiedTable(), Interval: r.Interval})
		}
		out = append(out, f)
	}
	for _, side := range interfaceSides {
		f := clickhouse.AggregateFamily{Grains: []clickhouse.AggregateGrain{{Table: ExportersTable}}}
		for _, c := range schema.ExporterColumns {
			f.Dimensions = append(f.Dimensions, c)
			f.Names = append(f.Names, c)
		}
		for _, c := range schema.InterfaceColumns {
			f.Dimensions = append(f.Dimensions, side+c)
			f.Names = append(f.Names, c)
		}
		out = append(out, f)
	}
	return out
}
