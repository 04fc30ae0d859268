package enrich

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"

	"sluice/pipeline/record"
)

// IP protocols whose ports (or ICMP type and code) enter the Community ID.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	protoSCTP   = 132
)

// icmpCounterpart maps an ICMP type to the type of its answer (or
// question), for the Community ID spec's two-way ICMP exchanges: both
// directions of an echo then hash the same. -1 marks a one-way type.
// Arrays, not maps: every ICMP record looks one up.
var icmpCounterpart, icmpv6Counterpart = counterparts(
	[][2]uint8{
		{8, 0},   // echo
		{13, 14}, // timestamp
		{15, 16}, // information
		{10, 9},  // router solicitation and advertisement
		{17, 18}, // address mask
	}), counterparts(
	[][2]uint8{
		{128, 129}, // echo
		{130, 131}, // multicast listener query and report
		{133, 134}, // router solicitation and advertisement
		{135, 136}, // neighbor solicitation and advertisement
		{139, 140}, // node information query and reply
		{144, 145}, // home agent address discovery
	})

func counterparts(pairs [][2]uint8) *[256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = -1
	}
	for _, p := range pairs {
		t[p[0]], t[p[1]] = int16(p[1]), int16(p[0])
	}
	return &t
}

// communityID computes the Community ID v1 hash of a record
// (github.com/corelight/community-id-spec): SHA-1 over the seed, the
// ordered endpoints, the protocol and the ports. It reports false when the
// record has no addresses, or addresses of two families.
func communityID(f *record.Flow, seed uint16) (record.CommunityID, bool) {
	if f.SrcAddr.IsZero() || f.DstAddr.IsZero() {
		return record.CommunityID{}, false
	}
	src, dst := f.SrcAddr[:], f.DstAddr[:]
	v4 := isMapped(f.SrcAddr)
	if v4 != isMapped(f.DstAddr) {
		return record.CommunityID{}, false
	}
	if v4 {
		src, dst = src[12:], dst[12:]
	}

	var sport, dport uint16
	hasPorts, oneWay := true, false
	switch f.Proto {
	case protoTCP, protoUDP, protoSCTP:
		sport, dport = f.SrcPort, f.DstPort
	case protoICMP, protoICMPv6:
		counterpart := icmpCounterpart
		if f.Proto == protoICMPv6 {
			counterpart = icmpv6Counterpart
		}
		sport, dport = uint16(f.ICMPType), uint16(f.ICMPCode)
		if answer := counterpart[f.ICMPType]; answer >= 0 {
			dport = uint16(answer)
		} else {
			oneWay = true
		}
	default:
		hasPorts = false
	}
	if !oneWay {
		if c := bytes.Compare(src, dst); c > 0 || (c == 0 && sport > dport) {
			src, dst = dst, src
			sport, dport = dport, sport
		}
	}

	// seed (2) + two IPv6 addresses (32) + protocol and padding (2) + ports (4)
	var buf [40]byte
	b := binary.BigEndian.AppendUint16(buf[:0], seed)
	b = append(b, src...)
	b = append(b, dst...)
	b = append(b, f.Proto, 0)
	if hasPorts {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	return sha1.Sum(b), true
}

// isMapped reports whether an address is IPv4 mapped into IPv6.
func isMapped(a record.Addr) bool {
	return a[10] == 0xff && a[11] == 0xff && [10]byte(a[:10]) == [10]byte{}
}
