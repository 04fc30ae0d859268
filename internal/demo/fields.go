package demo

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// Information elements shared by NetFlow v9 (RFC 3954 section 8, "field type definitions") and
// IPFIX (RFC 7012 / the IANA IPFIX registry): IPFIX kept NetFlow v9's numbers 1-127, so one
// table serves both, and one writer encodes a flow for either.
const (
	ieOctetDeltaCount          = 1  // v9 IN_BYTES
	iePacketDeltaCount         = 2  // v9 IN_PKTS
	ieProtocolIdentifier       = 4  // v9 PROTOCOL
	ieIPClassOfService         = 5  // v9 SRC_TOS
	ieTCPControlBits           = 6  // v9 TCP_FLAGS
	ieSourceTransportPort      = 7  // v9 L4_SRC_PORT
	ieSourceIPv4Address        = 8  // v9 IPV4_SRC_ADDR
	ieSourceIPv4PrefixLength   = 9  // v9 SRC_MASK
	ieIngressInterface         = 10 // v9 INPUT_SNMP
	ieDestinationTransportPort = 11 // v9 L4_DST_PORT
	ieDestinationIPv4Address   = 12 // v9 IPV4_DST_ADDR
	ieDestinationIPv4Prefix    = 13 // v9 DST_MASK
	ieEgressInterface          = 14 // v9 OUTPUT_SNMP
	ieIPNextHopIPv4Address     = 15 // v9 IPV4_NEXT_HOP
	ieBGPSourceASNumber        = 16 // v9 SRC_AS
	ieBGPDestinationASNumber   = 17 // v9 DST_AS
	ieFlowEndSysUpTime         = 21 // v9 LAST_SWITCHED
	ieFlowStartSysUpTime       = 22 // v9 FIRST_SWITCHED
	ieSourceIPv6Address        = 27 // v9 IPV6_SRC_ADDR
	ieDestinationIPv6Address   = 28 // v9 IPV6_DST_ADDR
	ieSourceIPv6PrefixLength   = 29 // v9 IPV6_SRC_MASK
	ieDestinationIPv6Prefix    = 30 // v9 IPV6_DST_MASK
	ieSamplingInterval         = 34 // v9 SAMPLING_INTERVAL
	ieIPNextHopIPv6Address     = 62 // v9 IPV6_NEXT_HOP
	ieFlowStartMilliseconds    = 152
	ieFlowEndMilliseconds      = 153
)

// templateField is one field specifier of a template record: an element ID and its length.
type templateField struct{ id, length uint16 }

// template is a template record: its ID (data sets carry it as their set ID) and fields.
type template struct {
	id     uint16
	fields []templateField
}

// recordLength is the length of one data record described by the template.
func (t *template) recordLength() int {
	n := 0
	for _, f := range t.fields {
		n += int(f.length)
	}
	return n
}

// Template IDs: RFC 3954 section 5.2 and RFC 7011 section 3.4.1 reserve 0-255 for set IDs.
const (
	templateIDIPv4 = 256
	templateIDIPv6 = 257
)

