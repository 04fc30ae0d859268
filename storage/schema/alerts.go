package schema

// Alerts holds what detections find: one row per alert, updated in place
// when a detection raises the same alert again. It is a ReplacingMergeTree
// keyed by detection and dedup key, keeping the row with the latest Time: a
// detection re-raising an alert (with grown counters) updates it rather
// than adding one. A detection that wants recurrences kept apart puts a
// time window in its key. Rows of one key merge within a month's partition;
// readers use FINAL (or argMax) to see one row per key. The evidence
// counters are sampling-scaled, like the rollups'.
var Alerts = Table[NoRow]{
	Name:    "alerts",
	Comment: "sluice alerts raised by detections",
	Columns: []Column[NoRow]{
		{Name: "Time", Type: "DateTime", Codec: "CODEC(DoubleDelta, LZ4)", Comment: "when the detection last raised the alert"},
		{Name: "Detection", Type: "LowCardinality(String)", Comment: "detection (rule) name"},
		{Name: "Severity", Type: "Enum8('info' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5)", Comment: "severity"},
		{Name: "ExporterAddress", Type: "IPv6", Comment: "exporter of the flows the alert is about (IPv4 mapped; :: for several)"},
		{Name: "SrcAddr", Type: "IPv6", Comment: "source address (:: when not one)"},
		{Name: "DstAddr", Type: "IPv6", Comment: "destination address (:: when not one)"},
		{Name: "SrcPort", Type: "UInt16", Comment: "source port (0 when not one)"},
		{Name: "DstPort", Type: "UInt16", Comment: "destination port (0 when not one)"},
		{Name: "Proto", Type: "UInt8", Comment: "IP protocol (0 when not one)"},
		{Name: "Bytes", Type: "UInt64", Comment: "evidence: bytes, scaled by the sampling rate"},
		{Name: "Packets", Type: "UInt64", Comment: "evidence: packets, scaled by the sampling rate"},
		{Name: "Flows", Type: "UInt64", Comment: "evidence: flow records"},
		{Name: "Details", Type: "String", Codec: "CODEC(ZSTD(1))", Comment: "free-form details (JSON by convention)"},
		{Name: "DedupKey", Type: "String", Comment: "the detection's key: an alert raised again with the same key replaces the earlier row"},
		// Schema version 10: the alert's life (storage/detect).
		{Name: "AlertID", Type: "String", Comment: "the alert's identifier, the same in every update (SIEMs correlate on it)"},
		{Name: "State", Type: "Enum8('open' = 1, 'updated' = 2, 'closed' = 3)", Comment: "open when raised, updated while the event lasts, closed when it stopped"},
		{Name: "Summary", Type: "String", Comment: "one human sentence"},
		{Name: "FirstSeen", Type: "DateTime64(3)", Comment: "first evidence flow's start (flow time, not arrival)"},
		{Name: "LastSeen", Type: "DateTime64(3)", Comment: "last evidence flow's end (flow time, not arrival)"},
		{Name: "ThreatFeeds", Type: "Array(LowCardinality(String))", Comment: "threat-intelligence feeds involved"},
	},
	Engine:      "ReplacingMergeTree",
	Version:     "Time",
	PartitionBy: "toYYYYMM(Time)",
	OrderBy:     "(Detection, DedupKey)",
	TTLColumn:   "Time",
}
