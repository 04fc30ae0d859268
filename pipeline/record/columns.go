package record

import "google.golang.org/protobuf/encoding/protowire"

// Kind is how a column's value is held in a Flow and encoded.
type Kind uint8

// Column kinds.
const (
	KindUInt8 Kind = iota + 1
	KindUInt16
	KindUInt32
	KindUInt64
	KindEnum8        // FlowType, an 8-bit enum
	KindIPv6         // Addr, 16 bytes
	KindDateTime     // int64 Unix nanoseconds in Go, seconds in ClickHouse
	KindDateTime64ms // int64 Unix milliseconds, DateTime64(3) in ClickHouse
)

// Column describes one column of the canonical record. This table is the
// single source for the ClickHouse DDL, the writer's column building and the
// protobuf wire schema (pipeline/recordpb): add a field here and everything
// follows.
type Column struct {
	Name  string           // ClickHouse column and protobuf field name
	Kind  Kind             // how the value is held and encoded
	Type  string           // ClickHouse type
	Codec string           // ClickHouse compression codec, if any
	Field protowire.Number // protobuf field number: fixed forever, never reused
	Doc   string           // one line for the DDL comment and the .proto

	// Exactly one accessor pair is set: Uint/SetUint for integer, enum and
	// time kinds (times are int64 carried as their two's-complement bits),
	// Addr for KindIPv6 (a pointer, to read and write in place).
	Uint    func(*Flow) uint64
	SetUint func(*Flow, uint64)
	Addr    func(*Flow) *Addr
}

// ReservedFields lists protobuf field numbers of removed columns; they are
// never used again.
var ReservedFields = []protowire.Number{}

