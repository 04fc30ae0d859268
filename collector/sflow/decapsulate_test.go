package sflow

import (
	"encoding/binary"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sluice/internal/pcap"
	"sluice/internal/testenv"
	"sluice/internal/tshark"
	"sluice/pipeline/record"
)

// Packet builders for the tunnels, written from the RFCs.

func ethernet(dst, src uint64, vlan uint16, etherType uint16, payload []byte) []byte {
	b := make([]byte, 0, 18+len(payload))
	b = binary.BigEndian.AppendUint64(b, dst<<16)[:6]
	b = binary.BigEndian.AppendUint64(b, src<<16)[:12]
	if vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, vlan)
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

func udp(src, dst uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	return append(append(b, 0, 0), payload...)
}

func tcp(src, dst uint16, flags uint8) []byte {
	b := binary.BigEndian.AppendUint16(nil, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return b
}

func ip(src, dst string, proto uint8, payload []byte) []byte {
	return pcap.AppendIP(nil, netip.MustParseAddr(src), netip.MustParseAddr(dst), proto, 64, payload)
}

// vxlan is RFC 7348's header: the I flag and a 24-bit VNI.
func vxlan(vni uint32, frame []byte) []byte {
	return append([]byte{vxlanFlagI, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, frame...)
}

// gre is RFC 2784's header, with RFC 2890's key and sequence number when
// given and a (zero) checksum when sum is set.
func gre(protocol uint16, sum bool, key, seq *uint32, payload []byte) []byte {
	var flags uint16
	var opt []byte
	if sum {
		flags |= greFlagChecksum
		opt = append(opt, 0, 0, 0, 0)
	}
	if key != nil {
		flags |= greFlagKey
		opt = binary.BigEndian.AppendUint32(opt, *key)
	}
	if seq != nil {
		flags |= greFlagSequence
		opt = binary.BigEndian.AppendUint32(opt, *seq)
	}
	b := binary.BigEndian.AppendUint16(nil, flags)
	b = binary.BigEndian.AppendUint16(b, protocol)
	return append(append(b, opt...), payload...)
}

// sflowDatagram is an sFlow v5 datagram from agent 192.0.2.1 with one flow
// sample (format 1) per header, each holding one sampled header record of
// protocol 1 (Ethernet).
func sflowDatagram(headers ...[]byte) []byte {
	w := func(b []byte, v ...uint32) []byte {
		for _, x := range v {
			b = binary.BigEndian.AppendUint32(b, x)
		}
		return b
	}
	b := w(nil, 5, 1, 0xc0000201, 0, 1, 1000, uint32(len(headers)))
	for i, h := range headers {
		padded := append(append([]byte(nil), h...), make([]byte, (4-len(h)%4)%4)...)
		record := w(nil, 1, uint32(len(h))+4, 4, uint32(len(h)))
		record = append(record, padded...)
		sample := w(nil, uint32(i+1), 3, 100, uint32(100*(i+1)), 0, 3, 5, 1)
		sample = w(sample, 1, uint32(len(record)))
		sample = append(sample, record...)
		b = w(b, 1, uint32(len(sample)))
		b = append(b, sample...)
	}
	return b
}

type tunnelCase struct {
	name   string
	header []byte
	tunnel Decapsulation // 0: not a tunnel sluice reads
	inner6 bool          // the inner packet is IPv6
	want   record.Flow   // the fields of the inner packet
}

func tunnelCases() []tunnelCase {
	key, seq := uint32(0xabcdef01), uint32(42)
	innerTCP4 := ip("192.168.1.10", "192.168.2.20", 6, tcp(40000, 443, 0x02))
	innerTCP6 := ip("2001:db8:1::10", "2001:db8:2::20", 6, tcp(40001, 22, 0x12))
	innerUDP6 := ip("2001:db8:1::53", "2001:db8:2::1", 17, udp(53, 33333, make([]byte, 20)))
	innerICMP := ip("172.16.0.1", "172.16.0.2", 1, []byte{8, 0, 0, 0, 0, 1, 0, 1})
	outerMACs := func(b []byte) []byte { return ethernet(0x0a0000000001, 0x0a0000000002, 100, 0x0800, b) }
	outerMACs6 := func(b []byte) []byte { return ethernet(0x0a0000000001, 0x0a0000000002, 0, 0x86dd, b) }
	return []tunnelCase{
		{
			name:   "VXLAN over IPv4, inner tagged IPv4 TCP",
			header: outerMACs(ip("10.0.0.1", "10.0.0.2", 17, udp(49152, vxlanPort, vxlan(5000, ethernet(0x020000000001, 0x020000000002, 20, 0x0800, innerTCP4))))),
			tunnel: DecapsulateVXLAN,
			want: record.Flow{EType: 0x0800, SrcAddr: addr4("192.168.1.10"), DstAddr: addr4("192.168.2.20"), Proto: 6, SrcPort: 40000, DstPort: 443,
				TCPFlags: 0x02, IPTTL: 64, DstMAC: 0x020000000001, SrcMAC: 0x020000000002, SrcVlan: 20, Bytes: uint64(len(innerTCP4))},
		},
		{
			name:   "VXLAN over IPv6, inner IPv6 UDP",
			header: outerMACs6(ip("2001:db8::1", "2001:db8::2", 17, udp(49153, vxlanPort, vxlan(77, ethernet(0x020000000003, 0x020000000004, 0, 0x86dd, innerUDP6))))),
			tunnel: DecapsulateVXLAN, inner6: true,
			want: record.Flow{EType: 0x86dd, SrcAddr: addr("2001:db8:1::53"), DstAddr: addr("2001:db8:2::1"), Proto: 17, SrcPort: 53, DstPort: 33333,
				IPTTL: 64, DstMAC: 0x020000000003, SrcMAC: 0x020000000004, Bytes: uint64(len(innerUDP6))},
		},
		{
			name:   "GRE over IPv4, inner IPv4 ICMP",
			header: outerMACs(ip("10.0.0.1", "10.0.0.3", protoGRE, gre(0x0800, false, nil, nil, innerICMP))),
			tunnel: DecapsulateGRE,
			want: record.Flow{EType: 0x0800, SrcAddr: addr4("172.16.0.1"), DstAddr: addr4("172.16.0.2"), Proto: 1, ICMPType: 8, IPTTL: 64,
				DstMAC: 0x0a0000000001, SrcMAC: 0x0a0000000002, SrcVlan: 100, Bytes: uint64(len(innerICMP))},
		},
		{
			name:   "GRE with checksum, key and sequence over IPv4, inner IPv6 TCP",
			header: outerMACs(ip("10.0.0.1", "10.0.0.4", protoGRE, gre(0x86dd, true, &key, &seq, innerTCP6))),
			tunnel: DecapsulateGRE, inner6: true,
			want: record.Flow{EType: 0x86dd, SrcAddr: addr("2001:db8:1::10"), DstAddr: addr("2001:db8:2::20"), Proto: 6, SrcPort: 40001, DstPort: 22,
				TCPFlags: 0x12, IPTTL: 64, DstMAC: 0x0a0000000001, SrcMAC: 0x0a0000000002, SrcVlan: 100, Bytes: uint64(len(innerTCP6))},
		},
		{
			name:   "GRE with key over IPv6, transparent Ethernet bridging",
			header: outerMACs6(ip("2001:db8::1", "2001:db8::5", protoGRE, gre(etherTypeTransparentBridging, false, &key, nil, ethernet(0x020000000005, 0x020000000006, 0, 0x0800, innerTCP4)))),
			tunnel: DecapsulateGRE,
			want: record.Flow{EType: 0x0800, SrcAddr: addr4("192.168.1.10"), DstAddr: addr4("192.168.2.20"), Proto: 6, SrcPort: 40000, DstPort: 443,
				TCPFlags: 0x02, IPTTL: 64, DstMAC: 0x020000000005, SrcMAC: 0x020000000006, Bytes: uint64(len(innerTCP4))},
		},
		{
			name:   "plain UDP is no tunnel",
			header: outerMACs(ip("10.0.0.1", "10.0.0.9", 17, udp(1234, 53, make([]byte, 12)))),
			want: record.Flow{EType: 0x0800, SrcAddr: addr4("10.0.0.1"), DstAddr: addr4("10.0.0.9"), Proto: 17, SrcPort: 1234, DstPort: 53, IPTTL: 64,
				DstMAC: 0x0a0000000001, SrcMAC: 0x0a0000000002, SrcVlan: 100, Bytes: 40},
		},
	}
}

func decodeOne(t *testing.T, d *Decoder, payload []byte) ([]record.Flow, Stats) {
	t.Helper()
	var flows []record.Flow
	stats, err := d.Decode(addr4("127.0.0.1"), 1, payload, func(f *record.Flow) { flows = append(flows, *f) })
	if err != nil {
		t.Fatal(err)
	}
	return flows, stats
}

// With decapsulation on, each record describes the tunnel's inner packet;
// off, the outer one; what is no tunnel is the same either way.
func TestDecapsulation(t *testing.T) {
	cases := tunnelCases()
	var headers [][]byte
	for _, tc := range cases {
		headers = append(headers, tc.header)
	}
	payload := sflowDatagram(headers...)

	on, stats := decodeOne(t, New(Config{Decapsulate: DecapsulateVXLAN | DecapsulateGRE}), payload)
	off, _ := decodeOne(t, New(Config{}), payload)
	if len(on) != len(cases) || len(off) != len(cases) {
		t.Fatalf("%d and %d flows, want %d", len(on), len(off), len(cases))
	}
	if stats.DecapsulatedVXLAN != 2 || stats.DecapsulatedGRE != 3 {
		t.Errorf("stats %+v, want 2 VXLAN and 3 GRE", stats)
	}
	for i, tc := range cases {
		got := on[i]
		want := tc.want
		// The sample's own fields.
		want.TimeReceived, want.TimeFlowStart, want.TimeFlowEnd = got.TimeReceived, got.TimeFlowStart, got.TimeFlowEnd
		want.FlowType, want.ExporterAddress, want.SamplingRate, want.Packets = record.FlowTypeSFlowV5, addr4("192.0.2.1"), 100, 1
		want.InIfIndex, want.OutIfIndex = 3, 5
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, want)
		}
		outerIsInner := tc.tunnel == 0
		if (off[i] == got) != outerIsInner {
			t.Errorf("%s: decapsulation off gives %+v", tc.name, off[i])
		}
	}

	// One kind enabled leaves the other encapsulated.
	vxlanOnly, stats := decodeOne(t, New(Config{Decapsulate: DecapsulateVXLAN}), payload)
	if stats.DecapsulatedVXLAN != 2 || stats.DecapsulatedGRE != 0 || vxlanOnly[2] != off[2] || vxlanOnly[0] != on[0] {
		t.Errorf("VXLAN only: stats %+v", stats)
	}
}

