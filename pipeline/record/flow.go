// Package record defines sluice's canonical flow record: the one struct every
// stage fills or reads, and the single table of its columns (columns.go) from
// which the ClickHouse DDL, the writer's columns and the protobuf wire schema
// are all derived.
//
// A Flow holds fixed-size values (addresses are 16-byte IPv6, IPv4 mapped)
// and strings that point into long-lived tables, so that records can live in
// reused slices and the hot path never allocates.
package record

import (
	"encoding/base64"
	"net/netip"
)

// FlowType says which export protocol produced a record.
type FlowType uint8

// Flow types. The numbers are stored in ClickHouse (as an Enum8) and on the
// wire: never renumber them.
const (
	FlowTypeUnknown   FlowType = 0
	FlowTypeNetFlowV5 FlowType = 1
	FlowTypeNetFlowV9 FlowType = 2
	FlowTypeIPFIX     FlowType = 3
	FlowTypeSFlowV5   FlowType = 4
)

// String returns the name used in ClickHouse's enum and in logs.
func (t FlowType) String() string {
	switch t {
	case FlowTypeNetFlowV5:
		return "NetFlowV5"
	case FlowTypeNetFlowV9:
		return "NetFlowV9"
	case FlowTypeIPFIX:
		return "IPFIX"
	case FlowTypeSFlowV5:
		return "SFlowV5"
	default:
		return "Unknown"
	}
}

// Addr is an IPv6 address, or an IPv4 address mapped into IPv6
// (::ffff:a.b.c.d), as ClickHouse's IPv6 type stores it.
type Addr [16]byte

// AddrFrom4 maps an IPv4 address into an Addr.
func AddrFrom4(b [4]byte) Addr {
	return Addr{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}
}

// AddrFromSlice converts a 4- or 16-byte address; any other length gives the
// zero Addr (::), which is what ClickHouse shows for "unknown".
func AddrFromSlice(b []byte) Addr {
	switch len(b) {
	case 4:
		return AddrFrom4([4]byte(b))
	case 16:
		return Addr(b)
	}
	return Addr{}
}

// Netip returns the address as a netip.Addr, unmapping IPv4.
func (a Addr) Netip() netip.Addr { return netip.AddrFrom16(a).Unmap() }

// IsZero reports whether the address is unset (::).
func (a Addr) IsZero() bool { return a == Addr{} }

// String formats the address (IPv4 unmapped).
func (a Addr) String() string { return a.Netip().String() }

