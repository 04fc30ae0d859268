package migrate

import (
	"fmt"
	"strings"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
)

// compactBelowRows is the number of rows under which a part of the flows
// table is written compact (one data file holding every column) rather
// than wide (a data and a mark file per column): the writer's inserts
// (pipeline.batch-rows, 50,000 by default) are compact, and a merge of two
// of them is wide, which is what the queries read best.
//
// Smaller inserts (the flush timer's, a cluster shard's share of a
// batch) are compact too, as most were under the engine's default 10 MiB
// bound; the first merge that reaches compactBelowRows writes a wide part.
//
// Measured (BenchmarkRawTable, BENCHMARKS.md, sixth round): an insert
// costs 22-41 % less CPU (fewer files for the kernel to create), with
// its merges 12-23 % less, and the queries over settled data stayed
// within 10 %. Compact parts up to 256 MiB (the second round's trial)
// made lookups of one AS or port 35 to 55 % slower, since merged parts
// of a few hundred thousand rows stayed compact too.
const compactBelowRows = 100_000

// version12 makes the flows table's insert-sized parts compact. A part
// is compact when it has fewer rows than min_rows_for_wide_part or fewer
// bytes than min_bytes_for_wide_part; the bytes' bound (10 MiB by default,
// which a 50,000-row insert passes) is taken out, so that the number of
// rows alone decides. Parts already written keep their format.
func version12(cfg Config) []string {
	return []string{modifySettings(cfg.dataTable("flows"), cfg, []tableSetting{
		{"min_rows_for_wide_part", fmt.Sprint(compactBelowRows)},
		{"min_bytes_for_wide_part", "0"},
	})}
}

// tableSetting is a MergeTree setting a version gives a table, as
// system.tables shows it in engine_full ("name = value").
type tableSetting struct{ name, value string }

// flowsPartSettings are the flows table's settings that drift detection
// holds it to: version12's, until a later version changes them.
var flowsPartSettings = []tableSetting{
	{"min_rows_for_wide_part", fmt.Sprint(compactBelowRows)},
	{"min_bytes_for_wide_part", "0"},
}

// modifySettings is the statement giving table the settings.
func modifySettings(table string, cfg Config, settings []tableSetting) string {
	assignments := make([]string, len(settings))
	for i, s := range settings {
		assignments[i] = s.name + " = " + s.value
	}
	return fmt.Sprintf("ALTER TABLE %s%s MODIFY SETTING %s", table, cfg.onCluster(), strings.Join(assignments, ", "))
}

// version13 sets the flows table's time columns to their codec in
// record.Columns (plain LZ4 instead of DoubleDelta): new parts, and parts
// as merges rewrite them, are written with it.
func version13(cfg Config) []string {
	var stmts []string
	for _, c := range record.Columns {
		if c.Name != "TimeReceived" && c.Name != "TimeFlowStart" && c.Name != "TimeFlowEnd" {
			continue
		}
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s%s MODIFY COLUMN %s %s",
			cfg.dataTable("flows"), cfg.onCluster(), clickhouse.QuoteIdentifier(c.Name), c.Codec))
	}
	return stmts
}
