package netflow

import (
	"encoding/binary"
	"testing"

	"sluice/pipeline/record"
)

// tf is one template field and its value in a record.
type tf struct {
	ie uint16
	v  []byte
}

// singleRecord is a NetFlow v9 (version 9) or IPFIX (10) datagram with a
// template of fields and one data record of their values. v9 numbers
// elements as IPFIX does but has no enterprise bit, so NSEL's 40001-40004
// reach the decoder as plain elements.
func singleRecord(version int, fields ...tf) []byte {
	be16 := binary.BigEndian.AppendUint16
	tmpl := be16(be16(nil, 256), uint16(len(fields)))
	var data []byte
	for _, f := range fields {
		tmpl = be16(be16(tmpl, f.ie), uint16(len(f.v)))
		data = append(data, f.v...)
	}
	if version == 9 {
		return v9Message(2, set(0, tmpl...), set(256, data...))
	}
	return ipfixMessage(set(2, tmpl...), set(256, data...))
}

// decodeOne decodes msg with a fresh decoder and returns its one record.
func decodeOne(tb testing.TB, msg []byte) (record.Flow, bool) {
	tb.Helper()
	var got record.Flow
	n := 0
	if _, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { got, n = *f, n+1 }); err != nil {
		tb.Fatal(err)
	}
	if n > 1 {
		tb.Fatalf("%d records, want 1", n)
	}
	return got, n == 1
}

// ignoredIE is an element the decoder does not read (paddingOctets).
const ignoredIE = 210

