package record

// Counter is one sFlow counter sample (compact or expanded) of one
// interface: the generic interface counters (counter record format 1, the
// IF-MIB's), the Ethernet counters (format 2, the EtherLike-MIB's), or both.
// A row of the interface_counters table. The counters are the agent's
// running totals; rates come from differences between samples.
//
// The JSON names are the ClickHouse column names: counters travel between
// `sluice collect` and `sluice pipeline` as JSON (they are few, one sample
// per interface every ~20 s).
type Counter struct {
	TimeReceived        int64  `json:"TimeReceived"`        // Unix nanoseconds
	ExporterAddress     Addr   `json:"ExporterAddress"`     // the sFlow agent address
	ObservationDomainID uint32 `json:"ObservationDomainID"` // the sub-agent ID
	SequenceNumber      uint32 `json:"SequenceNumber"`      // the sample's, per source ID
	SourceIDType        uint32 `json:"SourceIDType"`        // 0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry
	SourceIDIndex       uint32 `json:"SourceIDIndex"`

	HasGeneric bool `json:"HasGeneric"` // the generic interface counters below were sent

	IfIndex       uint32 `json:"IfIndex"`
	IfType        uint32 `json:"IfType"`
	IfSpeed       uint64 `json:"IfSpeed"`       // bits per second
	IfDirection   uint32 `json:"IfDirection"`   // 0 unknown, 1 full-duplex, 2 half-duplex, 3 in, 4 out
	IfAdminStatus uint8  `json:"IfAdminStatus"` // 1 up, 0 down (bit 0 of ifStatus)
	IfOperStatus  uint8  `json:"IfOperStatus"`  // 1 up, 0 down (bit 1 of ifStatus)
	IfPromiscuous uint32 `json:"IfPromiscuousMode"`

	IfInOctets         uint64 `json:"IfInOctets"`
	IfInUcastPkts      uint32 `json:"IfInUcastPkts"`
	IfInMulticastPkts  uint32 `json:"IfInMulticastPkts"`
	IfInBroadcastPkts  uint32 `json:"IfInBroadcastPkts"`
	IfInDiscards       uint32 `json:"IfInDiscards"`
	IfInErrors         uint32 `json:"IfInErrors"`
	IfInUnknownProtos  uint32 `json:"IfInUnknownProtos"`
	IfOutOctets        uint64 `json:"IfOutOctets"`
	IfOutUcastPkts     uint32 `json:"IfOutUcastPkts"`
	IfOutMulticastPkts uint32 `json:"IfOutMulticastPkts"`
	IfOutBroadcastPkts uint32 `json:"IfOutBroadcastPkts"`
	IfOutDiscards      uint32 `json:"IfOutDiscards"`
	IfOutErrors        uint32 `json:"IfOutErrors"`

	HasEthernet bool `json:"HasEthernet"` // the Ethernet counters below were sent

	Dot3StatsAlignmentErrors           uint32 `json:"Dot3StatsAlignmentErrors"`
	Dot3StatsFCSErrors                 uint32 `json:"Dot3StatsFCSErrors"`
	Dot3StatsSingleCollisionFrames     uint32 `json:"Dot3StatsSingleCollisionFrames"`
	Dot3StatsMultipleCollisionFrames   uint32 `json:"Dot3StatsMultipleCollisionFrames"`
	Dot3StatsSQETestErrors             uint32 `json:"Dot3StatsSQETestErrors"`
	Dot3StatsDeferredTransmissions     uint32 `json:"Dot3StatsDeferredTransmissions"`
	Dot3StatsLateCollisions            uint32 `json:"Dot3StatsLateCollisions"`
	Dot3StatsExcessiveCollisions       uint32 `json:"Dot3StatsExcessiveCollisions"`
	Dot3StatsInternalMacTransmitErrors uint32 `json:"Dot3StatsInternalMacTransmitErrors"`
	Dot3StatsCarrierSenseErrors        uint32 `json:"Dot3StatsCarrierSenseErrors"`
	Dot3StatsFrameTooLongs             uint32 `json:"Dot3StatsFrameTooLongs"`
	Dot3StatsInternalMacReceiveErrors  uint32 `json:"Dot3StatsInternalMacReceiveErrors"`
	Dot3StatsSymbolErrors              uint32 `json:"Dot3StatsSymbolErrors"`
}