// A tunnel header cut short keeps the outer packet and counts the header
// as truncated; an inner packet cut short is the inner packet's truncation.
func TestDecapsulationTruncated(t *testing.T) {
	full := tunnelCases()[0].header
	vxlanStart := 18 + 20 + 8 // Ethernet with tag, IPv4, UDP
	for _, cut := range []int{vxlanStart + 4, vxlanStart + 8 + 10} {
		flows, stats := decodeOne(t, New(Config{Decapsulate: DecapsulateVXLAN}), sflowDatagram(full[:cut]))
		if stats.HeadersTruncated != 1 {
			t.Errorf("cut at %d: stats %+v, want 1 truncated", cut, stats)
		}
		f := flows[0]
		switch {
		case cut < vxlanStart+8 && (f.DstPort != vxlanPort || stats.DecapsulatedVXLAN != 0):
			t.Errorf("cut in the VXLAN header: want the outer packet, got %+v", f)
		case cut > vxlanStart+8 && (f.DstPort != 0 || f.SrcAddr != (record.Addr{}) || stats.DecapsulatedVXLAN != 1):
			t.Errorf("cut in the inner frame: want the inner packet's fields only, got %+v", f)
		}
	}
}

func TestParseDecapsulation(t *testing.T) {
	if d, err := ParseDecapsulation([]string{"gre", "vxlan"}); err != nil || d != DecapsulateGRE|DecapsulateVXLAN {
		t.Fatalf("got %v, %v", d, err)
	}
	if _, err := ParseDecapsulation([]string{"erspan"}); err == nil {
		t.Fatal("erspan accepted")
	}
}

