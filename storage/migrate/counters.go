package migrate

import (
	"fmt"
	"strconv"
	"strings"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
)

// CountersTable holds sFlow interface counter samples, one row per sample.
const CountersTable = Database + ".interface_counters"

// counterColumn is one column of interface_counters: its type, and how a
// record.Counter's value is written as a SQL literal. The DDL and the insert
// are both derived from counterColumns.
type counterColumn struct {
	name, typ, doc string
	value          func(c *record.Counter) uint64
}

func u32(f func(c *record.Counter) uint32) func(c *record.Counter) uint64 {
	return func(c *record.Counter) uint64 { return uint64(f(c)) }
}

func boolColumn(f func(c *record.Counter) bool) func(c *record.Counter) uint64 {
	return func(c *record.Counter) uint64 {
		if f(c) {
			return 1
		}
		return 0
	}
}

// counterColumns lists the table's columns after TimeReceived and
// ExporterAddress, in order. Counters the agent keeps in 32 bits are stored
// in 64, so queries can difference them without overflow casts.
var counterColumns = []counterColumn{
	{"ObservationDomainID", "UInt32", "sFlow sub-agent ID", u32(func(c *record.Counter) uint32 { return c.ObservationDomainID })},
	{"SequenceNumber", "UInt32", "counter sample sequence number, per source", u32(func(c *record.Counter) uint32 { return c.SequenceNumber })},
	{"SourceIDType", "UInt8", "0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry", u32(func(c *record.Counter) uint32 { return c.SourceIDType })},
	{"SourceIDIndex", "UInt32", "", u32(func(c *record.Counter) uint32 { return c.SourceIDIndex })},
	{"HasGeneric", "Bool", "the generic interface counters were sent", boolColumn(func(c *record.Counter) bool { return c.HasGeneric })},
	{"IfIndex", "UInt32", "", u32(func(c *record.Counter) uint32 { return c.IfIndex })},
	{"IfType", "UInt32", "IANA ifType", u32(func(c *record.Counter) uint32 { return c.IfType })},
	{"IfSpeed", "UInt64", "bits per second", func(c *record.Counter) uint64 { return c.IfSpeed }},
	{"IfDirection", "UInt8", "0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out", u32(func(c *record.Counter) uint32 { return c.IfDirection })},
	{"IfAdminStatus", "UInt8", "1 up", func(c *record.Counter) uint64 { return uint64(c.IfAdminStatus) }},
	{"IfOperStatus", "UInt8", "1 up", func(c *record.Counter) uint64 { return uint64(c.IfOperStatus) }},
	{"IfPromiscuousMode", "UInt32", "", u32(func(c *record.Counter) uint32 { return c.IfPromiscuous })},
	{"IfInOctets", "UInt64", "", func(c *record.Counter) uint64 { return c.IfInOctets }},
	{"IfInUcastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInUcastPkts })},
	{"IfInMulticastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInMulticastPkts })},
	{"IfInBroadcastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInBroadcastPkts })},
	{"IfInDiscards", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInDiscards })},
	{"IfInErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInErrors })},
	{"IfInUnknownProtos", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfInUnknownProtos })},
	{"IfOutOctets", "UInt64", "", func(c *record.Counter) uint64 { return c.IfOutOctets }},
	{"IfOutUcastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfOutUcastPkts })},
	{"IfOutMulticastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfOutMulticastPkts })},
	{"IfOutBroadcastPkts", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfOutBroadcastPkts })},
	{"IfOutDiscards", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfOutDiscards })},
	{"IfOutErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.IfOutErrors })},
	{"HasEthernet", "Bool", "the Ethernet (dot3) counters were sent", boolColumn(func(c *record.Counter) bool { return c.HasEthernet })},
	{"Dot3StatsAlignmentErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsAlignmentErrors })},
	{"Dot3StatsFCSErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsFCSErrors })},
	{"Dot3StatsSingleCollisionFrames", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsSingleCollisionFrames })},
	{"Dot3StatsMultipleCollisionFrames", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsMultipleCollisionFrames })},
	{"Dot3StatsSQETestErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsSQETestErrors })},
	{"Dot3StatsDeferredTransmissions", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsDeferredTransmissions })},
	{"Dot3StatsLateCollisions", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsLateCollisions })},
	{"Dot3StatsExcessiveCollisions", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsExcessiveCollisions })},
	{"Dot3StatsInternalMacTransmitErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsInternalMacTransmitErrors })},
	{"Dot3StatsCarrierSenseErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsCarrierSenseErrors })},
	{"Dot3StatsFrameTooLongs", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsFrameTooLongs })},
	{"Dot3StatsInternalMacReceiveErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsInternalMacReceiveErrors })},
	{"Dot3StatsSymbolErrors", "UInt64", "", u32(func(c *record.Counter) uint32 { return c.Dot3StatsSymbolErrors })},
}

