package sflow

import (
	"github.com/netsampler/goflow2/v2/decoders/sflow"

	"sluice/pipeline/record"
)

// Bits of the generic counters' ifStatus (RFC 2233's ifAdminStatus and
// ifOperStatus, up = 1).
const (
	ifStatusAdminUp = 1 << 0
	ifStatusOperUp  = 1 << 1
)

// counterFromSample fills c from a counter sample; false when the sample
// holds neither generic interface nor Ethernet counters.
func counterFromSample(sample *sflow.CounterSample, agent record.Addr, subAgent uint32, receivedNanos int64, c *record.Counter) bool {
	*c = record.Counter{
		TimeReceived:        receivedNanos,
		ExporterAddress:     agent,
		ObservationDomainID: subAgent,
		SequenceNumber:      sample.Header.SampleSequenceNumber,
		SourceIDType:        sample.Header.SourceIdType,
		SourceIDIndex:       sample.Header.SourceIdValue,
	}
	for i := range sample.Records {
		switch r := sample.Records[i].Data.(type) {
		case sflow.IfCounters:
			c.HasGeneric = true
			c.IfIndex, c.IfType, c.IfSpeed, c.IfDirection = r.IfIndex, r.IfType, r.IfSpeed, r.IfDirection
			if r.IfStatus&ifStatusAdminUp != 0 {
				c.IfAdminStatus = 1
			}
			if r.IfStatus&ifStatusOperUp != 0 {
				c.IfOperStatus = 1
			}
			c.IfPromiscuous = r.IfPromiscuousMode
			c.IfInOctets, c.IfInUcastPkts, c.IfInMulticastPkts, c.IfInBroadcastPkts = r.IfInOctets, r.IfInUcastPkts, r.IfInMulticastPkts, r.IfInBroadcastPkts
			c.IfInDiscards, c.IfInErrors, c.IfInUnknownProtos = r.IfInDiscards, r.IfInErrors, r.IfInUnknownProtos
			c.IfOutOctets, c.IfOutUcastPkts, c.IfOutMulticastPkts, c.IfOutBroadcastPkts = r.IfOutOctets, r.IfOutUcastPkts, r.IfOutMulticastPkts, r.IfOutBroadcastPkts
			c.IfOutDiscards, c.IfOutErrors = r.IfOutDiscards, r.IfOutErrors
		case sflow.EthernetCounters:
			c.HasEthernet = true
			c.Dot3StatsAlignmentErrors = r.Dot3StatsAlignmentErrors
			c.Dot3StatsFCSErrors = r.Dot3StatsFCSErrors
			c.Dot3StatsSingleCollisionFrames = r.Dot3StatsSingleCollisionFrames
			c.Dot3StatsMultipleCollisionFrames = r.Dot3StatsMultipleCollisionFrames
			c.Dot3StatsSQETestErrors = r.Dot3StatsSQETestErrors
			c.Dot3StatsDeferredTransmissions = r.Dot3StatsDeferredTransmissions
			c.Dot3StatsLateCollisions = r.Dot3StatsLateCollisions
			c.Dot3StatsExcessiveCollisions = r.Dot3StatsExcessiveCollisions
			c.Dot3StatsInternalMacTransmitErrors = r.Dot3StatsInternalMacTransmitErrors
			c.Dot3StatsCarrierSenseErrors = r.Dot3StatsCarrierSenseErrors
			c.Dot3StatsFrameTooLongs = r.Dot3StatsFrameTooLongs
			c.Dot3StatsInternalMacReceiveErrors = r.Dot3StatsInternalMacReceiveErrors
			c.Dot3StatsSymbolErrors = r.Dot3StatsSymbolErrors
		}
	}
	if !c.HasGeneric && c.SourceIDType == 0 {
		c.IfIndex = c.SourceIDIndex // Ethernet counters alone: the source ID names the interface
	}
	return c.HasGeneric || c.HasEthernet
}
