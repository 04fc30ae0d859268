package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// The traffic model: clients in private networks talk to servers in public prefixes (and a
// tenth of the time to servers of their own networks), over a realistic protocol and service
// mix, with heavy-tailed flow sizes. Everything comes from one seeded generator, so a seed
// reproduces the same flows.

// network is a prefix flows draw addresses from, with the AS that originates it (0 for private
// addresses, which exporters report without an AS) and the mask exporters report for it.
type network struct {
	prefix netip.Prefix
	as     uint32
}

var (
	// Public destinations: the documentation ranges (RFC 5737, RFC 3849, with documentation ASNs
	// from RFC 5398) and well-known real prefixes with their real origin ASes. AS396982 needs
	// 4 bytes, which exercises 4-byte AS numbers (and AS_TRANS in NetFlow v5).
	publicIPv4 = []network{
		{netip.MustParsePrefix("192.0.2.0/24"), 64496},
		{netip.MustParsePrefix("198.51.100.0/24"), 64497},
		{netip.MustParsePrefix("203.0.113.0/24"), 64498},
		{netip.MustParsePrefix("8.8.8.0/24"), 15169},
		{netip.MustParsePrefix("1.1.1.0/24"), 13335},
		{netip.MustParsePrefix("151.101.0.0/16"), 54113},
		{netip.MustParsePrefix("140.82.112.0/20"), 36459},
		{netip.MustParsePrefix("13.32.0.0/15"), 16509},
		{netip.MustParsePrefix("34.64.0.0/10"), 396982},
	}
	publicIPv6 = []network{
		{netip.MustParsePrefix("2001:db8::/32"), 64499},
		{netip.MustParsePrefix("2606:4700::/32"), 13335},
		{netip.MustParsePrefix("2a00:1450::/32"), 15169},
		{netip.MustParsePrefix("2620:1ec::/36"), 8075},
	}
	// Private sources (RFC 1918, RFC 4193); masks are the access subnets'.
	privateIPv4 = []network{
		{netip.MustParsePrefix("10.0.0.0/8"), 0},
		{netip.MustParsePrefix("172.16.0.0/12"), 0},
		{netip.MustParsePrefix("192.168.0.0/16"), 0},
	}
	privateIPv6 = []network{
		{netip.MustParsePrefix("fd12:3456:789a::/48"), 0},
	}
)

const (
	privateMaskIPv4 = 24
	privateMaskIPv6 = 64
	// routerAS is the simulated network's own AS, reported by sFlow's extended gateway.
	routerAS = 65001
	// activeTimeout bounds flow durations, as an exporter's active timeout does.
	activeTimeout = 120 * time.Second
)

// service is a destination port and how its packets are sized.
type service struct {
	port       uint16
	weight     int
	reqMin     int // IP length range of client-to-server packets
	reqMax     int
	respMin    int // IP length range of server-to-client packets
	respMax    int
	maxPackets float64 // flows are cut at this many packets
}

// Weighted service mixes, by IP protocol.
var (
	tcpServices = []service{
		{443, 50, 52, 400, 600, 1500, 1e6},
		{80, 15, 52, 500, 500, 1500, 1e6},
		{22, 6, 52, 200, 52, 600, 1e5},
		{25, 3, 52, 1500, 52, 200, 1e4},
		{3389, 4, 52, 300, 200, 1500, 1e5},
		{993, 4, 52, 200, 100, 1500, 1e4},
		{8080, 4, 52, 500, 500, 1500, 1e5},
		{5432, 3, 52, 600, 52, 1500, 1e5},
		{445, 3, 52, 1500, 52, 1500, 1e5},
		{179, 2, 52, 120, 52, 120, 1e3},
	}
	udpServices = []service{
		{53, 45, 60, 120, 80, 512, 2},
		{443, 25, 1200, 1350, 1200, 1350, 1e5}, // QUIC
		{123, 10, 76, 76, 76, 76, 1},
		{500, 5, 200, 600, 200, 600, 10},
		{4500, 5, 100, 1400, 100, 1400, 1e4},
		{514, 5, 100, 600, 100, 600, 100},
		{161, 5, 80, 200, 80, 600, 2},
	}
	// ICMP messages: echo request, echo reply, port unreachable, time exceeded.
	// Error messages quote the invoking packet's IP header and 8 bytes (RFC 792, RFC 4443
	// section 3), which sizes them.
	icmpMessages = []struct {
		typ, code, typ6, code6 uint8
		isError                bool
	}{
		{8, 0, 128, 0, false}, {0, 0, 129, 0, false}, {3, 3, 1, 4, true}, {11, 0, 3, 0, true},
	}
	// TOS/traffic class values: mostly best effort, some CS1, AF21 and EF marking.
	tosValues = []weighted{{0, 85}, {0x20, 8}, {0x48, 5}, {0xb8, 2}}
	// Cumulative TCP flags of whole flows: complete connections, mid-flow exports, failed
	// connection attempts and resets.
	tcpFlowFlags = []weighted{{0x1b, 60}, {0x18, 15}, {0x10, 8}, {0x02, 7}, {0x14, 5}, {0x1f, 5}}
	// TCP flags of single sampled packets (sFlow).
	tcpPacketFlags = []weighted{{0x10, 45}, {0x18, 40}, {0x02, 5}, {0x12, 5}, {0x11, 4}, {0x14, 1}}
)

