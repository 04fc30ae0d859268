package migrate

import (
	"fmt"

	"sluice/storage/clickhouse"
)

// In cluster mode (Config.Cluster set), every statement runs ON CLUSTER,
// data lives in Replicated tables named <table>_local on each shard, and
// the names analysts and writers use (sluice.flows, sluice.flows_1m, ...)
// are Distributed tables over them. Reference tables and the migrations
// table hold the same rows everywhere: they replicate on one path shared by
// all shards. On a single node (the embedded engine, or one server) the
// same code makes plain MergeTree tables under the public names.

func (c Config) clustered() bool { return c.Cluster != "" }

// onCluster is the clause that makes a statement run on every node.
func (c Config) onCluster() string {
	if !c.clustered() {
		return ""
	}
	return " ON CLUSTER " + clickhouse.QuoteIdentifier(c.Cluster)
}

// dataTable is where a sharded table's rows are stored: the public name on
// a single node, <name>_local in cluster mode. name has no database.
func (c Config) dataTable(name string) string {
	if c.clustered() {
		return Database + "." + name + "_local"
	}
	return Database + "." + name
}

// shardedEngine is the engine of a sharded data table: kind is MergeTree or
// SummingMergeTree, params its parameters (may be empty).
func (c Config) shardedEngine(kind, name, params string) string {
	return c.replicatedEngine(kind, "/clickhouse/tables/{shard}/"+Database+"/"+name, params)
}

// everywhereEngine is the engine of a table whose rows are the same on
// every node.
func (c Config) everywhereEngine(kind, name, params string) string {
	return c.replicatedEngine(kind, "/clickhouse/tables/all/"+Database+"/"+name, params)
}

func (c Config) replicatedEngine(kind, path, params string) string {
	if !c.clustered() {
		if params == "" {
			return kind
		}
		return kind + "(" + params + ")"
	}
	args := clickhouse.QuoteString(path) + ", '{replica}'"
	if params != "" {
		args += ", " + params
	}
	return "Replicated" + kind + "(" + args + ")"
}

// distributedTable returns the statement creating the public Distributed
// table over a sharded data table, in cluster mode; nothing otherwise.
// Rows are sharded by exporter, deterministically: a replayed batch splits
// across shards exactly as the first time, so each shard recognises its
// part by the insert's deduplication token.
func (c Config) distributedTable(name string) []string {
	return c.distributedTableBy(name, "cityHash64(ExporterAddress)")
}

// distributedTableBy is distributedTable for a table without the exporter:
// key is its sharding expression, over its own columns.
func (c Config) distributedTableBy(name, key string) []string {
	if !c.clustered() {
		return nil
	}
	return []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s ENGINE = Distributed(%s, %s, %s, %s)",
		Database, name, c.onCluster(), c.dataTable(name),
		clickhouse.QuoteIdentifier(c.Cluster), Database, name+"_local", key)}
}
