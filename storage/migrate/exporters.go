package migrate

import (
	"fmt"
	"strings"

	"sluice/storage/schema"
)

// exportersSelect is the aggregation from a raw table into the exporters
// table for one side ("In" or "Out"): one row per exporter, interface and
// set of attributes in each insert block, with the latest time.
func exportersSelect(side, from string) string {
	var cols, keys []string
	for _, c := range schema.ExporterColumns {
		cols = append(cols, c)
		keys = append(keys, c)
	}
	for _, c := range schema.InterfaceColumns {
		cols = append(cols, side+c+" AS "+c)
		keys = append(keys, c)
	}
	return fmt.Sprintf("SELECT max(TimeReceived) AS TimeReceived, %s FROM %s GROUP BY %s",
		strings.Join(cols, ", "), from, strings.Join(keys, ", "))
}

// createExportersTable returns schema version 7's statements: the
// exporters table (exportersTableStatements), then the views that fed it
// until version 11, when the writer took over (storage/writer).
func createExportersTable(cfg Config) []string {
	return append(exportersTableStatements(cfg), exportersViews(cfg)...)
}

// exportersTableStatements create the exporters table and fill it from the
// flows already stored (only while it is empty, as a rollup's backfill).
func exportersTableStatements(cfg Config) []string {
	stmts := createTableStatements(&schema.Exporters, cfg, 0)
	return append(stmts, fmt.Sprintf("INSERT INTO %s SETTINGS async_insert = 0 SELECT * FROM (%s UNION ALL %s) WHERE (SELECT count() FROM %s) = 0",
		ExportersTable, exportersSelect("In", FlowsTable), exportersSelect("Out", FlowsTable), ExportersTable))
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
		exportersViewName(side), cfg.onCluster(), cfg.dataTable(schema.Exporters.Name), exportersSelect(side, cfg.dataTable("flows")))
}
