package netflow

import (
	"cmp"
	"encoding/binary"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"sluice/collector/templates"
	"sluice/collector/wire"
	"sluice/pipeline/record"
)

const (
	// ntpEpochOffset is the number of seconds from 1900-01-01 (NTP era 0)
	// to 1970-01-01.
	ntpEpochOffset = 2208988800
)

// samplingFields collects the sampling information of a data or options
// record.
type samplingFields struct {
	interval        uint64 // IE 34 samplingInterval or IE 50 samplerRandomInterval
	packetInterval  uint64 // IE 305
	packetSpace     uint64 // IE 306
	size            uint64 // IE 309
	population      uint64 // IE 310
	samplerID       uint64 // IE 48 samplerId (v9 FLOW_SAMPLER_ID) or IE 302 selectorId
	samplerIDSeen   bool
	intervalPresent bool
}

func (sp *samplingFields) read(fieldType uint16, value []byte) {
	switch fieldType {
	case netflow.IPFIX_FIELD_samplingInterval, netflow.IPFIX_FIELD_samplerRandomInterval:
		sp.interval = beUint(value)
	case netflow.IPFIX_FIELD_samplingPacketInterval:
		sp.packetInterval = beUint(value)
	case netflow.IPFIX_FIELD_samplingPacketSpace:
		sp.packetSpace = beUint(value)
	case netflow.IPFIX_FIELD_samplingSize:
		sp.size = beUint(value)
	case netflow.IPFIX_FIELD_samplingPopulation:
		sp.population = beUint(value)
	case netflow.IPFIX_FIELD_samplerId, netflow.IPFIX_FIELD_selectorId:
		sp.samplerID = beUint(value)
		sp.samplerIDSeen = true
	}
}

// rate returns 1-in-N, or 0 when the fields give none. Systematic count-based
// sampling (RFC 5476) selects packetInterval packets out of every
// packetInterval+packetSpace; random n-out-of-N selects size out of
// population.
func (sp *samplingFields) rate() uint64 {
	switch {
	case sp.interval != 0:
		return sp.interval
	case sp.packetInterval != 0:
		return (sp.packetInterval + sp.packetSpace) / sp.packetInterval
	case sp.size != 0 && sp.population != 0:
		return sp.population / sp.size
	}
	return 0
}

// recordTimes collects the time fields of a record; several encodings may
// appear and the most precise present wins.
type recordTimes struct {
	start, end           int64 // Unix milliseconds
	startUptime          uint32
	endUptime            uint32
	haveStartUp          bool
	haveEndUp            bool
	systemInitMillis     int64 // IE 160
	durationMillis       int64 // IE 161 / 162
	haveSystemInit       bool
	startDelta, endDelta uint64 // IE 158 / 159, microseconds before export
	haveStartDelta       bool
	haveEndDelta         bool
}