// countersTableStatements creates interface_counters (schema version 8,
// provisional), and in cluster mode the Distributed table over it.
func countersTableStatements(cfg Config) []string {
	return append([]string{CreateCountersTable(cfg)}, cfg.distributedTable("interface_counters")...)
}

// CreateCountersTable returns the statement creating interface_counters.
func CreateCountersTable(cfg Config) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + cfg.dataTable("interface_counters") + cfg.onCluster() + "\n(\n")
	b.WriteString("    `TimeReceived` DateTime COMMENT 'when the collector received the sample',\n")
	b.WriteString("    `ExporterAddress` IPv6 COMMENT 'sFlow agent address'")
	for _, c := range counterColumns {
		b.WriteString(",\n    " + clickhouse.QuoteIdentifier(c.name) + " " + c.typ)
		if c.doc != "" {
			b.WriteString(" COMMENT " + clickhouse.QuoteString(c.doc))
		}
	}
	b.WriteString("\n)\n")
	b.WriteString("ENGINE = " + cfg.shardedEngine("MergeTree", "interface_counters_local", "") + "\n")
	b.WriteString("PARTITION BY toYYYYMMDD(TimeReceived)\n")
	// An interface's samples together, in time order: the rate queries
	// difference consecutive rows of one interface.
	b.WriteString("ORDER BY (ExporterAddress, IfIndex, TimeReceived)\n")
	if cfg.TTLCounters > 0 {
		fmt.Fprintf(&b, "TTL TimeReceived + toIntervalSecond(%d)\n", int64(cfg.TTLCounters.Seconds()))
	}
	fmt.Fprintf(&b, "SETTINGS non_replicated_deduplication_window = %d\n", dedupWindow)
	b.WriteString("COMMENT 'sluice sFlow interface counter samples, one row per sample'")
	return b.String()
}

// InsertCounters returns the insert of rows into interface_counters. token,
// when not empty, is its deduplication token: the same rows inserted again
// under the same token are stored once.
func InsertCounters(rows []record.Counter, token string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + CountersTable + " (`TimeReceived`, `ExporterAddress`")
	for _, c := range counterColumns {
		b.WriteString(", " + clickhouse.QuoteIdentifier(c.name))
	}
	b.WriteString(") SETTINGS async_insert = 0")
	if token != "" {
		b.WriteString(", insert_deduplication_token = " + clickhouse.QuoteString(token))
	}
	b.WriteString(" VALUES")
	var num []byte
	for i := range rows {
		r := &rows[i]
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" (")
		b.WriteString(strconv.FormatInt(r.TimeReceived/1e9, 10))
		b.WriteString(", " + clickhouse.QuoteString(r.ExporterAddress.Netip().String()))
		for _, c := range counterColumns {
			num = strconv.AppendUint(append(num[:0], ", "...), c.value(r), 10)
			b.Write(num)
		}
		b.WriteByte(')')
	}
	return b.String()
}
