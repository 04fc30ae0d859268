package migrate

import (
	"fmt"
	"strings"
)

// ExportersTable lists every exporter and interface seen in the flows, with
// their enrichment (names, site, speed, boundary...) and when they were last
// seen: what a dashboard's exporter and interface pickers read, as in
// Akvorado. Two materialized views fill it from the flows, one for the
// input interface, one for the output one.
const ExportersTable = Database + ".exporters"

// exporterColumns are the exporter's columns, the same on both sides.
var exporterColumns = []string{
	"ExporterAddress", "ExporterName", "ExporterGroup", "ExporterRole", "ExporterSite", "ExporterRegion", "ExporterTenant",
}

// interfaceColumns are the interface columns, named without their side:
// the flows table has InIfName and OutIfName, the exporters table IfName.
var interfaceColumns = []string{"IfIndex", "IfName", "IfDescription", "IfSpeed", "IfBoundary", "IfProvider", "IfConnectivity"}

func exportersColumns() []tableColumn {
	cols := []tableColumn{{"TimeReceived", "DateTime", "CODEC(DoubleDelta, LZ4)", "last seen"}}
	for _, c := range exporterColumns {
		cols = append(cols, tableColumn{name: c, typ: columnType(c)})
	}
	for _, c := range interfaceColumns {
		cols = append(cols, tableColumn{name: c, typ: columnType("In" + c)})
	}
	return cols
}

// exportersSelect is the aggregation from a raw table into the exporters
// table for one side ("In" or "Out"): one row per exporter, interface and
// set of attributes in each insert block, with the latest time.
func exportersSelect(side, from string) string {
	var cols, keys []string
	for _, c := range exporterColumns {
		cols = append(cols, c)
		keys = append(keys, c)
	}
	for _, c := range interfaceColumns {
		cols = append(cols, side+c+" AS "+c)
		keys = append(keys, c)
	}
	return fmt.Sprintf("SELECT max(TimeReceived) AS TimeReceived, %s FROM %s GROUP BY %s",
		strings.Join(cols, ", "), from, strings.Join(keys, ", "))
}

// createExportersTable returns the statements creating the exporters table,
// filling it from the flows already stored (only while it is empty, as a
// rollup's backfill), then the views feeding it. It is a
// ReplacingMergeTree keyed by exporter and interface index: the row last
// seen wins, so a renamed interface shows its new name once merged (read
// with FINAL).
func createExportersTable(cfg Config) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n", cfg.dataTable("exporters"), cfg.onCluster())
	writeColumns(&b, exportersColumns())
	b.WriteString("ENGINE = " + cfg.shardedEngine("ReplacingMergeTree", "exporters_local", "TimeReceived") + "\n")
	b.WriteString("ORDER BY (ExporterAddress, IfIndex)\n")
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	b.WriteString("COMMENT 'sluice exporters and their interfaces, as last seen in the flows'")
	stmts := append([]string{b.String()}, cfg.distributedTable("exporters")...)
	stmts = append(stmts, fmt.Sprintf("INSERT INTO %s SETTINGS async_insert = 0 SELECT * FROM (%s UNION ALL %s) WHERE (SELECT count() FROM %s) = 0",
		ExportersTable, exportersSelect("In", FlowsTable), exportersSelect("Out", FlowsTable), ExportersTable))
	return append(stmts, exportersViews(cfg)...)
}

var interfaceSides = []string{"In", "Out"}

func exportersViews(cfg Config) []string {
	var stmts []string
	for _, side := range interfaceSides {
		stmts = append(stmts, exportersView(side, cfg))
	}
	return stmts
}

// exportersViewName is the view feeding the exporters table from one side.
func exportersViewName(side string) string {
	return ExportersTable + "_" + strings.ToLower(side) + "_mv"
}

func exportersView(side string, cfg Config) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s AS %s",
		exportersViewName(side), cfg.onCluster(), cfg.dataTable("exporters"), exportersSelect(side, cfg.dataTable("flows")))
}