// fieldCases are, for every element extraction reads, a record carrying it
// (with what it needs beside it) and what it sets in the record: the
// decoder's mapping from elements to record fields, written out once
// independently of its implementation.
var fieldCases = []struct {
	name    string
	version int // 9 unless 10
	fields  []tf
	want    func(f *record.Flow)
}{
	{"1 octetDeltaCount", 9, []tf{{1, []byte{0, 0, 1, 0}}}, func(f *record.Flow) { f.Bytes = 256 }},
	{"2 packetDeltaCount", 9, []tf{{2, []byte{0, 0, 0, 0, 0, 0, 0, 7}}}, func(f *record.Flow) { f.Packets = 7 }},
	{"4 protocolIdentifier", 9, []tf{{4, []byte{17}}}, func(f *record.Flow) { f.Proto = 17 }},
	{"5 ipClassOfService", 9, []tf{{5, []byte{0xb8}}}, func(f *record.Flow) { f.IPTos = 0xb8 }},
	{"6 tcpControlBits", 9, []tf{{6, []byte{0x01, 0x12}}}, func(f *record.Flow) { f.TCPFlags = 0x112 }},
	{"7 sourceTransportPort", 9, []tf{{7, []byte{0xc3, 0x50}}}, func(f *record.Flow) { f.SrcPort = 50000 }},
	{"8 sourceIPv4Address", 9, []tf{{8, []byte{192, 0, 2, 7}}}, func(f *record.Flow) { f.SrcAddr, f.EType = addr4("192.0.2.7"), 0x0800 }},
	{"9 sourceIPv4PrefixLength", 9, []tf{{9, []byte{24}}}, func(f *record.Flow) { f.SrcNetMask = 24 }},
	{"10 ingressInterface", 9, []tf{{10, []byte{0, 0, 0, 3}}}, func(f *record.Flow) { f.InIfIndex = 3 }},
	{"11 destinationTransportPort", 9, []tf{{11, []byte{0, 53}}}, func(f *record.Flow) { f.DstPort = 53 }},
	{"12 destinationIPv4Address", 9, []tf{{12, []byte{198, 51, 100, 2}}}, func(f *record.Flow) { f.DstAddr, f.EType = addr4("198.51.100.2"), 0x0800 }},
	{"13 destinationIPv4PrefixLength", 9, []tf{{13, []byte{16}}}, func(f *record.Flow) { f.DstNetMask = 16 }},
	{"14 egressInterface", 9, []tf{{14, []byte{0, 4}}}, func(f *record.Flow) { f.OutIfIndex = 4 }},
	{"15 ipNextHopIPv4Address", 9, []tf{{15, []byte{10, 0, 0, 1}}}, func(f *record.Flow) { f.NextHop = addr4("10.0.0.1") }},
	{"16 bgpSourceAsNumber", 9, []tf{{16, []byte{0, 0, 0xfd, 0xe8}}}, func(f *record.Flow) { f.SrcAS = 65000 }},
	{"17 bgpDestinationAsNumber", 9, []tf{{17, []byte{0, 0, 0xfd, 0xe9}}}, func(f *record.Flow) { f.DstAS = 65001 }},
	{"18 bgpNextHopIPv4Address", 9, []tf{{18, []byte{10, 0, 0, 2}}}, func(f *record.Flow) { f.BGPNextHop = addr4("10.0.0.2") }},
	{"21 flowEndSysUpTime (v9)", 9, []tf{{21, []byte{0, 0, 0, 1}}}, func(f *record.Flow) { f.TimeFlowEnd = 0x60000000 * 1000 }},
	{"22 flowStartSysUpTime (v9)", 9, []tf{{22, []byte{0, 0, 0, 0}}}, func(f *record.Flow) { f.TimeFlowStart = 0x60000000*1000 - 1 }},
	{"21, 22 with 160 systemInitTimeMilliseconds (IPFIX)", 10, []tf{{160, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}}, {22, []byte{0, 0, 0, 5}}, {21, []byte{0, 0, 0, 9}}},
		func(f *record.Flow) { f.TimeFlowStart, f.TimeFlowEnd = 0x1005, 0x1009 }},
	{"23 postOctetDeltaCount", 9, []tf{{23, []byte{0, 9}}}, func(f *record.Flow) { f.Bytes = 9 }},
	{"24 postPacketDeltaCount", 9, []tf{{24, []byte{0, 8}}}, func(f *record.Flow) { f.Packets = 8 }},
	{"27 sourceIPv6Address", 9, []tf{{27, a16("2001:db8::1")}}, func(f *record.Flow) { f.SrcAddr, f.EType = addr("2001:db8::1"), 0x86dd }},
	{"28 destinationIPv6Address", 9, []tf{{28, a16("2001:db8::2")}}, func(f *record.Flow) { f.DstAddr, f.EType = addr("2001:db8::2"), 0x86dd }},
	{"29 sourceIPv6PrefixLength", 9, []tf{{29, []byte{48}}}, func(f *record.Flow) { f.SrcNetMask = 48 }},
	{"30 destinationIPv6PrefixLength", 9, []tf{{30, []byte{64}}}, func(f *record.Flow) { f.DstNetMask = 64 }},
	{"31 flowLabelIPv6", 9, []tf{{31, []byte{0xff, 0xf1, 0x23, 0x45}}}, func(f *record.Flow) { f.IPv6FlowLabel = 0x12345 }},
	{"32 icmpTypeCodeIPv4", 9, []tf{{32, []byte{3, 1}}}, func(f *record.Flow) { f.ICMPType, f.ICMPCode = 3, 1 }},
	{"34 samplingInterval", 9, []tf{{34, []byte{0, 0, 0, 100}}}, func(f *record.Flow) { f.SamplingRate = 100 }},
	{"48 samplerId", 9, []tf{{48, []byte{5}}}, func(f *record.Flow) { f.SamplerID = 5 }},
	{"50 samplerRandomInterval", 9, []tf{{50, []byte{0, 0, 3, 0xe8}}}, func(f *record.Flow) { f.SamplingRate = 1000 }},
	{"52 minimumTTL", 9, []tf{{52, []byte{30}}}, func(f *record.Flow) { f.IPTTL = 30 }},
	{"53 maximumTTL", 9, []tf{{53, []byte{60}}}, func(f *record.Flow) { f.IPTTL = 60 }},
	{"54 fragmentIdentification", 9, []tf{{54, []byte{0, 1, 0, 2}}}, func(f *record.Flow) { f.IPFragmentID = 0x10002 }},
	{"56 sourceMacAddress", 9, []tf{{56, []byte{0, 1, 2, 3, 4, 5}}}, func(f *record.Flow) { f.SrcMAC = 0x000102030405 }},
	{"57 postDestinationMacAddress", 9, []tf{{57, []byte{0, 1, 2, 3, 4, 6}}}, func(f *record.Flow) { f.DstMAC = 0x000102030406 }},
	{"58 vlanId", 9, []tf{{58, []byte{0xf0, 0x64}}}, func(f *record.Flow) { f.SrcVlan = 100 }},
	{"59 postVlanId", 9, []tf{{59, []byte{0xf0, 0x65}}}, func(f *record.Flow) { f.DstVlan = 101 }},
	{"60 ipVersion 4", 9, []tf{{60, []byte{4}}}, func(f *record.Flow) { f.EType = 0x0800 }},
	{"60 ipVersion 6", 9, []tf{{60, []byte{6}}}, func(f *record.Flow) { f.EType = 0x86dd }},
	{"61 flowDirection", 9, []tf{{61, []byte{1}}}, func(f *record.Flow) { f.FlowDirection = 2 }},
	{"62 ipNextHopIPv6Address", 9, []tf{{62, a16("2001:db8::fe")}}, func(f *record.Flow) { f.NextHop = addr("2001:db8::fe") }},
	{"63 bgpNextHopIPv6Address", 9, []tf{{63, a16("2001:db8::ff")}}, func(f *record.Flow) { f.BGPNextHop = addr("2001:db8::ff") }},
	{"70 mplsTopLabelStackSection", 9, []tf{{70, []byte{0x01, 0x23, 0x41}}}, func(f *record.Flow) { f.MPLS1stLabel = 0x1234 }},
	{"71 mplsLabelStackSection2", 9, []tf{{71, []byte{0x01, 0x23, 0x51}}}, func(f *record.Flow) { f.MPLS2ndLabel = 0x1235 }},
	{"72 mplsLabelStackSection3", 9, []tf{{72, []byte{0x01, 0x23, 0x61}}}, func(f *record.Flow) { f.MPLS3rdLabel = 0x1236 }},
	{"80 destinationMacAddress", 9, []tf{{80, []byte{0, 1, 2, 3, 4, 7}}}, func(f *record.Flow) { f.DstMAC = 0x000102030407 }},
	{"81 postSourceMacAddress", 9, []tf{{81, []byte{0, 1, 2, 3, 4, 8}}}, func(f *record.Flow) { f.SrcMAC = 0x000102030408 }},
	{"85 octetTotalCount", 9, []tf{{85, []byte{0, 0, 0, 0, 0, 1, 0, 0}}}, func(f *record.Flow) { f.Bytes = 0x10000 }},
	{"86 packetTotalCount", 9, []tf{{86, []byte{0, 0, 0, 0, 0, 0, 0, 11}}}, func(f *record.Flow) { f.Packets = 11 }},
	{"88 fragmentOffset", 9, []tf{{88, []byte{0x01, 0x02}}}, func(f *record.Flow) { f.IPFragmentOffset = 0x102 }},
	{"89 forwardingStatus", 9, []tf{{89, []byte{0x40}}}, func(f *record.Flow) { f.ForwardingStatus = 0x40 }},
	{"139 icmpTypeCodeIPv6", 9, []tf{{139, []byte{128, 0}}}, func(f *record.Flow) { f.ICMPType = 128 }},
	{"150 flowStartSeconds", 9, []tf{{150, []byte{0x60, 0, 0, 1}}}, func(f *record.Flow) { f.TimeFlowStart = 0x60000001 * 1000 }},
	{"151 flowEndSeconds", 9, []tf{{151, []byte{0x60, 0, 0, 2}}}, func(f *record.Flow) { f.TimeFlowEnd = 0x60000002 * 1000 }},
	{"152 flowStartMilliseconds", 9, []tf{{152, []byte{0, 0, 0, 0, 0, 0, 0x12, 0x34}}}, func(f *record.Flow) { f.TimeFlowStart = 0x1234 }},
	{"153 flowEndMilliseconds", 9, []tf{{153, []byte{0, 0, 0, 0, 0, 0, 0x12, 0x35}}}, func(f *record.Flow) { f.TimeFlowEnd = 0x1235 }},
	{"154 flowStartMicroseconds", 9, []tf{{154, []byte{0x83, 0xaa, 0x7e, 0x81, 0x80, 0, 0, 0}}}, func(f *record.Flow) { f.TimeFlowStart = 1500 }},
	{"155 flowEndMicroseconds", 9, []tf{{155, []byte{0x83, 0xaa, 0x7e, 0x82, 0x40, 0, 0, 0}}}, func(f *record.Flow) { f.TimeFlowEnd = 2250 }},
	{"156 flowStartNanoseconds", 9, []tf{{156, []byte{0x83, 0xaa, 0x7e, 0x83, 0, 0, 0, 0}}}, func(f *record.Flow) { f.TimeFlowStart = 3000 }},
	{"157 flowEndNanoseconds", 9, []tf{{157, []byte{0x83, 0xaa, 0x7e, 0x84, 0, 0, 0, 0}}}, func(f *record.Flow) { f.TimeFlowEnd = 4000 }},
	{"158 flowStartDeltaMicroseconds", 9, []tf{{158, []byte{0, 0, 0x27, 0x10}}}, func(f *record.Flow) { f.TimeFlowStart = 0x60000000*1000 - 10 }},
	{"159 flowEndDeltaMicroseconds", 9, []tf{{159, []byte{0, 0, 0x13, 0x88}}}, func(f *record.Flow) { f.TimeFlowEnd = 0x60000000*1000 - 5 }},
	{"161 flowDurationMilliseconds", 9, []tf{{152, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}}, {161, []byte{0, 0, 0, 10}}},
		func(f *record.Flow) { f.TimeFlowStart, f.TimeFlowEnd = 0x1000, 0x100a }},
	{"162 flowDurationMicroseconds", 9, []tf{{153, []byte{0, 0, 0, 0, 0, 0, 0x10, 0}}, {162, []byte{0, 0, 0x4e, 0x20}}},
		func(f *record.Flow) { f.TimeFlowStart, f.TimeFlowEnd = 0x1000-20, 0x1000 }},
	{"176 icmpTypeIPv4", 9, []tf{{176, []byte{8}}}, func(f *record.Flow) { f.ICMPType = 8 }},
	{"177 icmpCodeIPv4", 9, []tf{{177, []byte{2}}}, func(f *record.Flow) { f.ICMPCode = 2 }},
	{"178 icmpTypeIPv6", 9, []tf{{178, []byte{135}}}, func(f *record.Flow) { f.ICMPType = 135 }},
	{"179 icmpCodeIPv6", 9, []tf{{179, []byte{1}}}, func(f *record.Flow) { f.ICMPCode = 1 }},
	{"192 ipTTL", 9, []tf{{53, []byte{60}}, {192, []byte{64}}}, func(f *record.Flow) { f.IPTTL = 64 }},
	{"225 postNATSourceIPv4Address", 9, []tf{{225, []byte{203, 0, 113, 1}}}, func(f *record.Flow) { f.SrcAddrNAT = addr4("203.0.113.1") }},
	{"226 postNATDestinationIPv4Address", 9, []tf{{226, []byte{203, 0, 113, 2}}}, func(f *record.Flow) { f.DstAddrNAT = addr4("203.0.113.2") }},
	{"227 postNAPTSourceTransportPort", 9, []tf{{227, []byte{0x10, 0}}}, func(f *record.Flow) { f.SrcPortNAT = 0x1000 }},
	{"228 postNAPTDestinationTransportPort", 9, []tf{{228, []byte{0x10, 1}}}, func(f *record.Flow) { f.DstPortNAT = 0x1001 }},
	{"234 ingressVRFID", 9, []tf{{234, []byte{0, 0, 0, 12}}}, func(f *record.Flow) { f.IngressVRFID = 12 }},
	{"235 egressVRFID", 9, []tf{{235, []byte{0, 0, 0, 13}}}, func(f *record.Flow) { f.EgressVRFID = 13 }},
	{"243 dot1qVlanId", 9, []tf{{243, []byte{0x10, 0x66}}}, func(f *record.Flow) { f.SrcVlan = 102 }},
	{"252 ingressPhysicalInterface", 9, []tf{{252, []byte{0, 0, 0, 21}}}, func(f *record.Flow) { f.InIfIndex = 21 }},
	{"253 egressPhysicalInterface", 9, []tf{{253, []byte{0, 0, 0, 22}}}, func(f *record.Flow) { f.OutIfIndex = 22 }},
	{"254 postDot1qVlanId", 9, []tf{{254, []byte{0x10, 0x67}}}, func(f *record.Flow) { f.DstVlan = 103 }},
	{"256 ethernetType", 9, []tf{{60, []byte{4}}, {256, []byte{0x88, 0x47}}}, func(f *record.Flow) { f.EType = 0x8847 }},
	{"281 postNATSourceIPv6Address", 9, []tf{{281, a16("2001:db8::a")}}, func(f *record.Flow) { f.SrcAddrNAT = addr("2001:db8::a") }},
	{"282 postNATDestinationIPv6Address", 9, []tf{{282, a16("2001:db8::b")}}, func(f *record.Flow) { f.DstAddrNAT = addr("2001:db8::b") }},
	{"302 selectorId", 9, []tf{{302, []byte{0, 9}}}, func(f *record.Flow) { f.SamplerID = 9 }},
	{"305 samplingPacketInterval", 9, []tf{{305, []byte{0, 0, 0, 2}}}, func(f *record.Flow) { f.SamplingRate = 1 }},
	{"305, 306 samplingPacketSpace", 9, []tf{{305, []byte{0, 0, 0, 1}}, {306, []byte{0, 0, 0, 99}}}, func(f *record.Flow) { f.SamplingRate = 100 }},
	{"309, 310 samplingSize, samplingPopulation", 9, []tf{{309, []byte{0, 0, 0, 2}}, {310, []byte{0, 0, 0, 64}}}, func(f *record.Flow) { f.SamplingRate = 32 }},
	{"40001 NSEL xlate source IPv4", 9, []tf{{40001, []byte{203, 0, 113, 3}}}, func(f *record.Flow) { f.SrcAddrNAT = addr4("203.0.113.3") }},
	{"40002 NSEL xlate destination IPv4", 9, []tf{{40002, []byte{203, 0, 113, 4}}}, func(f *record.Flow) { f.DstAddrNAT = addr4("203.0.113.4") }},
	{"40003 NSEL xlate source port", 9, []tf{{40003, []byte{0x20, 0}}}, func(f *record.Flow) { f.SrcPortNAT = 0x2000 }},
	{"40004 NSEL xlate destination port", 9, []tf{{40004, []byte{0x20, 1}}}, func(f *record.Flow) { f.DstPortNAT = 0x2001 }},
	{"231 initiatorOctets", 9, []tf{{231, []byte{0, 0, 4, 0}}}, func(f *record.Flow) { f.Bytes = 1024 }},
	{"298 initiatorPackets", 9, []tf{{298, []byte{0, 0, 0, 0, 0, 0, 0, 12}}}, func(f *record.Flow) { f.Packets = 12 }},
	{"233 firewallEvent", 10, []tf{{233, []byte{2}}}, func(f *record.Flow) { f.FirewallEvent = 2 }},
	{"40005 NSEL NF_F_FW_EVENT", 9, []tf{{40005, []byte{3}}}, func(f *record.Flow) { f.FirewallEvent = 3 }},
	{"33002 NSEL NF_F_FW_EXT_EVENT", 9, []tf{{33002, []byte{0x07, 0xe9}}}, func(f *record.Flow) { f.FirewallExtEvent = 2025 }},
	{"33000 NSEL NF_F_INGRESS_ACL_ID", 9, []tf{{33000, []byte{0x0f, 0x8e, 0x7f, 0xf3, 0xfc, 0x1a, 0x03, 0x0f, 0, 0, 0, 1}}},
		func(f *record.Flow) { f.IngressACL, f.IngressACE, f.IngressACEExt = 0x0f8e7ff3, 0xfc1a030f, 1 }},
	{"33001 NSEL NF_F_EGRESS_ACL_ID", 9, []tf{{33001, []byte{0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7}}},
		func(f *record.Flow) { f.EgressACL, f.EgressACE, f.EgressACEExt = 5, 6, 7 }},
}