// extract fills f from one data record's fields.
//
// Choices where fields overlap (documented here as the one place to look):
//   - Counters, by presence in the template, never by value (README,
//     "Conventions"): Bytes is IE 1 octetDeltaCount when the template has
//     it, zero included; else 85 octetTotalCount (less the same flow's
//     previous total: totals.go); else 231 NSEL
//     initiatorOctets; else 23 (v9 OUT_BYTES / postOctetDeltaCount), the
//     only count of a template without an IN one. Packets: 2, 86, 298, 24
//     the same way. A present IN counter is never replaced by OUT, nor a
//     delta by a total.
//   - TTL: IE 192 ipTTL, else 52 minimumTTL, else 53 maximumTTL.
//   - VLAN: 58 vlanId, else 243 dot1qVlanId (source); 59 postVlanId, else
//     254 postDot1qVlanId (destination). 12 bits kept.
//   - MAC: 56 sourceMacAddress else 81 postSourceMacAddress; 80
//     destinationMacAddress else 57 postDestinationMacAddress.
//   - Interfaces: 10/14, else 252/253 ingress/egressPhysicalInterface.
//   - ICMP: 32/139 icmpTypeCode, 176-179 type and code; when absent for an
//     ICMP flow, from the destination port (type<<8 | code), where Cisco
//     and others put it.
//   - EType: 256 ethernetType, else 60 ipVersion, else the family of the
//     addresses.
//   - MPLS: IE 70-72, the first three label stack entries (3 bytes: label,
//     experimental bits, bottom-of-stack); the label is the top 20 bits.
//   - NAT: IE 225-228 (NSEL uses the same numbers), 281/282 for IPv6, and
//     NSEL's older 40001-40004.
//   - NSEL: firewall event 233 or 40005, extended event 33002, ACL IDs
//     33000/33001; initiator counts 231/298 are the forward record's,
//     responder counts 232/299 the reverse one's; counts of events other
//     than a teardown are not stored (nselEventRule).
//   - RFC 5103 reverse elements (enterprise 29305) are collected into
//     the returned reverseFields, from which the caller makes the reverse
//     record; other enterprise-specific fields are skipped and counted
//     (Stats.EnterpriseFields).
func (d *Decoder) extract(ctx *packetContext, values []netflow.DataField, f *record.Flow, stats *Stats) reverseFields {
	var x extractor
	x.begin(ctx, f)
	for i := range values {
		field := &values[i]
		if v, ok := field.Value.([]byte); ok {
			x.field(field.PenProvided, field.Pen, field.Type, v, stats)
		}
	}
	return x.finish(d, stats)
}

// extractor fills one record from its fields, given one at a time (begin,
// field for each, finish), so that goflow2's decoded fields and our own
// walk over a data set (dataset.go) share it.
type extractor struct {
	ctx *packetContext
	f   *record.Flow
	rev reverseFields

	sp                                 samplingFields
	times                              recordTimes
	bytes, packets                     counters // pre (IN) counters
	outBytes, outPackets               counter  // post (OUT) counters
	minTTL, maxTTL                     uint8
	haveTTL, haveMinTTL, haveMaxTTL    bool
	postVlan, dot1qVlan, postDot1qVlan uint16
	postSrcMAC, postDstMAC             uint64
	physIn, physOut                    uint32
	haveICMP                           bool
	flowID                             uint64 // IE 148 (NSEL NF_F_CONN_ID): names the flow for totalsTable
	ipVersion                          uint8
	etherType                          uint16
	v4, v6                             bool
}

// begin starts a record in f.
func (x *extractor) begin(ctx *packetContext, f *record.Flow) {
	*x = extractor{ctx: ctx, f: f}
	f.Reset()
	f.TimeReceived = ctx.receivedNanos
	f.ExporterAddress = ctx.exporter
	f.ObservationDomainID = ctx.obsDomain
	if ctx.version == 9 {
		f.FlowType = record.FlowTypeNetFlowV9
	} else {
		f.FlowType = record.FlowTypeIPFIX
	}
}