// weighted is a value drawn with a relative weight.
type weighted struct {
	value  uint8
	weight int
}

// iface is one interface of a simulated exporter.
type iface struct {
	index    uint32
	uplink   bool
	speed    uint64 // bits per second
	name     string // announced in NetFlow v9/IPFIX options data
	descr    string
	vlan     uint16
	mac      [6]byte // the exporter's MAC on this interface
	peerMAC  [6]byte // the neighbour's MAC
	nextHop4 netip.Addr
	nextHop6 netip.Addr
}

// model draws flows. It owns the random source: every draw goes through it, in a fixed order.
type model struct {
	rng       *rand.Rand
	ipv6Share float64
}

func newModel(seed uint64, ipv6Share float64) *model {
	return &model{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ipv6Share: ipv6Share}
}

// newInterfaces builds n interfaces for exporter number k: the first quarter (at least one)
// are 10 Gb/s uplinks towards the Internet (xe-0/0/N, described by their transit provider),
// the others 1 Gb/s access ports (ge-0/1/N, described by their VLAN). ifIndexes start at 513,
// like a line card's.
func newInterfaces(k, n int) []iface {
	uplinks := max(1, n/4)
	ifs := make([]iface, n)
	for j := range ifs {
		ifs[j] = iface{
			index:   uint32(513 + j),
			uplink:  j < uplinks,
			speed:   1_000_000_000,
			name:    fmt.Sprintf("ge-0/1/%d", j-uplinks),
			descr:   fmt.Sprintf("access: vlan %d", 100+j),
			vlan:    uint16(100 + j),
			mac:     [6]byte{0x02, 0x00, 0x5e, byte(k), byte(j), 0x01},
			peerMAC: [6]byte{0x02, 0x00, 0x5e, byte(k), byte(j), 0x02},
			// Point-to-point neighbours: 10.255.k.j/31-style and 2001:db8:ffff:k::j.
			nextHop4: netip.AddrFrom4([4]byte{10, 255, byte(k), byte(2*j + 1)}),
			nextHop6: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, byte(k), 14: 0, 15: byte(2*j + 1)}),
		}
		if j < uplinks {
			ifs[j].speed = 10_000_000_000
			ifs[j].name = fmt.Sprintf("xe-0/0/%d", j)
			ifs[j].descr = fmt.Sprintf("transit: AS%d", 64496+j) // documentation ASNs (RFC 5398)
		}
	}
	return ifs
}