// appendFlowField appends one field of f as the template field describes it. Times relative to
// the exporter's boot (v9 FIRST/LAST_SWITCHED) use boot; absolute ones (IPFIX) ignore it.
func appendFlowField(dst []byte, tf templateField, f *Flow, boot time.Time) []byte {
	switch tf.id {
	case ieOctetDeltaCount:
		return appendUint(dst, f.Bytes, tf.length)
	case iePacketDeltaCount:
		return appendUint(dst, f.Packets, tf.length)
	case ieProtocolIdentifier:
		return appendUint(dst, uint64(f.IPProto), tf.length)
	case ieIPClassOfService:
		return appendUint(dst, uint64(f.TOS), tf.length)
	case ieTCPControlBits:
		return appendUint(dst, uint64(f.TCPFlags), tf.length)
	case ieSourceTransportPort:
		return appendUint(dst, uint64(f.SrcPort), tf.length)
	case ieDestinationTransportPort:
		return appendUint(dst, uint64(f.DstPort), tf.length)
	case ieSourceIPv4Address, ieSourceIPv6Address:
		return appendAddr(dst, f.SrcAddr, tf.length)
	case ieDestinationIPv4Address, ieDestinationIPv6Address:
		return appendAddr(dst, f.DstAddr, tf.length)
	case ieIPNextHopIPv4Address, ieIPNextHopIPv6Address:
		return appendAddr(dst, f.NextHop, tf.length)
	case ieSourceIPv4PrefixLength, ieSourceIPv6PrefixLength:
		return appendUint(dst, uint64(f.SrcMask), tf.length)
	case ieDestinationIPv4Prefix, ieDestinationIPv6Prefix:
		return appendUint(dst, uint64(f.DstMask), tf.length)
	case ieIngressInterface:
		return appendUint(dst, uint64(f.InIf), tf.length)
	case ieEgressInterface:
		return appendUint(dst, uint64(f.OutIf), tf.length)
	case ieBGPSourceASNumber:
		return appendUint(dst, uint64(f.SrcAS), tf.length)
	case ieBGPDestinationASNumber:
		return appendUint(dst, uint64(f.DstAS), tf.length)
	case ieFlowStartSysUpTime:
		return appendUint(dst, uint64(uptimeMillis(boot, f.Start)), tf.length)
	case ieFlowEndSysUpTime:
		return appendUint(dst, uint64(uptimeMillis(boot, f.End)), tf.length)
	case ieFlowStartMilliseconds:
		return appendUint(dst, uint64(f.Start.UnixMilli()), tf.length)
	case ieFlowEndMilliseconds:
		return appendUint(dst, uint64(f.End.UnixMilli()), tf.length)
	case ieSamplingInterval:
		return appendUint(dst, uint64(f.SamplingRate), tf.length)
	}
	// Unknown elements are zero-filled so that the record keeps the template's length.
	return append(dst, make([]byte, tf.length)...)
}

// appendUint appends v big-endian in n bytes (1, 2, 4 or 8): NetFlow v9 and IPFIX integers are
// network byte order, and RFC 7011 section 6.2 allows them in fewer bytes than their type.
func appendUint(dst []byte, v uint64, n uint16) []byte {
	switch n {
	case 1:
		return append(dst, byte(v))
	case 2:
		return binary.BigEndian.AppendUint16(dst, uint16(v))
	case 4:
		return binary.BigEndian.AppendUint32(dst, uint32(v))
	case 8:
		return binary.BigEndian.AppendUint64(dst, v)
	}
	for i := int(n) - 1; i >= 0; i-- {
		var b byte
		if i < 8 {
			b = byte(v >> (8 * i))
		}
		dst = append(dst, b)
	}
	return dst
}

// appendAddr appends an address in n bytes (4 for IPv4, 16 for IPv6). An invalid address or one
// of the other family is written as zeros, so a record keeps the template's length.
func appendAddr(dst []byte, a netip.Addr, n uint16) []byte {
	switch {
	case n == 4 && a.Is4():
		b := a.As4()
		return append(dst, b[:]...)
	case n == 16 && a.Is6():
		b := a.As16()
		return append(dst, b[:]...)
	}
	for range n {
		dst = append(dst, 0)
	}
	return dst
}

// uptimeMillis is t as milliseconds since the exporter booted, the unit of NetFlow's sysUptime
// and First/Last switched; it wraps after 49.7 days, as the exporters' counter does.
func uptimeMillis(boot, t time.Time) uint32 {
	return uint32(t.Sub(boot).Milliseconds())
}

// appendTemplateRecord appends a template record (RFC 3954 section 5.2, RFC 7011 section 3.4.1:
// the same layout when no enterprise-specific element is used).
func appendTemplateRecord(dst []byte, t *template) []byte {
	dst = binary.BigEndian.AppendUint16(dst, t.id)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(t.fields)))
	for _, f := range t.fields {
		dst = binary.BigEndian.AppendUint16(dst, f.id)
		dst = binary.BigEndian.AppendUint16(dst, f.length)
	}
	return dst
}

// templateRecordLength is the encoded length of t's template record.
func templateRecordLength(t *template) int { return 4 + 4*len(t.fields) }
