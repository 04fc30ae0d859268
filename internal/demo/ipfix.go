package demo

import (
	"encoding/binary"
	"time"
)

// IPFIX constants from RFC 7011.
const (
	ipfixVersion       = 10
	ipfixHeaderLength  = 16 // section 3.1
	ipfixTemplateSetID = 2  // section 3.3.2
)

// ipfixTemplateIPv4 and ipfixTemplateIPv6 describe the IPFIX data records. They differ from
// the NetFlow v9 templates where IPFIX has better elements: absolute flowStart/EndMilliseconds
// (dateTimeMilliseconds, RFC 7011 section 6.1.9) instead of sysUpTime offsets, and
// tcpControlBits at its full unsigned16 size (RFC 7125).
var (
	ipfixTemplateIPv4 = template{id: templateIDIPv4, fields: []templateField{
		{ieSourceIPv4Address, 4}, {ieDestinationIPv4Address, 4}, {ieIPNextHopIPv4Address, 4},
		{ieSourceTransportPort, 2}, {ieDestinationTransportPort, 2},
		{ieProtocolIdentifier, 1}, {ieTCPControlBits, 2}, {ieIPClassOfService, 1},
		{ieSourceIPv4PrefixLength, 1}, {ieDestinationIPv4Prefix, 1},
		{ieIngressInterface, 4}, {ieEgressInterface, 4},
		{ieBGPSourceASNumber, 4}, {ieBGPDestinationASNumber, 4},
		{ieOctetDeltaCount, 8}, {iePacketDeltaCount, 8},
		{ieFlowStartMilliseconds, 8}, {ieFlowEndMilliseconds, 8},
		{ieSamplingInterval, 4},
	}}
	ipfixTemplateIPv6 = template{id: templateIDIPv6, fields: []templateField{
		{ieSourceIPv6Address, 16}, {ieDestinationIPv6Address, 16}, {ieIPNextHopIPv6Address, 16},
		{ieSourceTransportPort, 2}, {ieDestinationTransportPort, 2},
		{ieProtocolIdentifier, 1}, {ieTCPControlBits, 2}, {ieIPClassOfService, 1},
		{ieSourceIPv6PrefixLength, 1}, {ieDestinationIPv6Prefix, 1},
		{ieIngressInterface, 4}, {ieEgressInterface, 4},
		{ieBGPSourceASNumber, 4}, {ieBGPDestinationASNumber, 4},
		{ieOctetDeltaCount, 8}, {iePacketDeltaCount, 8},
		{ieFlowStartMilliseconds, 8}, {ieFlowEndMilliseconds, 8},
		{ieSamplingInterval, 4},
	}}
	ipfixRecordLengthIPv4 = ipfixTemplateIPv4.recordLength()
	ipfixRecordLengthIPv6 = ipfixTemplateIPv6.recordLength()
)

// IPFIXHeader holds the message header fields of an IPFIX message (RFC 7011 section 3.1) that
// the exporter owns; the length is derived from the content.
type IPFIXHeader struct {
	ExportTime time.Time // sent in seconds
	// Sequence counts the data records sent before this message in this observation domain,
	// modulo 2^32 (section 3.1); template records do not count.
	Sequence          uint32
	ObservationDomain uint32
}

// AppendIPFIX appends an IPFIX message to dst: the header, a template set with the IPv4 and
// IPv6 templates when templates is set, then the flows in the order given, a data set each time
// the address family changes. Sets are not padded (padding is optional, section 3.3.1).
func AppendIPFIX(dst []byte, h IPFIXHeader, templates bool, flows []Flow) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, ipfixVersion)
	dst = binary.BigEndian.AppendUint16(dst, 0) // message length, filled in below
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ExportTime.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, h.Sequence)
	dst = binary.BigEndian.AppendUint32(dst, h.ObservationDomain)

	if templates {
		set := len(dst)
		dst = binary.BigEndian.AppendUint16(dst, ipfixTemplateSetID)
		dst = binary.BigEndian.AppendUint16(dst, 0)
		dst = appendTemplateRecord(dst, &ipfixTemplateIPv4)
		dst = appendTemplateRecord(dst, &ipfixTemplateIPv6)
		dst = closeSet(dst, set, 1)
	}

	set, setV6 := -1, false
	for i := range flows {
		f := &flows[i]
		v6 := f.SrcAddr.Is6()
		if set < 0 || v6 != setV6 {
			if set >= 0 {
				dst = closeSet(dst, set, 1)
			}
			set, setV6 = len(dst), v6
			id := uint16(templateIDIPv4)
			if v6 {
				id = templateIDIPv6
			}
			dst = binary.BigEndian.AppendUint16(dst, id)
			dst = binary.BigEndian.AppendUint16(dst, 0)
		}
		t := &ipfixTemplateIPv4
		if v6 {
			t = &ipfixTemplateIPv6
		}
		for _, tf := range t.fields {
			dst = appendFlowField(dst, tf, f, time.Time{})
		}
	}
	if set >= 0 {
		dst = closeSet(dst, set, 1)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	return dst
}

// ipfixLength is the length of the message AppendIPFIX writes for n4 IPv4 flows followed by n6
// IPv6 flows.
func ipfixLength(templates bool, n4, n6 int) int {
	n := ipfixHeaderLength
	if templates {
		n += setHeaderLength + templateRecordLength(&ipfixTemplateIPv4) + templateRecordLength(&ipfixTemplateIPv6)
	}
	if n4 > 0 {
		n += setHeaderLength + n4*ipfixRecordLengthIPv4
	}
	if n6 > 0 {
		n += setHeaderLength + n6*ipfixRecordLengthIPv6
	}
	return n
}
