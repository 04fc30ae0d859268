package demo

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// sFlow version 5 constants, from the sFlow.org "sFlow Version 5" specification (2004). All
// values are XDR: big-endian 32-bit words, opaque data padded to 4 bytes.
const (
	sflowVersion          = 5
	sflowAddressIPv4      = 1
	sflowAddressIPv6      = 2
	sflowFlowSample       = 1    // enterprise 0, format 1: flow_sample
	sflowRawPacketHeader  = 1    // flow record: sampled_header
	sflowExtendedSwitch   = 1001 // flow record: extended_switch
	sflowExtendedRouter   = 1002 // flow record: extended_router
	sflowExtendedGateway  = 1003 // flow record: extended_gateway
	sflowHeaderEthernet   = 1    // header_protocol ETHERNET-ISO88023
	sflowASPathSequence   = 2    // as_path_segment_type AS_SEQUENCE
	sflowDatagramHeaderV4 = 28   // version, agent address (IPv4), sub-agent, sequence, uptime, sample count

	// sflowMaxHeader is how much of a sampled frame the agent copies, the customary default
	// (the specification's example agents, hsflowd and most switches use 128 bytes).
	sflowMaxHeader = 128
	// ethernetFCS is the frame check sequence, which the agent strips from the copied header
	// and reports as "stripped"; frame_length includes it.
	ethernetFCS = 4
	// ethernetTaggedHeader is an Ethernet header with one 802.1Q tag.
	ethernetTaggedHeader = 18
)

// SFlow5Header holds the datagram header fields of an sFlow v5 datagram that the agent owns.
type SFlow5Header struct {
	Agent      netip.Addr // agent address, IPv4 or IPv6
	SubAgentID uint32
	// Sequence counts the datagrams sent before this one by this agent and sub-agent.
	Sequence   uint32
	Boot       time.Time // uptime is milliseconds since Boot, at ExportTime
	ExportTime time.Time
	// RouterAS is the agent's own AS number, reported in the extended gateway record.
	RouterAS uint32
}

// AppendSFlow5 appends an sFlow v5 datagram to dst, with one flow sample per flow. Each sample
// describes one sampled frame: f.Bytes is its length (including the 4-byte FCS), and the sample
// carries the frame's first bytes (an Ethernet header with an 802.1Q tag of f.SrcVLAN, an IPv4
// or IPv6 header with a valid checksum and a total length that matches the frame, and the TCP,
// UDP or ICMP header), the VLANs (extended switch), next hop and masks (extended router) and
// AS numbers (extended gateway). The source ID is the input interface's ifIndex.
func AppendSFlow5(dst []byte, h SFlow5Header, flows []Flow) []byte {
	dst = appendSFlowHeader(dst, &h, len(flows))
	for i := range flows {
		dst = appendFlowSample(dst, &flows[i], h.RouterAS)
	}
	return dst
}

// appendSFlowHeader appends an sFlow v5 datagram header announcing samples samples.
func appendSFlowHeader(dst []byte, h *SFlow5Header, samples int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, sflowVersion)
	dst = appendSFlowAddress(dst, h.Agent)
	dst = binary.BigEndian.AppendUint32(dst, h.SubAgentID)
	dst = binary.BigEndian.AppendUint32(dst, h.Sequence)
	dst = binary.BigEndian.AppendUint32(dst, uptimeMillis(h.Boot, h.ExportTime))
	return binary.BigEndian.AppendUint32(dst, uint32(samples))
}