// reverseElements make a reverse record alone (so no fieldCases entry,
// which wants one record): NSEL's responderOctets and responderPackets,
// tested by TestNSELResponderReverseRecord.
var reverseElements = []uint16{232, 299}

// TestFieldElements: each element extraction reads sets the record field
// it should, and nothing else (fieldCases).
func TestFieldElements(t *testing.T) {
	for _, tc := range fieldCases {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := decodeOne(t, singleRecord(tc.version, tf{ignoredIE, []byte{1}}))
			if !ok {
				t.Fatal("no baseline record")
			}
			tc.want(&want)
			got, ok := decodeOne(t, singleRecord(tc.version, tc.fields...))
			if !ok {
				t.Fatal("no record")
			}
			if got != want {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestFieldElementsComplete: every element that changes a record, alone in
// a template, has a case in fieldCases, so that a mistyped element number
// in the extraction shows. Every element number is tried, in NetFlow v9
// (no enterprise bit), with values of the lengths an integer, a MAC and an
// IPv6 address take.
func TestFieldElementsComplete(t *testing.T) {
	covered := map[uint16]bool{}
	for _, ie := range reverseElements {
		covered[ie] = true
	}
	for _, tc := range fieldCases {
		for _, f := range tc.fields {
			covered[f.ie] = true
		}
	}
	base, _ := decodeOne(t, singleRecord(9, tf{ignoredIE, []byte{1}}))
	values := [][]byte{{1, 2, 3, 4}, {1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}
	d := New(Config{})
	for ie := range 1 << 16 {
		if covered[uint16(ie)] {
			continue
		}
		for _, v := range values {
			var got record.Flow
			if _, err := d.Decode(testExporter, 1, singleRecord(9, tf{uint16(ie), v}), func(f *record.Flow) { got = *f }); err != nil {
				t.Fatalf("element %d: %v", ie, err)
			}
			if got != base {
				t.Errorf("element %d (%d bytes) changes the record but has no case in fieldCases", ie, len(v))
			}
		}
	}
}

// a16 is an IPv6 address's 16 bytes.
func a16(s string) []byte { a := addr(s); return a[:] }

// BenchmarkExtractFields decodes an IPFIX datagram of 30 records, 10 for
// each of three templates as routers and firewalls send them: IPv4 (24
// fields), IPv6 (22 fields) and NAT (20 fields). It needs no corpus, and
// spends most of its time in field extraction. Reports ns per record.
func BenchmarkExtractFields(b *testing.B) {
	u := func(n int, v uint64) []byte {
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], v)
		return buf[8-n:]
	}
	common := []tf{
		{7, u(2, 50000)}, {11, u(2, 443)}, {4, u(1, 6)}, {6, u(1, 0x18)}, {5, u(1, 0)},
		{10, u(4, 3)}, {14, u(4, 4)}, {1, u(8, 1500)}, {2, u(8, 3)},
		{152, u(8, 1700000000000)}, {153, u(8, 1700000001000)},
		{16, u(4, 64500)}, {17, u(4, 64501)}, {61, u(1, 0)}, {89, u(1, 0x40)},
	}
	templates := [][]tf{
		append([]tf{{8, []byte{192, 0, 2, 1}}, {12, []byte{198, 51, 100, 2}}, {9, u(1, 24)}, {13, u(1, 24)},
			{15, []byte{10, 0, 0, 1}}, {18, []byte{10, 0, 0, 2}}, {58, u(2, 100)}, {56, u(6, 0x0203040506)}, {80, u(6, 0x0708090a0b)}}, common...),
		append([]tf{{27, a16("2001:db8::1")}, {28, a16("2001:db8::2")}, {29, u(1, 48)}, {30, u(1, 48)},
			{62, a16("2001:db8::fe")}, {31, u(4, 0x12345)}, {192, u(1, 64)}}, common...),
		append([]tf{{8, []byte{192, 0, 2, 1}}, {12, []byte{198, 51, 100, 2}}, {225, []byte{203, 0, 113, 1}}, {226, []byte{203, 0, 113, 2}},
			{227, u(2, 1024)}}, common...),
	}
	be16 := binary.BigEndian.AppendUint16
	var sets [][]byte
	for i, fields := range templates {
		id := uint16(256 + i)
		tmpl := be16(be16(nil, id), uint16(len(fields)))
		var rec []byte
		for _, f := range fields {
			tmpl = be16(be16(tmpl, f.ie), uint16(len(f.v)))
			rec = append(rec, f.v...)
		}
		sets = append([][]byte{set(2, tmpl...)}, sets...)
		data := make([]byte, 0, 10*len(rec))
		for range 10 {
			data = append(data, rec...)
		}
		sets = append(sets, set(id, data...))
	}
	d := New(Config{})
	if st, err := d.Decode(testExporter, 1, ipfixMessage(sets...), noEmit); err != nil || st.Flows != 30 {
		b.Fatalf("%+v, %v: want 30 records", st, err)
	}
	benchmarkDecode(b, d, [][]byte{ipfixMessage(sets[3:]...)}) // the data sets alone
}