// field reads one field value (v aliases the datagram: never kept).
func (x *extractor) field(penProvided bool, pen uint32, fieldType uint16, v []byte, stats *Stats) {
	if len(v) == 0 {
		return
	}
	if penProvided {
		if pen == penReverse {
			x.rev.read(fieldType, v)
		} else {
			stats.EnterpriseFields++
		}
		return
	}
	f := x.f
	switch fieldType {
	// A template may carry both the IPv4 and the IPv6 fields, the
	// unused family zero: a zero address never replaces a set one,
	// and only a non-zero one tells the family.
	case netflow.IPFIX_FIELD_sourceIPv4Address, netflow.IPFIX_FIELD_destinationIPv4Address:
		if len(v) == 4 {
			dst := &f.SrcAddr
			if fieldType == netflow.IPFIX_FIELD_destinationIPv4Address {
				dst = &f.DstAddr
			}
			*dst = addrFromSlice(v, *dst)
			x.v4 = x.v4 || [4]byte(v) != [4]byte{}
		}
	case netflow.IPFIX_FIELD_sourceIPv6Address, netflow.IPFIX_FIELD_destinationIPv6Address:
		if len(v) == 16 {
			dst := &f.SrcAddr
			if fieldType == netflow.IPFIX_FIELD_destinationIPv6Address {
				dst = &f.DstAddr
			}
			*dst = addrFromSlice(v, *dst)
			x.v6 = x.v6 || [16]byte(v) != [16]byte{}
		}
	case netflow.IPFIX_FIELD_sourceIPv4PrefixLength, netflow.IPFIX_FIELD_sourceIPv6PrefixLength:
		f.SrcNetMask = uint8(beUint(v))
	case netflow.IPFIX_FIELD_destinationIPv4PrefixLength, netflow.IPFIX_FIELD_destinationIPv6PrefixLength:
		f.DstNetMask = uint8(beUint(v))
	case netflow.IPFIX_FIELD_ipNextHopIPv4Address, netflow.IPFIX_FIELD_ipNextHopIPv6Address:
		f.NextHop = addrFromSlice(v, f.NextHop)
	case netflow.IPFIX_FIELD_bgpNextHopIPv4Address, netflow.IPFIX_FIELD_bgpNextHopIPv6Address:
		f.BGPNextHop = addrFromSlice(v, f.BGPNextHop)
	case netflow.IPFIX_FIELD_bgpSourceAsNumber:
		f.SrcAS = uint32(beUint(v))
	case netflow.IPFIX_FIELD_bgpDestinationAsNumber:
		f.DstAS = uint32(beUint(v))
	case netflow.IPFIX_FIELD_sourceTransportPort:
		f.SrcPort = uint16(beUint(v))
	case netflow.IPFIX_FIELD_destinationTransportPort:
		f.DstPort = uint16(beUint(v))
	case netflow.IPFIX_FIELD_protocolIdentifier:
		f.Proto = uint8(beUint(v))
	case netflow.IPFIX_FIELD_tcpControlBits:
		f.TCPFlags = uint16(beUint(v))
	case netflow.IPFIX_FIELD_ipClassOfService:
		f.IPTos = uint8(beUint(v))
	case netflow.IPFIX_FIELD_ipTTL:
		f.IPTTL, x.haveTTL = uint8(beUint(v)), true
	case netflow.IPFIX_FIELD_minimumTTL:
		x.minTTL, x.haveMinTTL = uint8(beUint(v)), true
	case netflow.IPFIX_FIELD_maximumTTL:
		x.maxTTL, x.haveMaxTTL = uint8(beUint(v)), true
	case netflow.IPFIX_FIELD_flowLabelIPv6:
		f.IPv6FlowLabel = uint32(beUint(v)) & 0xfffff
	case netflow.IPFIX_FIELD_fragmentIdentification:
		f.IPFragmentID = uint32(beUint(v))
	case netflow.IPFIX_FIELD_fragmentOffset:
		f.IPFragmentOffset = uint16(beUint(v))
	case netflow.IPFIX_FIELD_icmpTypeCodeIPv4, netflow.IPFIX_FIELD_icmpTypeCodeIPv6:
		typeCode := beUint(v)
		f.ICMPType, f.ICMPCode, x.haveICMP = uint8(typeCode>>8), uint8(typeCode), true
	case netflow.IPFIX_FIELD_icmpTypeIPv4, netflow.IPFIX_FIELD_icmpTypeIPv6:
		f.ICMPType, x.haveICMP = uint8(beUint(v)), true
	case netflow.IPFIX_FIELD_icmpCodeIPv4, netflow.IPFIX_FIELD_icmpCodeIPv6:
		f.ICMPCode, x.haveICMP = uint8(beUint(v)), true
	case netflow.IPFIX_FIELD_ingressInterface:
		f.InIfIndex = uint32(beUint(v))
	case netflow.IPFIX_FIELD_egressInterface:
		f.OutIfIndex = uint32(beUint(v))
	case netflow.IPFIX_FIELD_ingressPhysicalInterface:
		x.physIn = uint32(beUint(v))
	case netflow.IPFIX_FIELD_egressPhysicalInterface:
		x.physOut = uint32(beUint(v))
	case netflow.IPFIX_FIELD_vlanId:
		f.SrcVlan = uint16(beUint(v)) & 0x0fff
	case netflow.IPFIX_FIELD_postVlanId:
		x.postVlan = uint16(beUint(v)) & 0x0fff
	case netflow.IPFIX_FIELD_dot1qVlanId:
		x.dot1qVlan = uint16(beUint(v)) & 0x0fff
	case netflow.IPFIX_FIELD_postDot1qVlanId:
		x.postDot1qVlan = uint16(beUint(v)) & 0x0fff
	case netflow.IPFIX_FIELD_sourceMacAddress:
		f.SrcMAC = wire.MACToUint64(v)
	case netflow.IPFIX_FIELD_destinationMacAddress:
		f.DstMAC = wire.MACToUint64(v)
	case netflow.IPFIX_FIELD_postSourceMacAddress:
		x.postSrcMAC = wire.MACToUint64(v)
	case netflow.IPFIX_FIELD_postDestinationMacAddress:
		x.postDstMAC = wire.MACToUint64(v)
	case netflow.IPFIX_FIELD_octetDeltaCount:
		x.bytes.delta.set(v)
	case netflow.IPFIX_FIELD_packetDeltaCount:
		x.packets.delta.set(v)
	case netflow.IPFIX_FIELD_octetTotalCount:
		x.bytes.total.set(v)
	case netflow.IPFIX_FIELD_packetTotalCount:
		x.packets.total.set(v)
	case netflow.IPFIX_FIELD_postOctetDeltaCount:
		x.outBytes.set(v)
	case netflow.IPFIX_FIELD_postPacketDeltaCount:
		x.outPackets.set(v)
	case netflow.IPFIX_FIELD_forwardingStatus:
		f.ForwardingStatus = uint8(beUint(v))
	case netflow.IPFIX_FIELD_flowDirection:
		f.FlowDirection = uint8(beUint(v)) + 1
	case netflow.IPFIX_FIELD_ipVersion:
		x.ipVersion = uint8(beUint(v))
	case netflow.IPFIX_FIELD_ethernetType:
		x.etherType = uint16(beUint(v))
	case netflow.IPFIX_FIELD_flowStartSysUpTime:
		x.times.startUptime, x.times.haveStartUp = uint32(beUint(v)), true
	case netflow.IPFIX_FIELD_flowEndSysUpTime:
		x.times.endUptime, x.times.haveEndUp = uint32(beUint(v)), true
	case netflow.IPFIX_FIELD_systemInitTimeMilliseconds:
		x.times.systemInitMillis, x.times.haveSystemInit = int64(beUint(v)), true
	case netflow.IPFIX_FIELD_flowStartSeconds:
		x.times.start = int64(beUint(v)) * 1000
	case netflow.IPFIX_FIELD_flowEndSeconds:
		x.times.end = int64(beUint(v)) * 1000
	case netflow.IPFIX_FIELD_flowStartMilliseconds:
		x.times.start = int64(beUint(v))
	case netflow.IPFIX_FIELD_flowEndMilliseconds:
		x.times.end = int64(beUint(v))
	case netflow.IPFIX_FIELD_flowStartMicroseconds, netflow.IPFIX_FIELD_flowStartNanoseconds:
		x.times.start = ntpToUnixMillis(beUint(v))
	case netflow.IPFIX_FIELD_flowEndMicroseconds, netflow.IPFIX_FIELD_flowEndNanoseconds:
		x.times.end = ntpToUnixMillis(beUint(v))
	case netflow.IPFIX_FIELD_flowStartDeltaMicroseconds:
		x.times.startDelta, x.times.haveStartDelta = beUint(v), true
	case netflow.IPFIX_FIELD_flowEndDeltaMicroseconds:
		x.times.endDelta, x.times.haveEndDelta = beUint(v), true
	case netflow.IPFIX_FIELD_flowDurationMilliseconds:
		x.times.durationMillis = int64(beUint(v))
	case netflow.IPFIX_FIELD_flowDurationMicroseconds:
		x.times.durationMillis = int64(beUint(v) / 1000)
	case ieMPLSLabel1:
		f.MPLS1stLabel = mplsLabel(v)
	case ieMPLSLabel2:
		f.MPLS2ndLabel = mplsLabel(v)
	case ieMPLSLabel3:
		f.MPLS3rdLabel = mplsLabel(v)
	case netflow.IPFIX_FIELD_ingressVRFID:
		f.IngressVRFID = uint32(beUint(v))
	case netflow.IPFIX_FIELD_egressVRFID:
		f.EgressVRFID = uint32(beUint(v))
	case netflow.IPFIX_FIELD_postNATSourceIPv4Address, netflow.IPFIX_FIELD_postNATSourceIPv6Address, ieNSELXlateSrcAddrIPv4:
		f.SrcAddrNAT = addrFromSlice(v, f.SrcAddrNAT)
	case netflow.IPFIX_FIELD_postNATDestinationIPv4Address, netflow.IPFIX_FIELD_postNATDestinationIPv6Address, ieNSELXlateDstAddrIPv4:
		f.DstAddrNAT = addrFromSlice(v, f.DstAddrNAT)
	case netflow.IPFIX_FIELD_postNAPTSourceTransportPort, ieNSELXlateSrcPort:
		f.SrcPortNAT = uint16(beUint(v))
	case netflow.IPFIX_FIELD_postNAPTDestinationTransportPort, ieNSELXlateDstPort:
		f.DstPortNAT = uint16(beUint(v))
	case netflow.IPFIX_FIELD_flowId:
		x.flowID = beUint(v) // 0 names no flow
	case netflow.IPFIX_FIELD_firewallEvent, ieNSELFirewallEvent:
		f.FirewallEvent = uint8(beUint(v))
	case ieNSELExtEvent:
		f.FirewallExtEvent = uint16(beUint(v))
	case ieNSELIngressACL:
		f.IngressACL, f.IngressACE, f.IngressACEExt = aclID(v)
	case ieNSELEgressACL:
		f.EgressACL, f.EgressACE, f.EgressACEExt = aclID(v)
	case netflow.IPFIX_FIELD_initiatorOctets:
		x.bytes.initiator.set(v)
	case netflow.IPFIX_FIELD_initiatorPackets:
		x.packets.initiator.set(v)
	case netflow.IPFIX_FIELD_responderOctets:
		x.rev.bytes.initiator.set(v) // the reverse record's "initiator"
	case netflow.IPFIX_FIELD_responderPackets:
		x.rev.packets.initiator.set(v)
	default:
		x.sp.read(fieldType, v)
	}
}