// appendFlowSample appends one flow_sample sample record (specification section "Flow Samples").
func appendFlowSample(dst []byte, f *Flow, routerAS uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, sflowFlowSample)
	sample := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0) // sample length, filled in below
	dst = binary.BigEndian.AppendUint32(dst, f.SampleSequence)
	// source_id: type 0 (ifIndex) in the top byte, the ifIndex below.
	dst = binary.BigEndian.AppendUint32(dst, f.InIf&0x00ffffff)
	dst = binary.BigEndian.AppendUint32(dst, f.SamplingRate)
	dst = binary.BigEndian.AppendUint32(dst, f.SamplePool)
	dst = binary.BigEndian.AppendUint32(dst, f.SampleDrops)
	// interface: format 0 (a single ifIndex) in the top two bits.
	dst = binary.BigEndian.AppendUint32(dst, f.InIf&0x3fffffff)
	dst = binary.BigEndian.AppendUint32(dst, f.OutIf&0x3fffffff)
	dst = binary.BigEndian.AppendUint32(dst, 4) // flow records below

	// sampled_header
	dst = binary.BigEndian.AppendUint32(dst, sflowRawPacketHeader)
	record := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, sflowHeaderEthernet)
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.Bytes))
	captured := sflowCapturedLength(f.Bytes)
	dst = binary.BigEndian.AppendUint32(dst, ethernetFCS) // stripped before the header was copied
	dst = binary.BigEndian.AppendUint32(dst, uint32(captured))
	dst = appendSampledFrame(dst, f, captured)
	for len(dst)%4 != 0 { // XDR opaque padding; the record started 4-aligned
		dst = append(dst, 0)
	}
	binary.BigEndian.PutUint32(dst[record:], uint32(len(dst)-record-4))

	// extended_switch
	dst = binary.BigEndian.AppendUint32(dst, sflowExtendedSwitch)
	dst = binary.BigEndian.AppendUint32(dst, 16)
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.SrcVLAN))
	dst = binary.BigEndian.AppendUint32(dst, 0) // src_priority
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.DstVLAN))
	dst = binary.BigEndian.AppendUint32(dst, 0) // dst_priority

	// extended_router
	dst = binary.BigEndian.AppendUint32(dst, sflowExtendedRouter)
	dst = binary.BigEndian.AppendUint32(dst, uint32(sflowAddressLength(f.NextHop)+8))
	dst = appendSFlowAddress(dst, f.NextHop)
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.SrcMask))
	dst = binary.BigEndian.AppendUint32(dst, uint32(f.DstMask))

	// extended_gateway: the destination AS path is one AS_SEQUENCE ending in the destination
	// AS (collectors take its last element), and the source peer AS is the source AS, as for a
	// directly connected peer.
	dst = binary.BigEndian.AppendUint32(dst, sflowExtendedGateway)
	gateway := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = appendSFlowAddress(dst, f.NextHop)
	dst = binary.BigEndian.AppendUint32(dst, routerAS)
	dst = binary.BigEndian.AppendUint32(dst, f.SrcAS)
	dst = binary.BigEndian.AppendUint32(dst, f.SrcAS)
	if f.DstAS != 0 {
		dst = binary.BigEndian.AppendUint32(dst, 1) // one segment
		dst = binary.BigEndian.AppendUint32(dst, sflowASPathSequence)
		dst = binary.BigEndian.AppendUint32(dst, 1)
		dst = binary.BigEndian.AppendUint32(dst, f.DstAS)
	} else {
		dst = binary.BigEndian.AppendUint32(dst, 0)
	}
	dst = binary.BigEndian.AppendUint32(dst, 0)   // communities
	dst = binary.BigEndian.AppendUint32(dst, 100) // localpref
	binary.BigEndian.PutUint32(dst[gateway:], uint32(len(dst)-gateway-4))

	binary.BigEndian.PutUint32(dst[sample:], uint32(len(dst)-sample-4))
	return dst
}

// sflowCapturedLength is how many bytes of a frame of frameLength bytes the agent copies.
func sflowCapturedLength(frameLength uint64) int {
	return int(min(frameLength-ethernetFCS, sflowMaxHeader))
}

// sflowSampleLength is the length appendFlowSample writes for f.
func sflowSampleLength(f *Flow) int {
	addr := sflowAddressLength(f.NextHop)
	n := 8 + 32 // sample header, flow_sample fields
	n += 8 + 16 + padded(sflowCapturedLength(f.Bytes), 4)
	n += 8 + 16        // extended_switch
	n += 8 + addr + 8  // extended_router
	n += 8 + addr + 12 // extended_gateway up to the AS path
	n += 4 + 4 + 4     // AS path count, communities, localpref
	if f.DstAS != 0 {
		n += 12
	}
	return n
}

func sflowAddressLength(a netip.Addr) int {
	if a.Is6() {
		return 4 + 16
	}
	return 4 + 4
}

// appendSFlowAddress appends an sFlow address: its type, then 4 or 16 bytes. An invalid
// address is sent as IPv4 0.0.0.0.
func appendSFlowAddress(dst []byte, a netip.Addr) []byte {
	if a.Is6() {
		dst = binary.BigEndian.AppendUint32(dst, sflowAddressIPv6)
		return appendAddr(dst, a, 16)
	}
	dst = binary.BigEndian.AppendUint32(dst, sflowAddressIPv4)
	return appendAddr(dst, a, 4)
}

