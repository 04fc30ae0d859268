package sflow

import (
	"encoding/binary"

	"sluice/collector/wire"
	"sluice/pipeline/record"
)

// Header protocols of a sampled header record (sFlow v5 header_protocol).
const (
	headerProtocolEthernet = 1
	headerProtocolIPv4     = 11
	headerProtocolIPv6     = 12
)

// headerStatus says how far a sampled header was parsed.
type headerStatus uint8

const (
	headerParsed          headerStatus = iota // down to IP
	headerUnknownProtocol                     // not Ethernet, IPv4 nor IPv6
	headerNonIP                               // a frame carrying neither IPv4 nor IPv6
	headerTruncated                           // too short to reach the IP header
)

// parseSampledHeader fills f from the first bytes of a sampled packet and
// returns its layer-3 length (0 when unknown), and how far it got. It
// decapsulates nothing.
func parseSampledHeader(protocol uint32, data []byte, f *record.Flow) (l3Length uint64, status headerStatus) {
	var p headerParser
	return p.parse(protocol, data, f)
}

// headerParser parses sampled headers, reading the inner packet of the
// tunnels in decap.
type headerParser struct {
	decap Decapsulation
	// tunnel is the encapsulation whose inner packet the last parse read
	// (0: none); tunnelTruncated, one whose header was cut short, so the
	// outer packet was kept.
	tunnel, tunnelTruncated Decapsulation
}

func (p *headerParser) parse(protocol uint32, data []byte, f *record.Flow) (l3Length uint64, status headerStatus) {
	p.tunnel, p.tunnelTruncated = 0, 0
	switch protocol {
	case headerProtocolEthernet:
		return p.ethernet(data, f)
	case headerProtocolIPv4:
		return p.ipv4(data, f)
	case headerProtocolIPv6:
		return p.ipv6(data, f)
	}
	return 0, headerUnknownProtocol
}

// parseEthernet reads MACs, VLAN tags (the innermost tag of a QinQ stack is
// kept, as Akvorado does: it is the customer VLAN the flow belongs to) and
// an MPLS label stack (its first three labels), then the IP header.
func (p *headerParser) ethernet(data []byte, f *record.Flow) (uint64, headerStatus) {
	if len(data) < 14 {
		return 0, headerTruncated
	}
	f.DstMAC = wire.MACToUint64(data[0:6])
	f.SrcMAC = wire.MACToUint64(data[6:12])
	etherType := binary.BigEndian.Uint16(data[12:14])
	data = data[14:]
	for etherType == wire.EtherTypeVLAN || etherType == wire.EtherTypeQinQ || etherType == wire.EtherTypeQinQ2 {
		if len(data) < 4 {
			return 0, headerTruncated
		}
		if vlan := binary.BigEndian.Uint16(data[0:2]) & 0x0fff; vlan != 0 {
			f.SrcVlan = vlan
		}
		etherType = binary.BigEndian.Uint16(data[2:4])
		data = data[4:]
	}
	if etherType == wire.EtherTypeMPLS {
		// Walk the label stack, keeping the first three labels; the
		// payload's version nibble says IPv4 or IPv6.
		for depth := 0; ; depth++ {
			if len(data) < 5 {
				return 0, headerTruncated
			}
			label := binary.BigEndian.Uint32(data[0:4]) >> 12
			switch depth {
			case 0:
				f.MPLS1stLabel = label
			case 1:
				f.MPLS2ndLabel = label
			case 2:
				f.MPLS3rdLabel = label
			}
			bottom := data[2]&1 == 1
			data = data[4:]
			if bottom {
				break
			}
		}
		switch data[0] >> 4 {
		case 4:
			etherType = wire.EtherTypeIPv4
		case 6:
			etherType = wire.EtherTypeIPv6
		default:
			return 0, headerNonIP
		}
	}
	switch etherType {
	case wire.EtherTypeIPv4:
		return p.ipv4(data, f)
	case wire.EtherTypeIPv6:
		return p.ipv6(data, f)
	}
	f.EType = etherType
	return 0, headerNonIP
}