// Flow is one canonical flow record. Field names are the ClickHouse column
// names (Akvorado's where the field is the same), see columns.go.
type Flow struct {
	// TimeReceived is when the collector received the datagram, in Unix
	// nanoseconds.
	TimeReceived int64
	// TimeFlowStart and TimeFlowEnd are the flow's first and last packet, in
	// Unix milliseconds; 0 when the protocol does not carry them (sFlow).
	TimeFlowStart int64
	TimeFlowEnd   int64

	FlowType            FlowType
	ExporterAddress     Addr
	ObservationDomainID uint32 // NetFlow v9 source ID, IPFIX observation domain, sFlow sub-agent ID
	SamplerID           uint64
	SamplingRate        uint64 // 1 in N; 1 when unknown (counted by the collector)

	SrcAddr    Addr
	DstAddr    Addr
	SrcNetMask uint8
	DstNetMask uint8
	SrcAS      uint32
	DstAS      uint32
	NextHop    Addr
	BGPNextHop Addr

	SrcPort uint16
	DstPort uint16
	Proto   uint8
	EType   uint16 // 0x0800 IPv4, 0x86dd IPv6

	TCPFlags         uint16
	IPTos            uint8
	IPTTL            uint8
	IPv6FlowLabel    uint32
	IPFragmentID     uint32
	IPFragmentOffset uint16
	ICMPType         uint8
	ICMPCode         uint8

	InIfIndex  uint32
	OutIfIndex uint32
	SrcVlan    uint16
	DstVlan    uint16
	SrcMAC     uint64 // 48-bit MAC in the low bits, as Akvorado stores it
	DstMAC     uint64

	ForwardingStatus uint8
	FlowDirection    uint8 // 0 unknown, 1 ingress, 2 egress (IPFIX IE 61 value + 1)

	Bytes   uint64 // as exported, not scaled by SamplingRate
	Packets uint64

	// MPLS1stLabel, MPLS2ndLabel and MPLS3rdLabel are the label values
	// (20 bits) of the first three entries of the MPLS label stack, top
	// first; 0 when absent. Three fixed fields rather than an array keep
	// the record fixed-size, so it lives in reused slices and the hot path
	// never allocates; three labels cover the transport, service (VPN) and
	// entropy labels analysts group by (Akvorado exposes the same three
	// names over its label array).
	MPLS1stLabel uint32
	MPLS2ndLabel uint32
	MPLS3rdLabel uint32

	IngressVRFID uint32 // IPFIX IE 234
	EgressVRFID  uint32 // IPFIX IE 235

	// Post-NAT (translated) addresses and ports, from IPFIX IEs 225-228,
	// 281/282 and Cisco NSEL's 40001-40004; unset when not translated.
	SrcAddrNAT Addr
	DstAddrNAT Addr
	SrcPortNAT uint16
	DstPortNAT uint16

	// Firewall events (Cisco ASA NSEL, IPFIX IE 233): the event
	// (1 created, 2 deleted, 3 denied, 4 alert, 5 update; 0 none), NSEL's
	// extended event code (33002), and the ingress and egress ACL that
	// matched (33000/33001): each three 32-bit values, the ACL, the ACE
	// within it and the extended ACE configuration (hashes or IDs).
	FirewallEvent    uint8
	FirewallExtEvent uint16
	IngressACL       uint32
	IngressACE       uint32
	IngressACEExt    uint32
	EgressACL        uint32
	EgressACE        uint32
	EgressACEExt     uint32

	// Enrichment (pipeline/enrich). Strings point into the enrichment
	// tables (or into the wire decoder's intern table), so filling them
	// allocates nothing.
	ExporterName   string
	ExporterGroup  string
	ExporterRole   string
	ExporterSite   string
	ExporterRegion string
	ExporterTenant string

	SrcNetName   string
	DstNetName   string
	SrcNetRole   string
	DstNetRole   string
	SrcNetSite   string
	DstNetSite   string
	SrcNetRegion string
	DstNetRegion string
	SrcNetTenant string
	DstNetTenant string

	SrcCountry string // ISO 3166-1 alpha-2
	DstCountry string
	SrcGeoCity string
	DstGeoCity string
	SrcASName  string
	DstASName  string

	InIfName          string
	OutIfName         string
	InIfDescription   string
	OutIfDescription  string
	InIfSpeed         uint64 // bits per second, 0 when unknown
	OutIfSpeed        uint64
	InIfBoundary      Boundary
	OutIfBoundary     Boundary
	InIfProvider      string
	OutIfProvider     string
	InIfConnectivity  string
	OutIfConnectivity string

	SrcThreatFeeds FeedSet // the threat feeds listing SrcAddr
	DstThreatFeeds FeedSet

	ServiceName      string
	TrafficDirection TrafficDirection
	// CommunityID is the SHA-1 of the Community ID v1 (the stored text is
	// "1:" and its base64); zero when not computed.
	CommunityID CommunityID
}

// Boundary says whether an interface faces the outside of the network
// (Akvorado's InIfBoundary values).
type Boundary uint8

// Boundaries, stored as ClickHouse Enum8 values: never renumber them.
const (
	BoundaryUndefined Boundary = 0
	BoundaryExternal  Boundary = 1
	BoundaryInternal  Boundary = 2
)

// String returns the name used in ClickHouse's enum and in configuration.
func (b Boundary) String() string {
	switch b {
	case BoundaryExternal:
		return "external"
	case BoundaryInternal:
		return "internal"
	}
	return "undefined"
}

// TrafficDirection is a flow's direction relative to the configured own
// networks.
type TrafficDirection uint8

// Traffic directions, stored as ClickHouse Enum8 values: never renumber them.
const (
	DirectionUnknown  TrafficDirection = 0 // no own networks configured
	DirectionInbound  TrafficDirection = 1 // from outside to an own network
	DirectionOutbound TrafficDirection = 2 // from an own network to outside
	DirectionInternal TrafficDirection = 3 // between own networks
	DirectionTransit  TrafficDirection = 4 // neither side is an own network
)

// String returns the name used in ClickHouse's enum.
func (d TrafficDirection) String() string {
	switch d {
	case DirectionInbound:
		return "inbound"
	case DirectionOutbound:
		return "outbound"
	case DirectionInternal:
		return "internal"
	case DirectionTransit:
		return "transit"
	}
	return "unknown"
}

// CommunityID is the 20-byte SHA-1 hash of a flow's Community ID v1.
type CommunityID [20]byte

// IsZero reports whether the hash is unset.
func (c CommunityID) IsZero() bool { return c == CommunityID{} }

// communityIDText is the length of the text form: "1:" and 28 base64 bytes.
const communityIDText = 2 + 28

// AppendText appends the text form ("1:" and the base64 of the hash) to dst,
// or nothing when the hash is unset.
func (c CommunityID) AppendText(dst []byte) []byte {
	if c.IsZero() {
		return dst
	}
	dst = append(dst, '1', ':')
	return base64.StdEncoding.AppendEncode(dst, c[:])
}

// String returns the text form, "" when unset.
func (c CommunityID) String() string {
	return string(c.AppendText(make([]byte, 0, communityIDText)))
}

// Reset clears a record for reuse.
func (f *Flow) Reset() { *f = Flow{} }