// Columns is the canonical record, in table order.
var Columns = []Column{
	{
		Name: "TimeReceived", Kind: KindDateTime, Type: "DateTime", Field: 1,
		Codec:   "CODEC(DoubleDelta, LZ4)",
		Doc:     "when the collector received the datagram",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeReceived) },
		SetUint: func(f *Flow, v uint64) { f.TimeReceived = int64(v) },
	},
	{
		Name: "TimeFlowStart", Kind: KindDateTime64ms, Type: "DateTime64(3)", Field: 2,
		Codec:   "CODEC(DoubleDelta, LZ4)",
		Doc:     "first packet of the flow (0 when not exported)",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeFlowStart) },
		SetUint: func(f *Flow, v uint64) { f.TimeFlowStart = int64(v) },
	},
	{
		Name: "TimeFlowEnd", Kind: KindDateTime64ms, Type: "DateTime64(3)", Field: 3,
		Codec:   "CODEC(DoubleDelta, LZ4)",
		Doc:     "last packet of the flow (0 when not exported)",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeFlowEnd) },
		SetUint: func(f *Flow, v uint64) { f.TimeFlowEnd = int64(v) },
	},
	{
		Name: "FlowType", Kind: KindEnum8, Type: "Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4)", Field: 4,
		Doc:     "export protocol",
		Uint:    func(f *Flow) uint64 { return uint64(f.FlowType) },
		SetUint: func(f *Flow, v uint64) { f.FlowType = FlowType(v) },
	},
	{
		Name: "ExporterAddress", Kind: KindIPv6, Type: "IPv6", Field: 5,
		Doc:  "exporter's address (IPv4 mapped)",
		Addr: func(f *Flow) *Addr { return &f.ExporterAddress },
	},
	{
		Name: "ObservationDomainID", Kind: KindUInt32, Type: "UInt32", Field: 6,
		Doc:     "NetFlow v9 source ID, IPFIX observation domain, sFlow sub-agent",
		Uint:    func(f *Flow) uint64 { return uint64(f.ObservationDomainID) },
		SetUint: func(f *Flow, v uint64) { f.ObservationDomainID = uint32(v) },
	},
	{
		Name: "SamplerID", Kind: KindUInt64, Type: "UInt64", Field: 7,
		Doc:     "sampler ID the sampling rate came from",
		Uint:    func(f *Flow) uint64 { return uint64(f.SamplerID) },
		SetUint: func(f *Flow, v uint64) { f.SamplerID = uint64(v) },
	},
	{
		Name: "SamplingRate", Kind: KindUInt64, Type: "UInt64", Field: 8,
		Doc:     "1 in N packets sampled; Bytes and Packets are not scaled",
		Uint:    func(f *Flow) uint64 { return uint64(f.SamplingRate) },
		SetUint: func(f *Flow, v uint64) { f.SamplingRate = uint64(v) },
	},
	{
		Name: "SrcAddr", Kind: KindIPv6, Type: "IPv6", Field: 9,
		Doc:  "source address (IPv4 mapped)",
		Addr: func(f *Flow) *Addr { return &f.SrcAddr },
	},
	{
		Name: "DstAddr", Kind: KindIPv6, Type: "IPv6", Field: 10,
		Doc:  "destination address (IPv4 mapped)",
		Addr: func(f *Flow) *Addr { return &f.DstAddr },
	},
	{
		Name: "SrcNetMask", Kind: KindUInt8, Type: "UInt8", Field: 11,
		Doc:     "source prefix length",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcNetMask) },
		SetUint: func(f *Flow, v uint64) { f.SrcNetMask = uint8(v) },
	},
	{
		Name: "DstNetMask", Kind: KindUInt8, Type: "UInt8", Field: 12,
		Doc:     "destination prefix length",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstNetMask) },
		SetUint: func(f *Flow, v uint64) { f.DstNetMask = uint8(v) },
	},
	{
		Name: "SrcAS", Kind: KindUInt32, Type: "UInt32", Field: 13,
		Doc:     "source AS number",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcAS) },
		SetUint: func(f *Flow, v uint64) { f.SrcAS = uint32(v) },
	},
	{
		Name: "DstAS", Kind: KindUInt32, Type: "UInt32", Field: 14,
		Doc:     "destination AS number",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstAS) },
		SetUint: func(f *Flow, v uint64) { f.DstAS = uint32(v) },
	},
	{
		Name: "NextHop", Kind: KindIPv6, Type: "IPv6", Field: 15,
		Doc:  "IP next hop",
		Addr: func(f *Flow) *Addr { return &f.NextHop },
	},
	{
		Name: "BGPNextHop", Kind: KindIPv6, Type: "IPv6", Field: 16,
		Doc:  "BGP next hop",
		Addr: func(f *Flow) *Addr { return &f.BGPNextHop },
	},
	{
		Name: "SrcPort", Kind: KindUInt16, Type: "UInt16", Field: 17,
		Doc:     "source transport port",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcPort) },
		SetUint: func(f *Flow, v uint64) { f.SrcPort = uint16(v) },
	},
	{
		Name: "DstPort", Kind: KindUInt16, Type: "UInt16", Field: 18,
		Doc:     "destination transport port",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstPort) },
		SetUint: func(f *Flow, v uint64) { f.DstPort = uint16(v) },
	},
	{
		Name: "Proto", Kind: KindUInt8, Type: "UInt8", Field: 19,
		Doc:     "IP protocol number",
		Uint:    func(f *Flow) uint64 { return uint64(f.Proto) },
		SetUint: func(f *Flow, v uint64) { f.Proto = uint8(v) },
	},
	{
		Name: "EType", Kind: KindUInt16, Type: "UInt16", Field: 20,
		Doc:     "Ethernet type: 2048 IPv4, 34525 IPv6",
		Uint:    func(f *Flow) uint64 { return uint64(f.EType) },
		SetUint: func(f *Flow, v uint64) { f.EType = uint16(v) },
	},
	{
		Name: "TCPFlags", Kind: KindUInt16, Type: "UInt16", Field: 21,
		Doc:     "OR of the TCP flags seen",
		Uint:    func(f *Flow) uint64 { return uint64(f.TCPFlags) },
		SetUint: func(f *Flow, v uint64) { f.TCPFlags = uint16(v) },
	},
	{
		Name: "IPTos", Kind: KindUInt8, Type: "UInt8", Field: 22,
		Doc:     "IP type of service / traffic class",
		Uint:    func(f *Flow) uint64 { return uint64(f.IPTos) },
		SetUint: func(f *Flow, v uint64) { f.IPTos = uint8(v) },
	},
	{
		Name: "IPTTL", Kind: KindUInt8, Type: "UInt8", Field: 23,
		Doc:     "IP TTL / hop limit",
		Uint:    func(f *Flow) uint64 { return uint64(f.IPTTL) },
		SetUint: func(f *Flow, v uint64) { f.IPTTL = uint8(v) },
	},
	{
		Name: "IPv6FlowLabel", Kind: KindUInt32, Type: "UInt32", Field: 24,
		Doc:     "IPv6 flow label",
		Uint:    func(f *Flow) uint64 { return uint64(f.IPv6FlowLabel) },
		SetUint: func(f *Flow, v uint64) { f.IPv6FlowLabel = uint32(v) },
	},
	{
		Name: "IPFragmentID", Kind: KindUInt32, Type: "UInt32", Field: 25,
		Doc:     "IP fragment identification",
		Uint:    func(f *Flow) uint64 { return uint64(f.IPFragmentID) },
		SetUint: func(f *Flow, v uint64) { f.IPFragmentID = uint32(v) },
	},
	{
		Name: "IPFragmentOffset", Kind: KindUInt16, Type: "UInt16", Field: 26,
		Doc:     "IP fragment offset",
		Uint:    func(f *Flow) uint64 { return uint64(f.IPFragmentOffset) },
		SetUint: func(f *Flow, v uint64) { f.IPFragmentOffset = uint16(v) },
	},
	{
		Name: "ICMPType", Kind: KindUInt8, Type: "UInt8", Field: 27,
		Doc:     "ICMP or ICMPv6 type (see EType)",
		Uint:    func(f *Flow) uint64 { return uint64(f.ICMPType) },
		SetUint: func(f *Flow, v uint64) { f.ICMPType = uint8(v) },
	},
	{
		Name: "ICMPCode", Kind: KindUInt8, Type: "UInt8", Field: 28,
		Doc:     "ICMP or ICMPv6 code",
		Uint:    func(f *Flow) uint64 { return uint64(f.ICMPCode) },
		SetUint: func(f *Flow, v uint64) { f.ICMPCode = uint8(v) },
	},
	{
		Name: "InIfIndex", Kind: KindUInt32, Type: "UInt32", Field: 29,
		Doc:     "input interface SNMP index",
		Uint:    func(f *Flow) uint64 { return uint64(f.InIfIndex) },
		SetUint: func(f *Flow, v uint64) { f.InIfIndex = uint32(v) },
	},
	{
		Name: "OutIfIndex", Kind: KindUInt32, Type: "UInt32", Field: 30,
		Doc:     "output interface SNMP index",
		Uint:    func(f *Flow) uint64 { return uint64(f.OutIfIndex) },
		SetUint: func(f *Flow, v uint64) { f.OutIfIndex = uint32(v) },
	},
	{
		Name: "SrcVlan", Kind: KindUInt16, Type: "UInt16", Field: 31,
		Doc:     "source (ingress) VLAN",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcVlan) },
		SetUint: func(f *Flow, v uint64) { f.SrcVlan = uint16(v) },
	},
	{
		Name: "DstVlan", Kind: KindUInt16, Type: "UInt16", Field: 32,
		Doc:     "destination (egress) VLAN",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstVlan) },
		SetUint: func(f *Flow, v uint64) { f.DstVlan = uint16(v) },
	},
	{
		Name: "SrcMAC", Kind: KindUInt64, Type: "UInt64", Field: 33,
		Doc:     "source MAC, 48 bits",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcMAC) },
		SetUint: func(f *Flow, v uint64) { f.SrcMAC = uint64(v) },
	},
	{
		Name: "DstMAC", Kind: KindUInt64, Type: "UInt64", Field: 34,
		Doc:     "destination MAC, 48 bits",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstMAC) },
		SetUint: func(f *Flow, v uint64) { f.DstMAC = uint64(v) },
	},
	{
		Name: "ForwardingStatus", Kind: KindUInt8, Type: "UInt8", Field: 35,
		Doc:     "forwarding status (RFC 7270): 64 forwarded, 128 dropped, 192 consumed",
		Uint:    func(f *Flow) uint64 { return uint64(f.ForwardingStatus) },
		SetUint: func(f *Flow, v uint64) { f.ForwardingStatus = uint8(v) },
	},
	{
		Name: "FlowDirection", Kind: KindUInt8, Type: "UInt8", Field: 36,
		Doc:     "0 unknown, 1 ingress, 2 egress",
		Uint:    func(f *Flow) uint64 { return uint64(f.FlowDirection) },
		SetUint: func(f *Flow, v uint64) { f.FlowDirection = uint8(v) },
	},
	{
		Name: "Bytes", Kind: KindUInt64, Type: "UInt64", Field: 37,
		Doc:     "bytes as exported (multiply by SamplingRate to estimate)",
		Uint:    func(f *Flow) uint64 { return uint64(f.Bytes) },
		SetUint: func(f *Flow, v uint64) { f.Bytes = uint64(v) },
	},
	{
		Name: "Packets", Kind: KindUInt64, Type: "UInt64", Field: 38,
		Doc:     "packets as exported (multiply by SamplingRate to estimate)",
		Uint:    func(f *Flow) uint64 { return uint64(f.Packets) },
		SetUint: func(f *Flow, v uint64) { f.Packets = uint64(v) },
	},
	// Schema version 3 (storage/migrate adds them to existing tables).
	{
		Name: "MPLS1stLabel", Kind: KindUInt32, Type: "UInt32", Field: 39,
		Doc:     "first (top) MPLS label value, 20 bits",
		Uint:    func(f *Flow) uint64 { return uint64(f.MPLS1stLabel) },
		SetUint: func(f *Flow, v uint64) { f.MPLS1stLabel = uint32(v) },
	},
	{
		Name: "MPLS2ndLabel", Kind: KindUInt32, Type: "UInt32", Field: 40,
		Doc:     "second MPLS label value",
		Uint:    func(f *Flow) uint64 { return uint64(f.MPLS2ndLabel) },
		SetUint: func(f *Flow, v uint64) { f.MPLS2ndLabel = uint32(v) },
	},
	{
		Name: "MPLS3rdLabel", Kind: KindUInt32, Type: "UInt32", Field: 41,
		Doc:     "third MPLS label value",
		Uint:    func(f *Flow) uint64 { return uint64(f.MPLS3rdLabel) },
		SetUint: func(f *Flow, v uint64) { f.MPLS3rdLabel = uint32(v) },
	},
	{
		Name: "IngressVRFID", Kind: KindUInt32, Type: "UInt32", Field: 42,
		Doc:     "ingress VRF ID (IPFIX IE 234)",
		Uint:    func(f *Flow) uint64 { return uint64(f.IngressVRFID) },
		SetUint: func(f *Flow, v uint64) { f.IngressVRFID = uint32(v) },
	},
	{
		Name: "EgressVRFID", Kind: KindUInt32, Type: "UInt32", Field: 43,
		Doc:     "egress VRF ID (IPFIX IE 235)",
		Uint:    func(f *Flow) uint64 { return uint64(f.EgressVRFID) },
		SetUint: func(f *Flow, v uint64) { f.EgressVRFID = uint32(v) },
	},
	{
		Name: "SrcAddrNAT", Kind: KindIPv6, Type: "IPv6", Field: 44,
		Doc:  "source address after NAT (IPv4 mapped)",
		Addr: func(f *Flow) *Addr { return &f.SrcAddrNAT },
	},
	{
		Name: "DstAddrNAT", Kind: KindIPv6, Type: "IPv6", Field: 45,
		Doc:  "destination address after NAT (IPv4 mapped)",
		Addr: func(f *Flow) *Addr { return &f.DstAddrNAT },
	},
	{
		Name: "SrcPortNAT", Kind: KindUInt16, Type: "UInt16", Field: 46,
		Doc:     "source port after NAPT",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcPortNAT) },
		SetUint: func(f *Flow, v uint64) { f.SrcPortNAT = uint16(v) },
	},
	{
		Name: "DstPortNAT", Kind: KindUInt16, Type: "UInt16", Field: 47,
		Doc:     "destination port after NAPT",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstPortNAT) },
		SetUint: func(f *Flow, v uint64) { f.DstPortNAT = uint16(v) },
	},
}
