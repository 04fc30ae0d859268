package schema

import "sluice/pipeline/record"

// Counters holds sFlow interface counter samples, one row per sample. The
// storage writer fills it from record.Counter values. An interface's
// samples are kept together, in time order: the rate queries difference
// consecutive rows of one interface. Counters the agent keeps in 32 bits
// are stored in 64, so queries can difference them without overflow casts.
var Counters = Table[record.Counter]{
	Name:    "interface_counters",
	Comment: "sluice sFlow interface counter samples, one row per sample",
	Columns: []Column[record.Counter]{
		{Name: "TimeReceived", Type: "DateTime", Comment: "when the collector received the sample", Uint: func(c *record.Counter) uint64 { return uint64(c.TimeReceived) }},
		{Name: "ExporterAddress", Type: "IPv6", Comment: "sFlow agent address", Addr: func(c *record.Counter) *record.Addr { return &c.ExporterAddress }},
		{Name: "ObservationDomainID", Type: "UInt32", Comment: "sFlow sub-agent ID", Uint: u32(func(c *record.Counter) uint32 { return c.ObservationDomainID })},
		{Name: "SequenceNumber", Type: "UInt32", Comment: "counter sample sequence number, per source", Uint: u32(func(c *record.Counter) uint32 { return c.SequenceNumber })},
		{Name: "SourceIDType", Type: "UInt8", Comment: "0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry", Uint: u32(func(c *record.Counter) uint32 { return c.SourceIDType })},
		{Name: "SourceIDIndex", Type: "UInt32", Uint: u32(func(c *record.Counter) uint32 { return c.SourceIDIndex })},
		{Name: "HasGeneric", Type: "Bool", Comment: "the generic interface counters were sent", Uint: boolean(func(c *record.Counter) bool { return c.HasGeneric })},
		{Name: "IfIndex", Type: "UInt32", Uint: u32(func(c *record.Counter) uint32 { return c.IfIndex })},
		{Name: "IfType", Type: "UInt32", Comment: "IANA ifType", Uint: u32(func(c *record.Counter) uint32 { return c.IfType })},
		{Name: "IfSpeed", Type: "UInt64", Comment: "bits per second", Uint: func(c *record.Counter) uint64 { return c.IfSpeed }},
		{Name: "IfDirection", Type: "UInt8", Comment: "0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out", Uint: u32(func(c *record.Counter) uint32 { return c.IfDirection })},
		{Name: "IfAdminStatus", Type: "UInt8", Comment: "1 up", Uint: func(c *record.Counter) uint64 { return uint64(c.IfAdminStatus) }},
		{Name: "IfOperStatus", Type: "UInt8", Comment: "1 up", Uint: func(c *record.Counter) uint64 { return uint64(c.IfOperStatus) }},
		{Name: "IfPromiscuousMode", Type: "UInt32", Uint: u32(func(c *record.Counter) uint32 { return c.IfPromiscuous })},
		{Name: "IfInOctets", Type: "UInt64", Uint: func(c *record.Counter) uint64 { return c.IfInOctets }},
		{Name: "IfInUcastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInUcastPkts })},
		{Name: "IfInMulticastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInMulticastPkts })},
		{Name: "IfInBroadcastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInBroadcastPkts })},
		{Name: "IfInDiscards", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInDiscards })},
		{Name: "IfInErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInErrors })},
		{Name: "IfInUnknownProtos", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfInUnknownProtos })},
		{Name: "IfOutOctets", Type: "UInt64", Uint: func(c *record.Counter) uint64 { return c.IfOutOctets }},
		{Name: "IfOutUcastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfOutUcastPkts })},
		{Name: "IfOutMulticastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfOutMulticastPkts })},
		{Name: "IfOutBroadcastPkts", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfOutBroadcastPkts })},
		{Name: "IfOutDiscards", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfOutDiscards })},
		{Name: "IfOutErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.IfOutErrors })},
		{Name: "HasEthernet", Type: "Bool", Comment: "the Ethernet (dot3) counters were sent", Uint: boolean(func(c *record.Counter) bool { return c.HasEthernet })},
		{Name: "Dot3StatsAlignmentErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsAlignmentErrors })},
		{Name: "Dot3StatsFCSErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsFCSErrors })},
		{Name: "Dot3StatsSingleCollisionFrames", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsSingleCollisionFrames })},
		{Name: "Dot3StatsMultipleCollisionFrames", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsMultipleCollisionFrames })},
		{Name: "Dot3StatsSQETestErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsSQETestErrors })},
		{Name: "Dot3StatsDeferredTransmissions", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsDeferredTransmissions })},
		{Name: "Dot3StatsLateCollisions", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsLateCollisions })},
		{Name: "Dot3StatsExcessiveCollisions", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsExcessiveCollisions })},
		{Name: "Dot3StatsInternalMacTransmitErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsInternalMacTransmitErrors })},
		{Name: "Dot3StatsCarrierSenseErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsCarrierSenseErrors })},
		{Name: "Dot3StatsFrameTooLongs", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsFrameTooLongs })},
		{Name: "Dot3StatsInternalMacReceiveErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsInternalMacReceiveErrors })},
		{Name: "Dot3StatsSymbolErrors", Type: "UInt64", Uint: u32(func(c *record.Counter) uint32 { return c.Dot3StatsSymbolErrors })},
	},
	Engine:      "MergeTree",
	PartitionBy: "toYYYYMMDD(TimeReceived)",
	OrderBy:     "(ExporterAddress, IfIndex, TimeReceived)",
	TTLColumn:   "TimeReceived",
}

func u32(f func(c *record.Counter) uint32) func(c *record.Counter) uint64 {
	return func(c *record.Counter) uint64 { return uint64(f(c)) }
}

func boolean(f func(c *record.Counter) bool) func(c *record.Counter) uint64 {
	return func(c *record.Counter) uint64 {
		if f(c) {
			return 1
		}
		return 0
	}
}
