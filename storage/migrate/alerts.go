package migrate

import (
	"fmt"
	"strings"

	"sluice/storage/clickhouse"
)

// AlertsTable holds what detections find: one row per alert, updated in
// place when a detection raises the same alert again.
const AlertsTable = Database + ".alerts"

// tableColumn is a column of a table defined here rather than by
// record.Columns.
type tableColumn struct {
	name, typ, codec, comment string
}

func (c tableColumn) definition() string {
	d := clickhouse.QuoteIdentifier(c.name) + " " + c.typ
	if c.comment != "" {
		d += " COMMENT " + clickhouse.QuoteString(c.comment)
	}
	if c.codec != "" {
		d += " " + c.codec
	}
	return d
}

// writeColumns writes the parenthesised column list of a CREATE TABLE,
// one column a line.
func writeColumns(b *strings.Builder, cols []tableColumn) {
	b.WriteString("(\n")
	for i, c := range cols {
		b.WriteString("    " + c.definition())
		if i < len(cols)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")\n")
}

// alertColumns are the alerts table's columns. The evidence counters are
// sampling-scaled, like the rollups'.
var alertColumns = []tableColumn{
	{"Time", "DateTime", "CODEC(DoubleDelta, LZ4)", "when the detection last raised the alert"},
	{"Detection", "LowCardinality(String)", "", "detection (rule) name"},
	{"Severity", "Enum8('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5)", "", "severity"},
	{"ExporterAddress", "IPv6", "", "exporter of the flows the alert is about (IPv4 mapped; :: for several)"},
	{"SrcAddr", "IPv6", "", "source address (:: when not one)"},
	{"DstAddr", "IPv6", "", "destination address (:: when not one)"},
	{"SrcPort", "UInt16", "", "source port (0 when not one)"},
	{"DstPort", "UInt16", "", "destination port (0 when not one)"},
	{"Proto", "UInt8", "", "IP protocol (0 when not one)"},
	{"Bytes", "UInt64", "", "evidence: bytes, scaled by the sampling rate"},
	{"Packets", "UInt64", "", "evidence: packets, scaled by the sampling rate"},
	{"Flows", "UInt64", "", "evidence: flow records"},
	{"Details", "String", "CODEC(ZSTD(1))", "free-form details (JSON by convention)"},
	{"DedupKey", "String", "", "the detection's key: an alert raised again with the same key replaces the earlier row"},
}

// createAlertsTable returns the statements creating the alerts table. It is
// a ReplacingMergeTree keyed by detection and dedup key, keeping the row
// with the latest Time: a detection re-raising an alert (with grown
// counters) updates it rather than adding one. A detection that wants
// recurrences kept apart puts a time window in its key. Rows of one key
// merge within a month's partition; readers use FINAL (or argMax) to see
// one row per key. In cluster mode alerts are sharded by exporter, like
// flows.
func createAlertsTable(cfg Config) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s%s\n", cfg.dataTable("alerts"), cfg.onCluster())
	writeColumns(&b, alertColumns)
	b.WriteString("ENGINE = " + cfg.shardedEngine("ReplacingMergeTree", "alerts_local", "Time") + "\n")
	b.WriteString("PARTITION BY toYYYYMM(Time)\n")
	b.WriteString("ORDER BY (Detection, DedupKey)\n")
	if cfg.TTLAlerts > 0 {
		fmt.Fprintf(&b, "TTL Time + toIntervalSecond(%d)\n", int64(cfg.TTLAlerts.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	b.WriteString("COMMENT 'sluice alerts raised by detections'")
	return append([]string{b.String()}, cfg.distributedTable("alerts")...)
}
