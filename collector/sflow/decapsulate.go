package sflow

import (
	"encoding/binary"
	"fmt"

	"sluice/collector/wire"
	"sluice/pipeline/record"
)

// Decapsulation is a set of tunnel encapsulations whose inner packet a
// sampled header describes, when the option is on: the record then carries
// the inner addresses, ports and protocol (and, for VXLAN, the inner MACs
// and VLAN) instead of the tunnel endpoints'. Packets outside those tunnels
// are recorded as they are.
type Decapsulation uint8

// Encapsulations sluice can read through.
const (
	// DecapsulateVXLAN: UDP to port 4789 with the VXLAN I flag (RFC 7348),
	// carrying an Ethernet frame.
	DecapsulateVXLAN Decapsulation = 1 << iota
	// DecapsulateGRE: IP protocol 47, GRE version 0 (RFC 2784) with the
	// optional checksum, key and sequence number (RFC 2890), carrying IPv4,
	// IPv6 or Ethernet (transparent Ethernet bridging, NVGRE).
	DecapsulateGRE
)

// Decapsulation names, as the configuration spells them.
const (
	VXLAN = "vxlan"
	GRE   = "gre"
)

// ParseDecapsulation reads a list of encapsulation names.
func ParseDecapsulation(names []string) (Decapsulation, error) {
	var d Decapsulation
	for _, n := range names {
		switch n {
		case VXLAN:
			d |= DecapsulateVXLAN
		case GRE:
			d |= DecapsulateGRE
		default:
			return 0, fmt.Errorf("unknown encapsulation %q (want %s or %s)", n, VXLAN, GRE)
		}
	}
	return d, nil
}

const (
	vxlanPort       = 4789
	vxlanHeaderLen  = 8
	vxlanFlagI      = 0x08 // the VNI is valid
	protoGRE        = 47
	greFlagChecksum = 0x8000
	greFlagKey      = 0x2000
	greFlagSequence = 0x1000
	greVersionMask  = 0x0007
	// EtherType of transparent Ethernet bridging inside GRE (NVGRE).
	etherTypeTransparentBridging = 0x6558
)

// decapsulate reads the inner packet when l4, the transport header of the
// packet f holds, starts an enabled tunnel. ok is false when it does not,
// or when the tunnel header is cut short (counted in p.tunnelTruncated):
// f then keeps the outer packet. The inner packet is parsed without
// further decapsulation, so the work per header stays bounded.
func (p *headerParser) decapsulate(l4 []byte, f *record.Flow) (l3Length uint64, status headerStatus, ok bool) {
	inner := headerParser{}
	switch {
	case p.decap&DecapsulateVXLAN != 0 && f.Proto == wire.ProtoUDP && f.DstPort == vxlanPort:
		const start = 8 + vxlanHeaderLen // UDP header, VXLAN header
		if len(l4) < start {
			p.tunnelTruncated = DecapsulateVXLAN
			return 0, 0, false
		}
		if l4[8]&vxlanFlagI == 0 {
			return 0, 0, false // not VXLAN, whatever the port says
		}
		p.tunnel = DecapsulateVXLAN
		clearInnerFields(f, true)
		l3Length, status = inner.ethernet(l4[start:], f)
		return l3Length, status, true
	case p.decap&DecapsulateGRE != 0 && f.Proto == protoGRE:
		if len(l4) < 4 {
			p.tunnelTruncated = DecapsulateGRE
			return 0, 0, false
		}
		flags := binary.BigEndian.Uint16(l4[0:2])
		if flags&greVersionMask != 0 {
			return 0, 0, false // version 1 is PPTP's enhanced GRE
		}
		start := 4
		for _, flag := range []uint16{greFlagChecksum, greFlagKey, greFlagSequence} {
			if flags&flag != 0 {
				start += 4
			}
		}
		if len(l4) < start {
			p.tunnelTruncated = DecapsulateGRE
			return 0, 0, false
		}
		payload := l4[start:]
		switch binary.BigEndian.Uint16(l4[2:4]) {
		case wire.EtherTypeIPv4:
			clearInnerFields(f, false)
			l3Length, status = inner.ipv4(payload, f)
		case wire.EtherTypeIPv6:
			clearInnerFields(f, false)
			l3Length, status = inner.ipv6(payload, f)
		case etherTypeTransparentBridging:
			clearInnerFields(f, true)
			l3Length, status = inner.ethernet(payload, f)
		default:
			return 0, 0, false // ERSPAN, MPLS over GRE…: kept as the outer packet
		}
		p.tunnel = DecapsulateGRE
		return l3Length, status, true
	}
	return 0, 0, false
}

// clearInnerFields forgets what the outer packet set, so the record
// describes the inner packet alone; link-layer fields too when the tunnel
// carries a frame. MPLS labels describe the path the tunnel took: kept.
func clearInnerFields(f *record.Flow, link bool) {
	f.EType, f.Proto = 0, 0
	f.SrcAddr, f.DstAddr = record.Addr{}, record.Addr{}
	f.SrcPort, f.DstPort = 0, 0
	f.IPTos, f.IPTTL, f.IPv6FlowLabel = 0, 0, 0
	f.IPFragmentID, f.IPFragmentOffset = 0, 0
	f.TCPFlags, f.ICMPType, f.ICMPCode = 0, 0, 0
	if link {
		f.SrcMAC, f.DstMAC, f.SrcVlan = 0, 0, 0
	}
}