// finish applies the precedence rules once every field is read, and
// returns the record's reverse (biflow) counters.
func (x *extractor) finish(d *Decoder, stats *Stats) reverseFields {
	f := x.f
	f.Bytes = x.bytes.value(x.outBytes)
	f.Packets = x.packets.value(x.outPackets)
	x.nselEventRule()
	if !x.haveTTL {
		if x.haveMinTTL {
			f.IPTTL = x.minTTL
		} else if x.haveMaxTTL {
			f.IPTTL = x.maxTTL
		}
	}
	if f.SrcVlan == 0 {
		f.SrcVlan = x.dot1qVlan
	}
	f.DstVlan = cmp.Or(x.postVlan, x.postDot1qVlan)
	if f.SrcMAC == 0 {
		f.SrcMAC = x.postSrcMAC
	}
	if f.DstMAC == 0 {
		f.DstMAC = x.postDstMAC
	}
	if f.InIfIndex == 0 {
		f.InIfIndex = x.physIn
	}
	if f.OutIfIndex == 0 {
		f.OutIfIndex = x.physOut
	}
	switch {
	case x.etherType != 0:
		f.EType = x.etherType
	case x.ipVersion == 4:
		f.EType = wire.EtherTypeIPv4
	case x.ipVersion == 6:
		f.EType = wire.EtherTypeIPv6
	case x.v6:
		f.EType = wire.EtherTypeIPv6
	case x.v4:
		f.EType = wire.EtherTypeIPv4
	}
	if !x.haveICMP {
		icmpFromDstPort(f)
	}
	x.ctx.applyTimes(&x.times, f)
	f.SamplerID = x.sp.samplerID
	rate := x.sp.rate()
	if rate == 0 {
		rate, _ = x.ctx.state.SamplingRate(templates.SamplerKey{Version: x.ctx.version, ObservationDomain: x.ctx.obsDomain, SamplerID: x.sp.samplerID})
	}
	f.SamplingRate = d.samplingRate(x.ctx.sampling, rate, stats)
	x.differenceTotals(d, stats)
	return x.rev
}

