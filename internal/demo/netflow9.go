package demo

import (
	"encoding/binary"
	"time"
)

// NetFlow v9 constants from RFC 3954.
const (
	netflow9Version       = 9
	netflow9HeaderLength  = 20 // section 5.1
	netflow9TemplateSetID = 0  // section 5.2: FlowSet ID 0 carries template records
	setHeaderLength       = 4  // FlowSet/Set ID and length, for v9 and IPFIX alike
)

// netflow9TemplateIPv4 and netflow9TemplateIPv6 describe the data records sluice's demo
// exporters send. Counters are 8 bytes (RFC 3954 section 8 allows N bytes, default 4), so that
// heavy flows do not wrap; FIRST/LAST_SWITCHED are sysUptime in milliseconds.
var (
	netflow9TemplateIPv4 = template{id: templateIDIPv4, fields: []templateField{
		{ieSourceIPv4Address, 4}, {ieDestinationIPv4Address, 4}, {ieIPNextHopIPv4Address, 4},
		{ieSourceTransportPort, 2}, {ieDestinationTransportPort, 2},
		{ieProtocolIdentifier, 1}, {ieTCPControlBits, 1}, {ieIPClassOfService, 1},
		{ieSourceIPv4PrefixLength, 1}, {ieDestinationIPv4Prefix, 1},
		{ieIngressInterface, 4}, {ieEgressInterface, 4},
		{ieBGPSourceASNumber, 4}, {ieBGPDestinationASNumber, 4},
		{ieOctetDeltaCount, 8}, {iePacketDeltaCount, 8},
		{ieFlowStartSysUpTime, 4}, {ieFlowEndSysUpTime, 4},
		{ieSamplingInterval, 4},
	}}
	netflow9TemplateIPv6 = template{id: templateIDIPv6, fields: []templateField{
		{ieSourceIPv6Address, 16}, {ieDestinationIPv6Address, 16}, {ieIPNextHopIPv6Address, 16},
		{ieSourceTransportPort, 2}, {ieDestinationTransportPort, 2},
		{ieProtocolIdentifier, 1}, {ieTCPControlBits, 1}, {ieIPClassOfService, 1},
		{ieSourceIPv6PrefixLength, 1}, {ieDestinationIPv6Prefix, 1},
		{ieIngressInterface, 4}, {ieEgressInterface, 4},
		{ieBGPSourceASNumber, 4}, {ieBGPDestinationASNumber, 4},
		{ieOctetDeltaCount, 8}, {iePacketDeltaCount, 8},
		{ieFlowStartSysUpTime, 4}, {ieFlowEndSysUpTime, 4},
		{ieSamplingInterval, 4},
	}}
	netflow9RecordLengthIPv4 = netflow9TemplateIPv4.recordLength()
	netflow9RecordLengthIPv6 = netflow9TemplateIPv6.recordLength()
)

// NetFlow9Header holds the header fields of a NetFlow v9 export packet (RFC 3954 section 5.1)
// that the exporter owns; the record count is derived from the content.
type NetFlow9Header struct {
	// Boot is when the exporter started: sysUpTime and every FIRST/LAST_SWITCHED are
	// milliseconds since Boot.
	Boot time.Time
	// ExportTime is the packet's clock. It is truncated to the second, the precision of UNIX
	// Secs, and sysUpTime is taken at that same instant, so that a collector deriving absolute
	// flow times (UNIX Secs - (sysUpTime - FIRST_SWITCHED)) gets the flows' times exactly.
	ExportTime time.Time
	// Sequence counts the export packets sent before this one from this source ID (section 5.1).
	Sequence uint32
	SourceID uint32
}

// AppendNetFlow9 appends a NetFlow v9 export packet to dst: the header, then a template FlowSet
// with the IPv4 and IPv6 templates when templates is set (RFC 3954 section 5.2: templates
// precede the data that uses them), then the flows in the order given, a data FlowSet each time
// the address family changes. Each FlowSet is padded to a 32-bit boundary (section 5.3).
func AppendNetFlow9(dst []byte, h NetFlow9Header, templates bool, flows []Flow) []byte {
	export := h.ExportTime.Truncate(time.Second)
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, netflow9Version)
	dst = binary.BigEndian.AppendUint16(dst, 0) // count, filled in below
	dst = binary.BigEndian.AppendUint32(dst, uptimeMillis(h.Boot, export))
	dst = binary.BigEndian.AppendUint32(dst, uint32(export.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, h.Sequence)
	dst = binary.BigEndian.AppendUint32(dst, h.SourceID)

	count := 0
	if templates {
		set := len(dst)
		dst = binary.BigEndian.AppendUint16(dst, netflow9TemplateSetID)
		dst = binary.BigEndian.AppendUint16(dst, 0)
		dst = appendTemplateRecord(dst, &netflow9TemplateIPv4)
		dst = appendTemplateRecord(dst, &netflow9TemplateIPv6)
		dst = closeSet(dst, set, 4)
		count += 2
	}

	set, setV6 := -1, false
	for i := range flows {
		f := &flows[i]
		v6 := f.SrcAddr.Is6()
		if set < 0 || v6 != setV6 {
			if set >= 0 {
				dst = closeSet(dst, set, 4)
			}
			set, setV6 = len(dst), v6
			id := uint16(templateIDIPv4)
			if v6 {
				id = templateIDIPv6
			}
			dst = binary.BigEndian.AppendUint16(dst, id)
			dst = binary.BigEndian.AppendUint16(dst, 0)
		}
		t := &netflow9TemplateIPv4
		if v6 {
			t = &netflow9TemplateIPv6
		}
		for _, tf := range t.fields {
			dst = appendFlowField(dst, tf, f, h.Boot)
		}
		count++
	}
	if set >= 0 {
		dst = closeSet(dst, set, 4)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(count))
	return dst
}

// closeSet pads the (Flow)Set that starts at dst[set:] to a multiple of align bytes and writes
// its length, which includes the set header and the padding (RFC 3954 section 5.3, RFC 7011
// section 3.3.1).
func closeSet(dst []byte, set, align int) []byte {
	for (len(dst)-set)%align != 0 {
		dst = append(dst, 0)
	}
	binary.BigEndian.PutUint16(dst[set+2:], uint16(len(dst)-set))
	return dst
}

// padded rounds n up to a multiple of align.
func padded(n, align int) int { return (n + align - 1) / align * align }

// netflow9Length is the length of the packet AppendNetFlow9 writes for n4 IPv4 flows followed
// by n6 IPv6 flows.
func netflow9Length(templates bool, n4, n6 int) int {
	n := netflow9HeaderLength
	if templates {
		n += padded(setHeaderLength+templateRecordLength(&netflow9TemplateIPv4)+templateRecordLength(&netflow9TemplateIPv6), 4)
	}
	if n4 > 0 {
		n += padded(setHeaderLength+n4*netflow9RecordLengthIPv4, 4)
	}
	if n6 > 0 {
		n += padded(setHeaderLength+n6*netflow9RecordLengthIPv6, 4)
	}
	return n
}
