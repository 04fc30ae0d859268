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
//   - Bytes: IE 1 octetDeltaCount, else 85 octetTotalCount, else 23
//     (v9 OUT_BYTES / IPFIX postOctetDeltaCount). Packets: 2, else 86, else
//     24. An exporter sending both IN and OUT counters gets the IN ones.
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
//   - Enterprise-specific fields are skipped.
func (d *Decoder) extract(ctx *packetContext, values []netflow.DataField, f *record.Flow, stats *Stats) {
	f.Reset()
	f.TimeReceived = ctx.receivedNanos
	f.ExporterAddress = ctx.exporter
	f.ObservationDomainID = ctx.obsDomain
	if ctx.version == 9 {
		f.FlowType = record.FlowTypeNetFlowV9
	} else {
		f.FlowType = record.FlowTypeIPFIX
	}

	var (
		sp                                 samplingFields
		times                              recordTimes
		outBytes, outPackets               uint64
		totalBytes, totalPackets           uint64
		minTTL, maxTTL                     uint8
		haveTTL, haveMinTTL, haveMaxTTL    bool
		postVlan, dot1qVlan, postDot1qVlan uint16
		postSrcMAC, postDstMAC             uint64
		physIn, physOut                    uint32
		haveICMP                           bool
		ipVersion                          uint8
		etherType                          uint16
		v4, v6                             bool
	)
	for i := range values {
		field := &values[i]
		if field.PenProvided {
			continue
		}
		v, ok := field.Value.([]byte)
		if !ok || len(v) == 0 {
			continue
		}
		switch field.Type {
		case netflow.IPFIX_FIELD_sourceIPv4Address:
			if len(v) == 4 {
				f.SrcAddr, v4 = record.AddrFrom4([4]byte(v)), true
			}
		case netflow.IPFIX_FIELD_destinationIPv4Address:
			if len(v) == 4 {
				f.DstAddr, v4 = record.AddrFrom4([4]byte(v)), true
			}
		case netflow.IPFIX_FIELD_sourceIPv6Address:
			if len(v) == 16 {
				f.SrcAddr, v6 = record.Addr(v), true
			}
		case netflow.IPFIX_FIELD_destinationIPv6Address:
			if len(v) == 16 {
				f.DstAddr, v6 = record.Addr(v), true
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
			f.IPTTL, haveTTL = uint8(beUint(v)), true
		case netflow.IPFIX_FIELD_minimumTTL:
			minTTL, haveMinTTL = uint8(beUint(v)), true
		case netflow.IPFIX_FIELD_maximumTTL:
			maxTTL, haveMaxTTL = uint8(beUint(v)), true
		case netflow.IPFIX_FIELD_flowLabelIPv6:
			f.IPv6FlowLabel = uint32(beUint(v)) & 0xfffff
		case netflow.IPFIX_FIELD_fragmentIdentification:
			f.IPFragmentID = uint32(beUint(v))
		case netflow.IPFIX_FIELD_fragmentOffset:
			f.IPFragmentOffset = uint16(beUint(v))
		case netflow.IPFIX_FIELD_icmpTypeCodeIPv4, netflow.IPFIX_FIELD_icmpTypeCodeIPv6:
			typeCode := beUint(v)
			f.ICMPType, f.ICMPCode, haveICMP = uint8(typeCode>>8), uint8(typeCode), true
		case netflow.IPFIX_FIELD_icmpTypeIPv4, netflow.IPFIX_FIELD_icmpTypeIPv6:
			f.ICMPType, haveICMP = uint8(beUint(v)), true
		case netflow.IPFIX_FIELD_icmpCodeIPv4, netflow.IPFIX_FIELD_icmpCodeIPv6:
			f.ICMPCode, haveICMP = uint8(beUint(v)), true
		case netflow.IPFIX_FIELD_ingressInterface:
			f.InIfIndex = uint32(beUint(v))
		case netflow.IPFIX_FIELD_egressInterface:
			f.OutIfIndex = uint32(beUint(v))
		case netflow.IPFIX_FIELD_ingressPhysicalInterface:
			physIn = uint32(beUint(v))
		case netflow.IPFIX_FIELD_egressPhysicalInterface:
			physOut = uint32(beUint(v))
		case netflow.IPFIX_FIELD_vlanId:
			f.SrcVlan = uint16(beUint(v)) & 0x0fff
		case netflow.IPFIX_FIELD_postVlanId:
			postVlan = uint16(beUint(v)) & 0x0fff
		case netflow.IPFIX_FIELD_dot1qVlanId:
			dot1qVlan = uint16(beUint(v)) & 0x0fff
		case netflow.IPFIX_FIELD_postDot1qVlanId:
			postDot1qVlan = uint16(beUint(v)) & 0x0fff
		case netflow.IPFIX_FIELD_sourceMacAddress:
			f.SrcMAC = wire.MACToUint64(v)
		case netflow.IPFIX_FIELD_destinationMacAddress:
			f.DstMAC = wire.MACToUint64(v)
		case netflow.IPFIX_FIELD_postSourceMacAddress:
			postSrcMAC = wire.MACToUint64(v)
		case netflow.IPFIX_FIELD_postDestinationMacAddress:
			postDstMAC = wire.MACToUint64(v)
		case netflow.IPFIX_FIELD_octetDeltaCount:
			f.Bytes = beUint(v)
		case netflow.IPFIX_FIELD_packetDeltaCount:
			f.Packets = beUint(v)
		case netflow.IPFIX_FIELD_octetTotalCount:
			totalBytes = beUint(v)
		case netflow.IPFIX_FIELD_packetTotalCount:
			totalPackets = beUint(v)
		case netflow.IPFIX_FIELD_postOctetDeltaCount:
			outBytes = beUint(v)
		case netflow.IPFIX_FIELD_postPacketDeltaCount:
			outPackets = beUint(v)
		case netflow.IPFIX_FIELD_forwardingStatus:
			f.ForwardingStatus = uint8(beUint(v))
		case netflow.IPFIX_FIELD_flowDirection:
			f.FlowDirection = uint8(beUint(v)) + 1
		case netflow.IPFIX_FIELD_ipVersion:
			ipVersion = uint8(beUint(v))
		case netflow.IPFIX_FIELD_ethernetType:
			etherType = uint16(beUint(v))
		case netflow.IPFIX_FIELD_flowStartSysUpTime:
			times.startUptime, times.haveStartUp = uint32(beUint(v)), true
		case netflow.IPFIX_FIELD_flowEndSysUpTime:
			times.endUptime, times.haveEndUp = uint32(beUint(v)), true
		case netflow.IPFIX_FIELD_systemInitTimeMilliseconds:
			times.systemInitMillis, times.haveSystemInit = int64(beUint(v)), true
		case netflow.IPFIX_FIELD_flowStartSeconds:
			times.start = int64(beUint(v)) * 1000
		case netflow.IPFIX_FIELD_flowEndSeconds:
			times.end = int64(beUint(v)) * 1000
		case netflow.IPFIX_FIELD_flowStartMilliseconds:
			times.start = int64(beUint(v))
		case netflow.IPFIX_FIELD_flowEndMilliseconds:
			times.end = int64(beUint(v))
		case netflow.IPFIX_FIELD_flowStartMicroseconds, netflow.IPFIX_FIELD_flowStartNanoseconds:
			times.start = ntpToUnixMillis(beUint(v))
		case netflow.IPFIX_FIELD_flowEndMicroseconds, netflow.IPFIX_FIELD_flowEndNanoseconds:
			times.end = ntpToUnixMillis(beUint(v))
		case netflow.IPFIX_FIELD_flowStartDeltaMicroseconds:
			times.startDelta, times.haveStartDelta = beUint(v), true
		case netflow.IPFIX_FIELD_flowEndDeltaMicroseconds:
			times.endDelta, times.haveEndDelta = beUint(v), true
		case netflow.IPFIX_FIELD_flowDurationMilliseconds:
			times.durationMillis = int64(beUint(v))
		case netflow.IPFIX_FIELD_flowDurationMicroseconds:
			times.durationMillis = int64(beUint(v) / 1000)
		default:
			sp.read(field.Type, v)
		}
	}

	if f.Bytes == 0 {
		f.Bytes = cmp.Or(totalBytes, outBytes)
	}
	if f.Packets == 0 {
		f.Packets = cmp.Or(totalPackets, outPackets)
	}
	if !haveTTL {
		if haveMinTTL {
			f.IPTTL = minTTL
		} else if haveMaxTTL {
			f.IPTTL = maxTTL
		}
	}
	if f.SrcVlan == 0 {
		f.SrcVlan = dot1qVlan
	}
	f.DstVlan = cmp.Or(postVlan, postDot1qVlan)
	if f.SrcMAC == 0 {
		f.SrcMAC = postSrcMAC
	}
	if f.DstMAC == 0 {
		f.DstMAC = postDstMAC
	}
	if f.InIfIndex == 0 {
		f.InIfIndex = physIn
	}
	if f.OutIfIndex == 0 {
		f.OutIfIndex = physOut
	}
	switch {
	case etherType != 0:
		f.EType = etherType
	case ipVersion == 4:
		f.EType = wire.EtherTypeIPv4
	case ipVersion == 6:
		f.EType = wire.EtherTypeIPv6
	case v6:
		f.EType = wire.EtherTypeIPv6
	case v4:
		f.EType = wire.EtherTypeIPv4
	}
	if !haveICMP {
		icmpFromDstPort(f)
	}
	ctx.applyTimes(&times, f)
	f.SamplerID = sp.samplerID
	rate := sp.rate()
	if rate == 0 {
		rate, _ = ctx.state.SamplingRate(templates.SamplerKey{Version: ctx.version, ObservationDomain: ctx.obsDomain, SamplerID: sp.samplerID})
	}
	f.SamplingRate = d.samplingRateOrDefault(rate, stats)
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