// Information elements without a goflow2 constant.
const (
	ieMPLSLabel1 = netflow.IPFIX_FIELD_mplsTopLabelStackSection // 70
	ieMPLSLabel2 = netflow.IPFIX_FIELD_mplsLabelStackSection2   // 71
	ieMPLSLabel3 = netflow.IPFIX_FIELD_mplsLabelStackSection3   // 72

	// Cisco NSEL (ASA) translated addresses and ports, before it adopted
	// IEs 225-228.
	ieNSELXlateSrcAddrIPv4 = 40001
	ieNSELXlateDstAddrIPv4 = 40002
	ieNSELXlateSrcPort     = 40003
	ieNSELXlateDstPort     = 40004

	// Cisco NSEL event fields: NF_F_FW_EVENT (IE 233's older number),
	// NF_F_FW_EXT_EVENT, NF_F_INGRESS_ACL_ID, NF_F_EGRESS_ACL_ID.
	ieNSELFirewallEvent = 40005
	ieNSELExtEvent      = 33002
	ieNSELIngressACL    = 33000
	ieNSELEgressACL     = 33001

	// penReverse is the enterprise number of RFC 5103's reverse
	// information elements: the forward IE's number, for the reverse
	// direction of a biflow.
	penReverse = 29305
)

// NSEL firewall events (IE 233, 40005).
const (
	fwEventDeleted = 2 // flow-teardown
)