// fill draws one flow into f for exporter e, ending at or before now (which has millisecond
// precision). Exporter identity and sampling fields are the caller's.
func (m *model) fill(f *Flow, e *exporter, now time.Time) {
	r := m.rng
	v6 := e.protocol != NetFlow5 && r.Float64() < m.ipv6Share

	// Protocol mix: TCP 80%, UDP 15%, ICMP 5%.
	var svc *service
	var icmpType, icmpCode uint8
	icmpError := false
	switch p := r.IntN(100); {
	case p < 80:
		f.IPProto = ipProtoTCP
		svc = pickService(r, tcpServices)
	case p < 95:
		f.IPProto = ipProtoUDP
		svc = pickService(r, udpServices)
	default:
		f.IPProto = ipProtoICMP
		msg := icmpMessages[r.IntN(len(icmpMessages))]
		icmpType, icmpCode, icmpError = msg.typ, msg.code, msg.isError
		if v6 {
			f.IPProto = ipProtoICMPv6
			icmpType, icmpCode = msg.typ6, msg.code6
		}
	}

	// Endpoints: a private client, and a public server (90%) or a private one.
	clientNets, serverNets, clientMask, serverMask := privateIPv4, publicIPv4, uint8(privateMaskIPv4), uint8(0)
	if v6 {
		clientNets, serverNets, clientMask = privateIPv6, publicIPv6, privateMaskIPv6
	}
	internal := r.IntN(10) == 0
	if internal {
		serverNets, serverMask = clientNets, clientMask
	}
	clientNet := &clientNets[r.IntN(len(clientNets))]
	serverNet := &serverNets[r.IntN(len(serverNets))]
	if serverMask == 0 {
		serverMask = uint8(serverNet.prefix.Bits())
	}
	client := randomHost(r, clientNet.prefix)
	server := randomHost(r, serverNet.prefix)

	// Interfaces: clients sit behind access ports, public servers behind uplinks.
	access, uplinks := e.accessInterfaces(), e.uplinkInterfaces()
	clientIf := &access[r.IntN(len(access))]
	serverIf := &uplinks[r.IntN(len(uplinks))]
	if internal {
		serverIf = &access[r.IntN(len(access))]
	}

	// Ports: an ephemeral client port (Linux's or Windows' range) and the service's port.
	var clientPort, serverPort uint16
	if svc != nil {
		serverPort = svc.port
		if r.IntN(2) == 0 {
			clientPort = uint16(32768 + r.IntN(61000-32768))
		} else {
			clientPort = uint16(49152 + r.IntN(65536-49152))
		}
	}

	// Direction: 60% client-to-server, 40% the server's answers.
	request := r.IntN(10) < 6
	src, dst, srcNet, dstNet, srcMask, dstMask := client, server, clientNet, serverNet, clientMask, serverMask
	srcPort, dstPort, inIf, outIf := clientPort, serverPort, clientIf, serverIf
	if !request {
		src, dst, srcNet, dstNet, srcMask, dstMask = server, client, serverNet, clientNet, serverMask, clientMask
		srcPort, dstPort, inIf, outIf = serverPort, clientPort, serverIf, clientIf
	}
	if svc == nil { // ICMP: type and code in the destination port, as NetFlow exporters do
		srcPort, dstPort = 0, uint16(icmpType)<<8|uint16(icmpCode)
	}

	f.SrcAddr, f.DstAddr = src, dst
	f.SrcMask, f.DstMask = srcMask, dstMask
	f.SrcAS, f.DstAS = srcNet.as, dstNet.as
	f.SrcPort, f.DstPort = srcPort, dstPort
	f.ICMPType, f.ICMPCode = icmpType, icmpCode
	f.InIf, f.OutIf = inIf.index, outIf.index
	f.NextHop = outIf.nextHop4
	if v6 {
		f.NextHop = outIf.nextHop6
	}
	f.TOS = pickWeighted(r, tosValues)
	f.SrcMAC, f.DstMAC = inIf.peerMAC, inIf.mac
	f.SrcVLAN, f.DstVLAN = inIf.vlan, outIf.vlan
	f.TTL = 64
	if inIf.uplink {
		f.TTL = uint8(44 + r.IntN(20)) // some hops away
	}
	f.FlowLabel = 0
	if v6 {
		f.FlowLabel = r.Uint32() & 0xfffff
	}

	// Sizes: a Pareto packet count (alpha 1.2: most flows are a few packets, a few are huge)
	// and a mean packet size in the service's range for this direction.
	var minLen, maxLen int
	var maxPackets float64
	switch {
	case svc != nil:
		minLen, maxLen, maxPackets = svc.reqMin, svc.reqMax, svc.maxPackets
		if !request {
			minLen, maxLen = svc.respMin, svc.respMax
		}
		if v6 { // the IPv6 header is 20 bytes longer
			minLen, maxLen = min(minLen+20, 1500), min(maxLen+20, 1500)
		}
	case icmpError: // IP + ICMP headers, the quoted IP + UDP headers, up to 32 more bytes
		minLen, maxLen, maxPackets = 56, 88, 3
		if v6 {
			minLen, maxLen = 96, 128
		}
	default: // echo: 56 data bytes by default, sometimes more
		minLen, maxLen, maxPackets = 84, 120, 10
		if v6 {
			minLen, maxLen = 104, 140
		}
	}

	if e.protocol == SFlow5 {
		// One sampled frame: its IP length, plus the tagged Ethernet header and FCS.
		ipLen := minLen + r.IntN(maxLen-minLen+1)
		f.Bytes = uint64(ipLen + ethernetTaggedHeader + ethernetFCS)
		f.Packets = 1
		f.TCPFlags = 0
		if f.IPProto == ipProtoTCP {
			f.TCPFlags = pickWeighted(r, tcpPacketFlags)
		}
		f.Start, f.End = now, now
		return
	}

	packets := math.Min(math.Floor(1/math.Pow(1-r.Float64(), 1/1.2)), maxPackets)
	meanLen := float64(minLen) + r.Float64()*float64(maxLen-minLen)
	f.Packets = uint64(packets)
	f.Bytes = uint64(packets * meanLen)
	if e.protocol == NetFlow5 { // 32-bit counters
		f.Packets = min(f.Packets, math.MaxUint32)
		f.Bytes = min(f.Bytes, math.MaxUint32)
	}
	f.TCPFlags = 0
	if f.IPProto == ipProtoTCP {
		f.TCPFlags = pickWeighted(r, tcpFlowFlags)
		if f.Packets == 1 { // one packet carries one packet's flags
			f.TCPFlags = pickWeighted(r, tcpPacketFlags)
		}
	}

	// Times: flows end up to 5 s before the export, and last up to the active timeout, longer
	// for more packets; single-packet flows last 0 ms.
	end := now.Add(-time.Duration(r.IntN(5000)) * time.Millisecond)
	var duration time.Duration
	if f.Packets > 1 {
		ms := math.Min(float64(f.Packets)*(1+r.Float64()*50), float64(activeTimeout.Milliseconds()))
		duration = time.Duration(ms) * time.Millisecond
	}
	f.Start, f.End = end.Add(-duration), end
	if f.Start.Before(e.boot) {
		f.Start = e.boot
	}
	if e.protocol == NetFlow5 {
		f.SrcAS, f.DstAS = asFor16Bits(f.SrcAS), asFor16Bits(f.DstAS)
	}
}

