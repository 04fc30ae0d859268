package schema

// Exporters lists every exporter and interface seen in the flows, with
// their enrichment (names, site, speed, boundary...) and when they were last
// seen: what a dashboard's exporter and interface pickers read, as in
// Akvorado. The writer fills it after each batch of flows
// (clickhouse.ExportersBuilder: one row per exporter, interface and side
// seen in the batch), as the two materialized views of storage/migrate did
// from the flows before, one for the input interface, one for the output
// one. It is a ReplacingMergeTree keyed by exporter and interface index:
// the row last seen wins, so a renamed interface shows its new name once
// merged (read with FINAL).
var Exporters = Table[NoRow]{
	Name:    "exporters",
	Comment: "sluice exporters and their interfaces, as last seen in the flows",
	Columns: exportersColumns(),
	Engine:  "ReplacingMergeTree",
	Version: "TimeReceived",
	OrderBy: "(ExporterAddress, IfIndex)",
}

// ExporterColumns are the exporter's columns, named as in the flows table.
var ExporterColumns = []string{
	"ExporterAddress", "ExporterName", "ExporterGroup", "ExporterRole", "ExporterSite", "ExporterRegion", "ExporterTenant",
}

// InterfaceColumns are the interface columns, named without their side:
// the flows table has InIfName and OutIfName, the exporters table IfName.
var InterfaceColumns = []string{"IfIndex", "IfName", "IfDescription", "IfSpeed", "IfBoundary", "IfProvider", "IfConnectivity"}

func exportersColumns() []Column[NoRow] {
	cols := []Column[NoRow]{{Name: "TimeReceived", Type: "DateTime", Codec: "CODEC(DoubleDelta, LZ4)", Comment: "last seen"}}
	for _, c := range ExporterColumns {
		cols = append(cols, Column[NoRow]{Name: c, Type: FlowType(c)})
	}
	for _, c := range InterfaceColumns {
		cols = append(cols, Column[NoRow]{Name: c, Type: FlowType("In" + c)})
	}
	return cols
}