// tshark decodes the same datagrams (VXLAN on UDP 4789 and GRE natively):
// the last occurrence of each field in a frame is the innermost packet's,
// and it is what sluice records with decapsulation on.
func TestDecapsulationMatchesTshark(t *testing.T) {
	bin := testenv.Tshark(t)
	cases := tunnelCases()
	path := filepath.Join(t.TempDir(), "tunnels.pcap")
	src, dst := netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("192.0.2.100:6343")
	var datagrams [][]byte
	for _, tc := range cases {
		datagrams = append(datagrams, sflowDatagram(tc.header))
	}
	if err := pcap.WriteUDPFile(path, src, dst, datagrams); err != nil {
		t.Fatal(err)
	}
	lines := tsharkInnermost(t, bin, path)
	if len(lines) != len(cases) {
		t.Fatalf("tshark printed %d frames, want %d", len(lines), len(cases))
	}
	d := New(Config{Decapsulate: DecapsulateVXLAN | DecapsulateGRE})
	compared := 0
	for i, tc := range cases {
		flows, _ := decodeOne(t, d, sflowDatagram(tc.header))
		compared += compareInnermost(t, tc.name, &flows[0], lines[i])
	}
	if compared < 50 {
		t.Errorf("compared %d values with tshark", compared)
	}
}