// asFor16Bits is the AS number a 2-byte field carries (RFC 6793 section 9).
func asFor16Bits(as uint32) uint32 {
	if as > math.MaxUint16 {
		return asTrans
	}
	return as
}

func pickService(r *rand.Rand, services []service) *service {
	total := 0
	for i := range services {
		total += services[i].weight
	}
	n := r.IntN(total)
	for i := range services {
		if n < services[i].weight {
			return &services[i]
		}
		n -= services[i].weight
	}
	return &services[len(services)-1]
}

// pickWeighted draws one value, each with probability weight/sum of weights.
func pickWeighted(r *rand.Rand, choices []weighted) uint8 {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := r.IntN(total)
	for _, c := range choices {
		if n < c.weight {
			return c.value
		}
		n -= c.weight
	}
	return choices[len(choices)-1].value
}

// randomHost draws an address inside p, avoiding the all-zeros and all-ones host of IPv4
// subnets so that addresses look like hosts.
func randomHost(r *rand.Rand, p netip.Prefix) netip.Addr {
	base := p.Masked().Addr()
	if base.Is4() {
		b := base.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		hostBits := 32 - p.Bits()
		host := r.Uint32() & (1<<hostBits - 1)
		if low := host & 0xff; low == 0 || low == 0xff {
			host = host&^0xff | uint32(1+r.IntN(254))
		}
		v |= host
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	b := base.As16()
	for i := p.Bits() / 8; i < 16; i++ {
		bits := byte(r.Uint32())
		if i == p.Bits()/8 && p.Bits()%8 != 0 {
			bits &= 0xff >> (p.Bits() % 8)
		}
		b[i] |= bits
	}
	return netip.AddrFrom16(b)
}