// checkIP tells whether data can hold an IP header of the given version
// and minimum length.
func checkIP(data []byte, version byte, minLen int) headerStatus {
	switch {
	case len(data) < minLen:
		return headerTruncated
	case data[0]>>4 != version:
		return headerNonIP
	}
	return headerParsed
}

func (p *headerParser) ipv4(data []byte, f *record.Flow) (uint64, headerStatus) {
	if status := checkIP(data, 4, 20); status != headerParsed {
		return 0, status
	}
	f.EType = wire.EtherTypeIPv4
	f.IPTos = data[1]
	f.IPFragmentID = uint32(binary.BigEndian.Uint16(data[4:6]))
	f.IPFragmentOffset = binary.BigEndian.Uint16(data[6:8]) & 0x1fff
	f.IPTTL = data[8]
	f.Proto = data[9]
	f.SrcAddr = record.AddrFrom4([4]byte(data[12:16]))
	f.DstAddr = record.AddrFrom4([4]byte(data[16:20]))
	l3Length := uint64(binary.BigEndian.Uint16(data[2:4]))
	headerLen := int(data[0]&0x0f) * 4
	// Only the first fragment carries the transport header.
	if f.IPFragmentOffset == 0 && headerLen >= 20 && len(data) >= headerLen {
		parseTransport(data[headerLen:], f)
		if p.decap != 0 {
			if inner, status, ok := p.decapsulate(data[headerLen:], f); ok {
				return inner, status
			}
		}
	}
	return l3Length, headerParsed
}

// IPv6 extension headers walked to reach the transport header.
const (
	ipv6HopByHop    = 0
	ipv6Routing     = 43
	ipv6Fragment    = 44
	ipv6DestOptions = 60
)

func (p *headerParser) ipv6(data []byte, f *record.Flow) (uint64, headerStatus) {
	if status := checkIP(data, 6, 40); status != headerParsed {
		return 0, status
	}
	f.EType = wire.EtherTypeIPv6
	first := binary.BigEndian.Uint32(data[0:4])
	f.IPTos = uint8(first >> 20)
	f.IPv6FlowLabel = first & 0xfffff
	f.IPTTL = data[7]
	f.SrcAddr = record.Addr(data[8:24])
	f.DstAddr = record.Addr(data[24:40])
	l3Length := uint64(binary.BigEndian.Uint16(data[4:6])) + 40
	next := data[6]
	data = data[40:]
	for range 8 { // bound the walk: a real packet has few extension headers
		switch next {
		case ipv6HopByHop, ipv6Routing, ipv6DestOptions:
			if len(data) < 8 {
				f.Proto = next
				return l3Length, headerParsed
			}
			extLen := int(data[1])*8 + 8
			next = data[0]
			if len(data) < extLen {
				f.Proto = next
				return l3Length, headerParsed
			}
			data = data[extLen:]
			continue
		case ipv6Fragment:
			if len(data) < 8 {
				f.Proto = next
				return l3Length, headerParsed
			}
			next = data[0]
			f.IPFragmentOffset = binary.BigEndian.Uint16(data[2:4]) >> 3
			f.IPFragmentID = binary.BigEndian.Uint32(data[4:8])
			data = data[8:]
			if f.IPFragmentOffset != 0 {
				f.Proto = next
				return l3Length, headerParsed
			}
			continue
		}
		break
	}
	f.Proto = next
	parseTransport(data, f)
	if p.decap != 0 {
		if inner, status, ok := p.decapsulate(data, f); ok {
			return inner, status
		}
	}
	return l3Length, headerParsed
}

func parseTransport(data []byte, f *record.Flow) {
	switch f.Proto {
	case wire.ProtoTCP:
		if len(data) >= 14 {
			f.TCPFlags = uint16(data[13])
		}
		fallthrough
	case wire.ProtoUDP:
		if len(data) >= 4 {
			f.SrcPort = binary.BigEndian.Uint16(data[0:2])
			f.DstPort = binary.BigEndian.Uint16(data[2:4])
		}
	case wire.ProtoICMP, wire.ProtoICMPv6:
		if len(data) >= 2 {
			f.ICMPType, f.ICMPCode = data[0], data[1]
		}
	}
}