// nselEventRule keeps an ASA flow's bytes from being counted twice across
// its events (README, "Cisco ASA (NSEL)"). Cisco's NSEL guide: a
// flow-teardown record "includes all information regarding the flow", its
// whole life; flow-update records carry the counts since the last update
// timer, and an update at teardown the last interval, none for a flow torn
// down before its first update. So the teardown's counts are stored, and
// the counts of any other event (create, denied, alert, update) are not:
// stored too, the update counts would count a long flow twice. Delta
// counters (IE 1/2, and the post ones 23/24, v9 OUT_BYTES/OUT_PKTS, when
// the one counter rule picks them; the reverse deltas likewise) mean what
// RFC 7012 says, since the previous report, whatever the event: they are
// kept.
func (x *extractor) nselEventRule() {
	f := x.f
	if f.FirewallEvent == 0 || f.FirewallEvent == fwEventDeleted {
		return
	}
	if !x.bytes.isDelta(x.outBytes) {
		f.Bytes = 0
	}
	if !x.packets.isDelta(x.outPackets) {
		f.Packets = 0
	}
	x.rev.bytes.total, x.rev.bytes.initiator = counter{}, counter{}
	x.rev.packets.total, x.rev.packets.initiator = counter{}, counter{}
}

// aclID reads an NSEL ACL ID (IE 33000/33001): three 32-bit values, the
// ACL, the ACE and the extended ACE; a shorter value fills what it covers.
func aclID(v []byte) (acl, ace, ext uint32) {
	var id [3]uint32
	for i := range id {
		if len(v) < 4 {
			break
		}
		id[i], v = binary.BigEndian.Uint32(v), v[4:]
	}
	return id[0], id[1], id[2]
}

// counter is one counter field of a record: whether the template has it,
// and its value. Presence, not the value, picks the counter used: a zero
// delta is an answer, not a gap.
type counter struct {
	v       uint64
	present bool
}

func (c *counter) set(v []byte) { c.v, c.present = beUint(v), true }