// appendSampledFrame appends the first captured bytes of the frame f describes: Ethernet with
// an 802.1Q tag, IPv4 (RFC 791) or IPv6 (RFC 8200), then TCP (RFC 9293), UDP (RFC 768) or ICMP
// (RFC 792/4443) headers, then zero payload. The IP total length is the frame length less the
// Ethernet header, tag and FCS. Transport checksums are left zero: the payload they cover is
// not in the sample.
func appendSampledFrame(dst []byte, f *Flow, captured int) []byte {
	start := len(dst)
	ipLength := int(f.Bytes) - ethernetTaggedHeader - ethernetFCS
	dst = append(dst, f.DstMAC[:]...)
	dst = append(dst, f.SrcMAC[:]...)
	dst = binary.BigEndian.AppendUint16(dst, 0x8100)
	dst = binary.BigEndian.AppendUint16(dst, f.SrcVLAN&0x0fff)

	l4Length := 0
	if f.SrcAddr.Is4() {
		dst = binary.BigEndian.AppendUint16(dst, 0x0800)
		ip := len(dst)
		dst = append(dst, 0x45, f.TOS) // version 4, 5-word header
		dst = binary.BigEndian.AppendUint16(dst, uint16(ipLength))
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.SampleSequence*40503)) // identification
		dst = binary.BigEndian.AppendUint16(dst, 0x4000)                         // don't fragment
		dst = append(dst, f.TTL, f.IPProto, 0, 0)
		dst = appendAddr(dst, f.SrcAddr, 4)
		dst = appendAddr(dst, f.DstAddr, 4)
		binary.BigEndian.PutUint16(dst[ip+10:], ipv4Checksum(dst[ip:ip+20]))
		l4Length = ipLength - 20
	} else {
		dst = binary.BigEndian.AppendUint16(dst, 0x86dd)
		dst = binary.BigEndian.AppendUint32(dst, 6<<28|uint32(f.TOS)<<20|f.FlowLabel&0xfffff)
		l4Length = ipLength - 40
		dst = binary.BigEndian.AppendUint16(dst, uint16(l4Length))
		dst = append(dst, f.IPProto, f.TTL)
		dst = appendAddr(dst, f.SrcAddr, 16)
		dst = appendAddr(dst, f.DstAddr, 16)
	}

	switch f.IPProto {
	case ipProtoTCP:
		dst = binary.BigEndian.AppendUint16(dst, f.SrcPort)
		dst = binary.BigEndian.AppendUint16(dst, f.DstPort)
		dst = binary.BigEndian.AppendUint32(dst, f.SampleSequence*2654435761) // sequence number
		var ack uint32
		if f.TCPFlags&0x10 != 0 {
			ack = f.SamplePool * 2246822519
		}
		dst = binary.BigEndian.AppendUint32(dst, ack)
		dst = append(dst, 5<<4, f.TCPFlags) // data offset 5 words
		dst = binary.BigEndian.AppendUint16(dst, 64240)
		dst = binary.BigEndian.AppendUint32(dst, 0) // checksum, urgent pointer
	case ipProtoUDP:
		dst = binary.BigEndian.AppendUint16(dst, f.SrcPort)
		dst = binary.BigEndian.AppendUint16(dst, f.DstPort)
		dst = binary.BigEndian.AppendUint16(dst, uint16(l4Length))
		dst = binary.BigEndian.AppendUint16(dst, 0)
	case ipProtoICMP, ipProtoICMPv6:
		dst = append(dst, f.ICMPType, f.ICMPCode, 0, 0)
		if !icmpIsError(f.IPProto, f.ICMPType) {
			dst = binary.BigEndian.AppendUint32(dst, f.SampleSequence) // echo identifier and sequence
			break
		}
		dst = binary.BigEndian.AppendUint32(dst, 0) // unused
		dst = appendQuotedPacket(dst, f)
	}
	for len(dst)-start < captured {
		dst = append(dst, 0)
	}
	return dst[:start+captured]
}

// icmpIsError tells ICMP error messages (destination unreachable, time exceeded), which quote
// the packet that caused them, from informational ones.
func icmpIsError(proto, typ uint8) bool {
	if proto == ipProtoICMPv6 {
		return typ < 128 // RFC 4443 section 2.1
	}
	return typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12
}

// appendQuotedPacket appends the invoking packet an ICMP error quotes: the IP header and
// the first 8 bytes of the datagram that failed (RFC 792; RFC 4443 section 3 quotes as much as
// fits). The failed packet is a UDP probe the error's destination sent to its source, to the
// traceroute port range.
func appendQuotedPacket(dst []byte, f *Flow) []byte {
	const udpProbe = 8
	if f.SrcAddr.Is4() {
		ip := len(dst)
		dst = append(dst, 0x45, 0)
		dst = binary.BigEndian.AppendUint16(dst, 20+udpProbe)
		dst = binary.BigEndian.AppendUint16(dst, uint16(f.SampleSequence))
		dst = binary.BigEndian.AppendUint16(dst, 0)
		dst = append(dst, 1, ipProtoUDP, 0, 0) // TTL 1: the probe expired or arrived
		dst = appendAddr(dst, f.DstAddr, 4)
		dst = appendAddr(dst, f.SrcAddr, 4)
		binary.BigEndian.PutUint16(dst[ip+10:], ipv4Checksum(dst[ip:ip+20]))
	} else {
		dst = binary.BigEndian.AppendUint32(dst, 6<<28)
		dst = binary.BigEndian.AppendUint16(dst, udpProbe)
		dst = append(dst, ipProtoUDP, 1)
		dst = appendAddr(dst, f.DstAddr, 16)
		dst = appendAddr(dst, f.SrcAddr, 16)
	}
	dst = binary.BigEndian.AppendUint16(dst, 33434+uint16(f.SampleSequence%64)) // source port
	dst = binary.BigEndian.AppendUint16(dst, 33434)
	dst = binary.BigEndian.AppendUint16(dst, udpProbe)
	return binary.BigEndian.AppendUint16(dst, 0)
}

// ipv4Checksum is the Internet checksum of an IPv4 header whose checksum field is zero
// (RFC 791 section 3.1, computed as RFC 1071 describes).
func ipv4Checksum(header []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(header); i += 2 {
		sum += uint32(header[i])<<8 | uint32(header[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