// The corpus holds one VXLAN capture (IPv6 ICMPv6 inside, per tshark).
func TestDecapsulationCorpusMatchesTshark(t *testing.T) {
	bin := testenv.Tshark(t)
	const file = "akvorado__sflow-encap-vxlan.pcap"
	path := filepath.Join(corpusDir(t), file)
	lines := tsharkInnermost(t, bin, path)
	d := New(Config{Decapsulate: DecapsulateVXLAN})
	var flows []record.Flow
	for _, dg := range corpusDatagrams(t, file) {
		stats, err := d.Decode(record.AddrFromSlice(dg.Src.AsSlice()), dg.Timestamp, dg.Payload, func(f *record.Flow) { flows = append(flows, *f) })
		if err != nil || stats.DecapsulatedVXLAN != 1 {
			t.Fatalf("stats %+v, err %v: want one VXLAN sample", stats, err)
		}
	}
	if len(flows) != len(lines) || flows[0].EType != 0x86dd || flows[0].Proto != 58 {
		t.Fatalf("%d flows (%+v) for %d frames", len(flows), flows, len(lines))
	}
	for i := range flows {
		compareInnermost(t, file, &flows[i], lines[i])
	}
}

var innermostFields = []string{"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "eth.src", "eth.dst", "ip.len", "ipv6.plen",
	"ip.proto", "ipv6.nxt", "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport", "icmp.type", "icmpv6.type", "vlan.id"}

// tsharkInnermost returns, for each frame of a capture of one-sample sFlow
// datagrams, the last occurrence of each of innermostFields: the innermost
// packet's value.
func tsharkInnermost(t *testing.T, bin, path string) []map[string]string {
	t.Helper()
	args := []string{"-r", path, "-n", "-d", "udp.port==6343,sflow", "-T", "fields", "-E", "occurrence=l"}
	for _, f := range innermostFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var frames []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		values := strings.Split(line, "\t")
		last := map[string]string{}
		for j, name := range innermostFields {
			last[name] = values[j]
		}
		frames = append(frames, last)
	}
	return frames
}

// compareInnermost compares a decapsulated record with tshark's innermost
// values and returns how many values it compared.
func compareInnermost(t *testing.T, name string, f *record.Flow, last map[string]string) int {
	t.Helper()
	number := func(field string) string {
		v, err := strconv.ParseUint(last[field], 0, 64)
		if err != nil {
			t.Fatalf("%s: tshark %s = %q", name, field, last[field])
		}
		return u(v)
	}
	compared := 0
	check := func(field, want, got string) {
		compared++
		if want != got {
			t.Errorf("%s: %s = %s, tshark says %s", name, field, got, want)
		}
	}
	if f.EType == 0x86dd {
		check("SrcAddr", tshark.Addr(last["ipv6.src"]), f.SrcAddr.String())
		check("DstAddr", tshark.Addr(last["ipv6.dst"]), f.DstAddr.String())
		check("Proto", number("ipv6.nxt"), u(uint64(f.Proto)))
		plen, _ := strconv.ParseUint(number("ipv6.plen"), 10, 64)
		check("Bytes", u(plen+40), u(f.Bytes))
	} else {
		check("SrcAddr", tshark.Addr(last["ip.src"]), f.SrcAddr.String())
		check("DstAddr", tshark.Addr(last["ip.dst"]), f.DstAddr.String())
		check("Proto", number("ip.proto"), u(uint64(f.Proto)))
		check("Bytes", number("ip.len"), u(f.Bytes))
	}
	check("SrcMAC", tshark.MAC(last["eth.src"]), u(f.SrcMAC))
	check("DstMAC", tshark.MAC(last["eth.dst"]), u(f.DstMAC))
	switch f.Proto {
	case 6:
		check("SrcPort", number("tcp.srcport"), u(uint64(f.SrcPort)))
		check("DstPort", number("tcp.dstport"), u(uint64(f.DstPort)))
		check("TCPFlags", number("tcp.flags"), u(uint64(f.TCPFlags)))
	case 17:
		check("SrcPort", number("udp.srcport"), u(uint64(f.SrcPort)))
		check("DstPort", number("udp.dstport"), u(uint64(f.DstPort)))
	case 1:
		check("ICMPType", number("icmp.type"), u(uint64(f.ICMPType)))
	case 58:
		check("ICMPType", number("icmpv6.type"), u(uint64(f.ICMPType)))
	}
	if f.SrcVlan != 0 || last["vlan.id"] != "" {
		check("SrcVlan", number("vlan.id"), u(uint64(f.SrcVlan)))
	}
	return compared
}