// counters are the pre (IN) counters of one quantity (bytes or packets) a
// record may carry, in the order the one counter rule tries them.
type counters struct {
	delta     counter // IE 1 / 2 (v9 IN_BYTES / IN_PKTS)
	total     counter // IE 85 / 86, cumulative over the flow's life
	initiator counter // NSEL IE 231 / 298, the initiator's side of a connection
}

// value applies the one counter rule (README, "Conventions"): the delta
// when the template has one, whatever its value; else the total (which
// differenceTotals then turns into the difference from the same flow's
// previous report, when the record names its flow); else NSEL's initiator
// count; else post (OUT) when the template has no IN counter at all: the
// record's only count, not a stand-in for a present one.
func (c *counters) value(post counter) uint64 {
	switch {
	case c.delta.present:
		return c.delta.v
	case c.total.present:
		return c.total.v
	case c.initiator.present:
		return c.initiator.v
	}
	return post.v
}

// isDelta reports whether value(post) picks a delta counter: IE 1/2, or
// the post (OUT) IE 23/24 of a template with no IN counter.
func (c *counters) isDelta(post counter) bool {
	return c.delta.present || !c.total.present && !c.initiator.present && post.present
}

// mplsLabel reads a label stack entry (RFC 3032: 20-bit label, 3 bits of
// traffic class, bottom-of-stack bit; IPFIX sends the first 3 bytes) and
// returns its label.
func mplsLabel(v []byte) uint32 {
	switch {
	case len(v) >= 3:
		return uint32(v[0])<<12 | uint32(v[1])<<4 | uint32(v[2])>>4
	}
	return 0
}

// reverseFields are a biflow record's reverse-direction counters (RFC 5103).
type reverseFields struct {
	bytes, packets counters // NSEL's responder counts are the initiator slot
	tcpFlags       uint16   // 0 when the record has none
}

func (r *reverseFields) read(fieldType uint16, v []byte) {
	switch fieldType {
	case netflow.IPFIX_FIELD_octetDeltaCount:
		r.bytes.delta.set(v)
	case netflow.IPFIX_FIELD_packetDeltaCount:
		r.packets.delta.set(v)
	case netflow.IPFIX_FIELD_octetTotalCount:
		r.bytes.total.set(v)
	case netflow.IPFIX_FIELD_packetTotalCount:
		r.packets.total.set(v)
	case netflow.IPFIX_FIELD_tcpControlBits:
		r.tcpFlags = uint16(beUint(v))
	}
}

// carries reports whether the reverse direction carried anything: whether
// reverse makes a record. The counters are chosen by the one counter rule,
// as the forward ones are.
func (r *reverseFields) carries() bool {
	return r.bytes.value(counter{}) != 0 || r.packets.value(counter{}) != 0
}

// reverse turns f, a biflow's forward record, into its reverse record:
// source and destination swapped (addresses, ports, masks, AS, interfaces,
// VLANs, MACs, NAT), the reverse counters and TCP flags (0, unknown,
// without reverse ones), the direction flipped. It reports false, leaving
// f alone, when the reverse direction carried nothing (no reverse
// counters, or zero ones): no record then.
func (r *reverseFields) reverse(f *record.Flow) bool {
	if !r.carries() {
		return false
	}
	bytes, packets := r.bytes.value(counter{}), r.packets.value(counter{})
	f.SrcAddr, f.DstAddr = f.DstAddr, f.SrcAddr
	f.SrcPort, f.DstPort = f.DstPort, f.SrcPort
	f.SrcNetMask, f.DstNetMask = f.DstNetMask, f.SrcNetMask
	f.SrcAS, f.DstAS = f.DstAS, f.SrcAS
	f.InIfIndex, f.OutIfIndex = f.OutIfIndex, f.InIfIndex
	f.SrcVlan, f.DstVlan = f.DstVlan, f.SrcVlan
	f.SrcMAC, f.DstMAC = f.DstMAC, f.SrcMAC
	f.SrcAddrNAT, f.DstAddrNAT = f.DstAddrNAT, f.SrcAddrNAT
	f.SrcPortNAT, f.DstPortNAT = f.DstPortNAT, f.SrcPortNAT
	f.Bytes, f.Packets = bytes, packets
	// Never the forward flags: without reverseTcpControlBits the reverse
	// direction's flags are unknown, 0.
	f.TCPFlags = r.tcpFlags
	switch f.FlowDirection {
	case 1:
		f.FlowDirection = 2
	case 2:
		f.FlowDirection = 1
	}
	return true
}

