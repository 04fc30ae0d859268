package record

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

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
	KindString       // string, LowCardinality(String) or String in ClickHouse
	KindFeedSet      // FeedSet, Array(LowCardinality(String)) of feed names
	KindCommunityID  // CommunityID hash, its "1:<base64>" text in ClickHouse
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

	// Enum is the protobuf enum a KindEnum8 column is published as; its
	// values are those of Type.
	Enum string

	// Exactly one accessor (pair) is set: Uint/SetUint for integer, enum,
	// time and feed-set kinds (times are int64 carried as their
	// two's-complement bits), Addr for KindIPv6, Str for KindString, Hash
	// for KindCommunityID (pointers, to read and write in place).
	Uint    func(*Flow) uint64
	SetUint func(*Flow, uint64)
	Addr    func(*Flow) *Addr
	Str     func(*Flow) *string
	Hash    func(*Flow) *CommunityID
}

// stringColumn is a LowCardinality(String) column: enrichment values, which
// repeat across records.
func stringColumn(name string, field protowire.Number, doc string, str func(*Flow) *string) Column {
	return Column{Name: name, Kind: KindString, Type: "LowCardinality(String)", Field: field, Doc: doc, Str: str}
}

// enumType is the ClickHouse Enum8 type of the values 0..n-1 named by name.
func enumType(n int, name func(v int) string) string {
	values := make([]string, n)
	for v := range n {
		values[v] = fmt.Sprintf("'%s' = %d", name(v), v)
	}
	return "Enum8(" + strings.Join(values, ", ") + ")"
}

// Enum8 types of the record's enums, from their String methods.
var (
	boundaryType         = enumType(3, func(v int) string { return Boundary(v).String() })
	trafficDirectionType = enumType(5, func(v int) string { return TrafficDirection(v).String() })
)

// ReservedFields lists protobuf field numbers of removed columns; they are
// never used again.
var ReservedFields = []protowire.Number{}

// rawTimeCodec is the raw table's codec for its three times. Plain LZ4,
// not DoubleDelta: within a part the rows are sorted by exporter before
// time, so the times barely follow a line, and decoding DoubleDelta made
// the queries that filter on time 9-23 % slower for 1 % of the disk
// (BENCHMARKS.md, sixth round; schema version 13 changed it).
const rawTimeCodec = "CODEC(LZ4)"