// applyTimes converts the collected time fields into Unix milliseconds.
// Uptime-relative times (IE 21/22) use the v9 header's sysUpTime, or for
// IPFIX the record's systemInitTimeMilliseconds (IE 160); without it they
// are left unset. Absolute times win over relative ones.
func (ctx *packetContext) applyTimes(t *recordTimes, f *record.Flow) {
	start, end := t.start, t.end
	if ctx.version == 9 {
		if start == 0 && t.haveStartUp {
			start = uptimeToUnixMillis(ctx.exportMillis, ctx.uptimeMillis, t.startUptime)
		}
		if end == 0 && t.haveEndUp {
			end = uptimeToUnixMillis(ctx.exportMillis, ctx.uptimeMillis, t.endUptime)
		}
	} else if t.haveSystemInit {
		if start == 0 && t.haveStartUp {
			start = t.systemInitMillis + int64(t.startUptime)
		}
		if end == 0 && t.haveEndUp {
			end = t.systemInitMillis + int64(t.endUptime)
		}
	}
	if start == 0 && t.haveStartDelta {
		start = ctx.exportMillis - int64(t.startDelta/1000)
	}
	if end == 0 && t.haveEndDelta {
		end = ctx.exportMillis - int64(t.endDelta/1000)
	}
	if t.durationMillis != 0 {
		if end == 0 && start != 0 {
			end = start + t.durationMillis
		} else if start == 0 && end != 0 {
			start = end - t.durationMillis
		}
	}
	f.TimeFlowStart, f.TimeFlowEnd = start, end
}

// beUint reads an unsigned big-endian integer of 1 to 8 bytes. Reduced-size
// encoding (RFC 7011 §6.2) means any length up to the type's size may
// appear; longer values are not integers and read as 0.
func beUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	case 8:
		return binary.BigEndian.Uint64(b)
	}
	if len(b) > 8 {
		return 0
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// addrFromSlice converts a 4- or 16-byte address, keeping current for any
// other length. An all-zero address does not overwrite a set one, so a
// template carrying both the IPv4 and IPv6 variant of a field keeps the
// meaningful one.
func addrFromSlice(b []byte, current record.Addr) record.Addr {
	switch len(b) {
	case 4:
		if current.IsZero() || [4]byte(b) != [4]byte{} {
			return record.AddrFrom4([4]byte(b))
		}
	case 16:
		if current.IsZero() || [16]byte(b) != [16]byte{} {
			return record.Addr(b)
		}
	}
	return current
}

// ntpToUnixMillis converts an NTP-format timestamp (RFC 7011 §6.1.9/6.1.10:
// 32-bit seconds since 1900, 32-bit binary fraction), the encoding of both
// dateTimeMicroseconds and dateTimeNanoseconds, to Unix milliseconds.
func ntpToUnixMillis(v uint64) int64 {
	seconds := int64(v>>32) - ntpEpochOffset
	millis := int64(((v & 0xffffffff) * 1000) >> 32)
	return seconds*1000 + millis
}

// icmpFromDstPort derives ICMP type and code for an ICMP flow that does not
// carry them in dedicated fields: NetFlow v5 and many v9/IPFIX exporters
// encode them in the destination port as type<<8 | code.
func icmpFromDstPort(f *record.Flow) {
	if f.Proto == wire.ProtoICMP || f.Proto == wire.ProtoICMPv6 {
		f.ICMPType, f.ICMPCode = uint8(f.DstPort>>8), uint8(f.DstPort)
	}
}