// Columns is the canonical record, in table order.
var Columns = []Column{
	{
		Name: "TimeReceived", Kind: KindDateTime, Type: "DateTime", Field: 1,
		Codec:   rawTimeCodec,
		Doc:     "when the collector received the datagram",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeReceived) },
		SetUint: func(f *Flow, v uint64) { f.TimeReceived = int64(v) },
	},
	{
		Name: "TimeFlowStart", Kind: KindDateTime64ms, Type: "DateTime64(3)", Field: 2,
		Codec:   rawTimeCodec,
		Doc:     "first packet of the flow (0 when not exported)",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeFlowStart) },
		SetUint: func(f *Flow, v uint64) { f.TimeFlowStart = int64(v) },
	},
	{
		Name: "TimeFlowEnd", Kind: KindDateTime64ms, Type: "DateTime64(3)", Field: 3,
		Codec:   rawTimeCodec,
		Doc:     "last packet of the flow (0 when not exported)",
		Uint:    func(f *Flow) uint64 { return uint64(f.TimeFlowEnd) },
		SetUint: func(f *Flow, v uint64) { f.TimeFlowEnd = int64(v) },
	},
	{
		Name: "FlowType", Kind: KindEnum8, Type: "Enum8('Unknown' = 0, 'NetFlowV5' = 1, 'NetFlowV9' = 2, 'IPFIX' = 3, 'SFlowV5' = 4)", Field: 4,
		Enum:    "FlowType",
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

	// Enrichment, filled by pipeline/enrich.
	stringColumn("ExporterName", 48, "exporter's name (configuration, else SNMP sysName)", func(f *Flow) *string { return &f.ExporterName }),
	stringColumn("ExporterGroup", 49, "exporter's group", func(f *Flow) *string { return &f.ExporterGroup }),
	stringColumn("ExporterRole", 50, "exporter's role", func(f *Flow) *string { return &f.ExporterRole }),
	stringColumn("ExporterSite", 51, "exporter's site", func(f *Flow) *string { return &f.ExporterSite }),
	stringColumn("ExporterRegion", 52, "exporter's region", func(f *Flow) *string { return &f.ExporterRegion }),
	stringColumn("ExporterTenant", 53, "exporter's tenant", func(f *Flow) *string { return &f.ExporterTenant }),
	stringColumn("SrcNetName", 54, "name of the configured network holding SrcAddr", func(f *Flow) *string { return &f.SrcNetName }),
	stringColumn("DstNetName", 55, "name of the configured network holding DstAddr", func(f *Flow) *string { return &f.DstNetName }),
	stringColumn("SrcNetRole", 56, "role of the source network", func(f *Flow) *string { return &f.SrcNetRole }),
	stringColumn("DstNetRole", 57, "role of the destination network", func(f *Flow) *string { return &f.DstNetRole }),
	stringColumn("SrcNetSite", 58, "site of the source network", func(f *Flow) *string { return &f.SrcNetSite }),
	stringColumn("DstNetSite", 59, "site of the destination network", func(f *Flow) *string { return &f.DstNetSite }),
	stringColumn("SrcNetRegion", 60, "region of the source network", func(f *Flow) *string { return &f.SrcNetRegion }),
	stringColumn("DstNetRegion", 61, "region of the destination network", func(f *Flow) *string { return &f.DstNetRegion }),
	stringColumn("SrcNetTenant", 62, "tenant of the source network", func(f *Flow) *string { return &f.SrcNetTenant }),
	stringColumn("DstNetTenant", 63, "tenant of the destination network", func(f *Flow) *string { return &f.DstNetTenant }),
	stringColumn("SrcCountry", 64, "source country, ISO 3166-1 alpha-2 (GeoIP)", func(f *Flow) *string { return &f.SrcCountry }),
	stringColumn("DstCountry", 65, "destination country, ISO 3166-1 alpha-2 (GeoIP)", func(f *Flow) *string { return &f.DstCountry }),
	stringColumn("SrcGeoCity", 66, "source city (GeoIP)", func(f *Flow) *string { return &f.SrcGeoCity }),
	stringColumn("DstGeoCity", 67, "destination city (GeoIP)", func(f *Flow) *string { return &f.DstGeoCity }),
	stringColumn("SrcASName", 68, "source AS organisation (ASN database)", func(f *Flow) *string { return &f.SrcASName }),
	stringColumn("DstASName", 69, "destination AS organisation (ASN database)", func(f *Flow) *string { return &f.DstASName }),
	stringColumn("InIfName", 70, "input interface name", func(f *Flow) *string { return &f.InIfName }),
	stringColumn("OutIfName", 71, "output interface name", func(f *Flow) *string { return &f.OutIfName }),
	stringColumn("InIfDescription", 72, "input interface description", func(f *Flow) *string { return &f.InIfDescription }),
	stringColumn("OutIfDescription", 73, "output interface description", func(f *Flow) *string { return &f.OutIfDescription }),
	{
		Name: "InIfSpeed", Kind: KindUInt64, Type: "UInt64", Field: 74,
		Doc:     "input interface speed in bits per second (0 unknown)",
		Uint:    func(f *Flow) uint64 { return f.InIfSpeed },
		SetUint: func(f *Flow, v uint64) { f.InIfSpeed = v },
	},
	{
		Name: "OutIfSpeed", Kind: KindUInt64, Type: "UInt64", Field: 75,
		Doc:     "output interface speed in bits per second (0 unknown)",
		Uint:    func(f *Flow) uint64 { return f.OutIfSpeed },
		SetUint: func(f *Flow, v uint64) { f.OutIfSpeed = v },
	},
	{
		Name: "InIfBoundary", Kind: KindEnum8, Type: boundaryType, Field: 76, Enum: "Boundary",
		Doc:     "whether the input interface faces outside the network",
		Uint:    func(f *Flow) uint64 { return uint64(f.InIfBoundary) },
		SetUint: func(f *Flow, v uint64) { f.InIfBoundary = Boundary(v) },
	},
	{
		Name: "OutIfBoundary", Kind: KindEnum8, Type: boundaryType, Field: 77, Enum: "Boundary",
		Doc:     "whether the output interface faces outside the network",
		Uint:    func(f *Flow) uint64 { return uint64(f.OutIfBoundary) },
		SetUint: func(f *Flow, v uint64) { f.OutIfBoundary = Boundary(v) },
	},
	stringColumn("InIfProvider", 78, "provider behind the input interface", func(f *Flow) *string { return &f.InIfProvider }),
	stringColumn("OutIfProvider", 79, "provider behind the output interface", func(f *Flow) *string { return &f.OutIfProvider }),
	stringColumn("InIfConnectivity", 80, "input interface connectivity (transit, peering, ...)", func(f *Flow) *string { return &f.InIfConnectivity }),
	stringColumn("OutIfConnectivity", 81, "output interface connectivity", func(f *Flow) *string { return &f.OutIfConnectivity }),
	{
		Name: "SrcThreatFeeds", Kind: KindFeedSet, Type: "Array(LowCardinality(String))", Field: 82,
		Doc:     "names of the threat-intelligence feeds listing SrcAddr",
		Uint:    func(f *Flow) uint64 { return uint64(f.SrcThreatFeeds) },
		SetUint: func(f *Flow, v uint64) { f.SrcThreatFeeds = FeedSet(v) },
	},
	{
		Name: "DstThreatFeeds", Kind: KindFeedSet, Type: "Array(LowCardinality(String))", Field: 83,
		Doc:     "names of the threat-intelligence feeds listing DstAddr",
		Uint:    func(f *Flow) uint64 { return uint64(f.DstThreatFeeds) },
		SetUint: func(f *Flow, v uint64) { f.DstThreatFeeds = FeedSet(v) },
	},
	stringColumn("ServiceName", 84, "service by protocol and port", func(f *Flow) *string { return &f.ServiceName }),
	{
		Name: "TrafficDirection", Kind: KindEnum8, Type: trafficDirectionType, Field: 85, Enum: "TrafficDirection",
		Doc:     "direction relative to the configured own networks",
		Uint:    func(f *Flow) uint64 { return uint64(f.TrafficDirection) },
		SetUint: func(f *Flow, v uint64) { f.TrafficDirection = TrafficDirection(v) },
	},
	{
		Name: "CommunityID", Kind: KindCommunityID, Type: "String", Field: 86,
		Codec: "CODEC(ZSTD(1))",
		Doc:   "Community ID v1 of the flow",
		Hash:  func(f *Flow) *CommunityID { return &f.CommunityID },
	},
	// Firewall events (NSEL), schema version 9.
	{
		Name: "FirewallEvent", Kind: KindUInt8, Type: "UInt8", Field: 87,
		Doc:     "firewall event (IPFIX IE 233, NSEL 40005): 1 created, 2 deleted, 3 denied, 4 alert, 5 update; 0 none",
		Uint:    func(f *Flow) uint64 { return uint64(f.FirewallEvent) },
		SetUint: func(f *Flow, v uint64) { f.FirewallEvent = uint8(v) },
	},
	{
		Name: "FirewallExtEvent", Kind: KindUInt16, Type: "UInt16", Field: 88,
		Doc:     "NSEL extended event code (IE 33002), e.g. why a flow was denied or torn down",
		Uint:    func(f *Flow) uint64 { return uint64(f.FirewallExtEvent) },
		SetUint: func(f *Flow, v uint64) { f.FirewallExtEvent = uint16(v) },
	},
	{
		Name: "IngressACL", Kind: KindUInt32, Type: "UInt32", Field: 89,
		Doc:     "NSEL ingress ACL (hash or ID of its name), from IE 33000",
		Uint:    func(f *Flow) uint64 { return uint64(f.IngressACL) },
		SetUint: func(f *Flow, v uint64) { f.IngressACL = uint32(v) },
	},
	{
		Name: "IngressACE", Kind: KindUInt32, Type: "UInt32", Field: 90,
		Doc:     "NSEL ingress ACE within the ACL (hash, ID or line), from IE 33000",
		Uint:    func(f *Flow) uint64 { return uint64(f.IngressACE) },
		SetUint: func(f *Flow, v uint64) { f.IngressACE = uint32(v) },
	},
	{
		Name: "IngressACEExt", Kind: KindUInt32, Type: "UInt32", Field: 91,
		Doc:     "NSEL ingress extended ACE configuration (hash or ID), from IE 33000",
		Uint:    func(f *Flow) uint64 { return uint64(f.IngressACEExt) },
		SetUint: func(f *Flow, v uint64) { f.IngressACEExt = uint32(v) },
	},
	{
		Name: "EgressACL", Kind: KindUInt32, Type: "UInt32", Field: 92,
		Doc:     "NSEL egress ACL (hash or ID of its name), from IE 33001",
		Uint:    func(f *Flow) uint64 { return uint64(f.EgressACL) },
		SetUint: func(f *Flow, v uint64) { f.EgressACL = uint32(v) },
	},
	{
		Name: "EgressACE", Kind: KindUInt32, Type: "UInt32", Field: 93,
		Doc:     "NSEL egress ACE within the ACL (hash, ID or line), from IE 33001",
		Uint:    func(f *Flow) uint64 { return uint64(f.EgressACE) },
		SetUint: func(f *Flow, v uint64) { f.EgressACE = uint32(v) },
	},
	{
		Name: "EgressACEExt", Kind: KindUInt32, Type: "UInt32", Field: 94,
		Doc:     "NSEL egress extended ACE configuration (hash or ID), from IE 33001",
		Uint:    func(f *Flow) uint64 { return uint64(f.EgressACEExt) },
		SetUint: func(f *Flow, v uint64) { f.EgressACEExt = uint32(v) },
	},
}
