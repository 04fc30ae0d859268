package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
)

// Expected values come from tshark 4.x on each file:
//
//	tshark -r F -Y 'udp && !(ip.flags.mf==1) && ip.frag_offset==0' | wc -l   (datagrams)
//	tshark -r F -Y udp -T fields -e udp.length   (first value per frame, minus 8: payload bytes)
//	tshark -r F -c1 -T fields -e udp.dstport      (first destination port)
var corpusFiles = []struct {
	name         string
	datagrams    int
	payloadBytes int
	dstPort      uint16
}{
	{"akvorado__icmp-port2100.pcap", 2, 600, 2100},
	{"akvorado__ipfix-datalink.pcap", 2, 190, 2055},
	{"akvorado__ipfix-eompls-cw.pcap", 2, 1464, 2055},
	{"akvorado__ipfix-juniper-cpid.pcap", 2, 264, 2055},
	{"akvorado__ipfix-mpls.pcap", 1, 716, 2055},
	{"akvorado__ipfix-srv6.pcap", 2, 194, 2055},
	{"akvorado__ipfixprobe.pcap", 2, 540, 4739},
	{"akvorado__multiplesamplingrates.pcap", 4, 1656, 2055},
	{"akvorado__nat.pcap", 1, 512, 2055},
	{"akvorado__nfv5.pcap", 1, 1416, 9990},
	{"akvorado__nfv9-data+templates.pcap", 1, 1416, 2055},
	{"akvorado__nfv9-options-sampling.pcap", 4, 672, 2055},
	{"akvorado__nfv9-template-data.pcap", 2, 404, 2055},
	{"akvorado__physicalinterfaces.pcap", 1, 1348, 2055},
	{"akvorado__samplingrate-port8096.pcap", 2, 528, 8096},
	{"akvorado__sflow-1140.pcap", 1, 1208, 6343},
	{"akvorado__sflow-discard-interface.pcap", 1, 1208, 6343},
	{"akvorado__sflow-encap-vxlan.pcap", 1, 244, 6343},
	{"akvorado__sflow-icmpv4.pcap", 1, 216, 6343},
	{"akvorado__sflow-icmpv6.pcap", 1, 204, 6343},
	{"akvorado__sflow-local-interface.pcap", 1, 1208, 6343},
	{"akvorado__sflow-multiple-interfaces.pcap", 1, 1208, 6343},
	{"akvorado__sflow-qinq.pcap", 1, 208, 6343},
	{"akvorado__sflow-sflow-expanded-sample.pcap", 1, 328, 6343},
	{"akvorado__sflow-sflow-ipv4-data.pcap", 1, 328, 6343},
	{"akvorado__sflow-sflow-raw-ipv4.pcap", 1, 220, 6343},
	{"logstash__ipfix-barracuda-ext-uniflow.pcap", 2, 484, 4739},
	{"logstash__ipfix-generic.pcap", 1, 788, 4739},
	{"logstash__ipfix-juniper-mx240.pcap", 2, 152, 4739},
	{"logstash__ipfix-netscaler-varlen.pcap", 2, 2765, 4739},
	{"logstash__ipfix-openbsd-pflow.pcap", 2, 1548, 4739},
	{"logstash__ipfix-viptela.pcap", 2, 248, 4739},
	{"logstash__ipfix-yaf.pcap", 5, 1594, 4739},
	{"logstash__nf5-invalid.pcap", 2, 2928, 2055},
	{"logstash__nf5-mikrotik.pcap", 1, 1464, 2055},
	{"logstash__nf9-cisco-1941k9.pcap", 1, 1368, 2055},
	{"logstash__nf9-cisco-asa-1.pcap", 2, 2464, 2055},
	{"logstash__nf9-cisco-asr1001x.pcap", 1, 1468, 2055},
	{"logstash__nf9-cisco-nbar.pcap", 3, 1916, 2055},
	{"logstash__nf9-cisco-wlc8510-tpl.pcap", 1, 168, 2055},
	{"logstash__nf9-fortigate-542-appid.pcap", 2, 2352, 2055},
	{"logstash__nf9-h3c.pcap", 2, 1500, 2055},
	{"logstash__nf9-invalid01.pcap", 1, 292, 2055},
	{"logstash__nf9-juniper-srx-optstpl.pcap", 1, 148, 2055},
	{"logstash__nf9-macaddr.pcap", 2, 880, 2055},
	{"logstash__nf9-paloalto-81.pcap", 2, 2112, 2055},
	{"logstash__nf9-softflowd.pcap", 1, 460, 2055},
	{"logstash__nf9-ubnt-edgerouter.pcap", 3, 1364, 2055},
	{"logstash__nf9-valid01.pcap", 1, 460, 2055},
	{"lssflow__counters-1.pcap", 1, 144, 6343},
	{"lssflow__flow-sample-eth-vlan.pcap", 1, 152, 6343},
	{"lssflow__lag-counters.pcap", 1, 1396, 6343},
	{"telegraf__ipfix-example.pcap", 7, 4138, 4739},
	{"telegraf__ipfix-options.pcap", 9, 10660, 4739},
	{"telegraf__ipfix-pen35632-ntop.pcap", 4, 1872, 4739},
	{"telegraf__issue14370.pcap", 1, 292, 2055},
	{"telegraf__nf5-example.pcap", 1, 408, 2055},
	{"telegraf__nf9-example.pcap", 1, 508, 2055},
	{"telegraf__nf9-options.pcap", 1, 934, 2055},
	{"telegraf__sflow-drop-1036.pcap", 1, 80, 6343},
	{"telegraf__sflow-example.pcap", 1, 160, 6343},
	{"telegraf__sflow-issue15918.pcap", 1, 1396, 6343},
	{"telegraf__sflow-issue18876.pcap", 1, 208, 6343},
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	for _, tc := range corpusFiles {
		t.Run(tc.name, func(t *testing.T) {
			datagrams, skipped, err := ReadFile(filepath.Join(dir, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if len(datagrams) != tc.datagrams {
				t.Errorf("datagrams = %d, tshark says %d (skipped %+v)", len(datagrams), tc.datagrams, skipped)
			}
			total := 0
			for _, dg := range datagrams {
				total += len(dg.Payload)
			}
			if total != tc.payloadBytes {
				t.Errorf("payload bytes = %d, tshark says %d", total, tc.payloadBytes)
			}
			if len(datagrams) > 0 && datagrams[0].DstPort != tc.dstPort {
				t.Errorf("first dst port = %d, tshark says %d", datagrams[0].DstPort, tc.dstPort)
			}
		})
	}
}

// TestNFv5Header checks addresses and the timestamp of akvorado__nfv5.pcap
// against tshark: `tshark -r F -T fields -e frame.time_epoch -e ip.src -e
// ip.dst -e udp.srcport` gives 1680655485.099595000, 10.19.144.41, 10.19.144.26, 40000.
func TestNFv5Header(t *testing.T) {
	dir := corpusDir(t)
	datagrams, _, err := ReadFile(filepath.Join(dir, "akvorado__nfv5.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dg := datagrams[0]
	want := Datagram{
		Timestamp: 1680655485099595000,
		Src:       netip.MustParseAddr("10.19.144.41"),
		Dst:       netip.MustParseAddr("10.19.144.26"),
		SrcPort:   40000,
		DstPort:   9990,
	}
	if dg.Timestamp != want.Timestamp || dg.Src != want.Src || dg.Dst != want.Dst || dg.SrcPort != want.SrcPort || dg.DstPort != want.DstPort {
		t.Errorf("got %+v, want %+v", dg, want)
	}
}

// buildCapture writes a capture with the given magic, byte order and link
// type holding the given frames.
func buildCapture(order binary.ByteOrder, magic uint32, linkType uint32, frames ...[]byte) []byte {
	var buf bytes.Buffer
	header := make([]byte, 24)
	order.PutUint32(header[0:], magic)
	order.PutUint16(header[4:], 2)
	order.PutUint16(header[6:], 4)
	order.PutUint32(header[16:], 65535)
	order.PutUint32(header[20:], linkType)
	buf.Write(header)
	for i, frame := range frames {
		rec := make([]byte, 16)
		order.PutUint32(rec[0:], 1000+uint32(i))
		order.PutUint32(rec[4:], 5)
		order.PutUint32(rec[8:], uint32(len(frame)))
		order.PutUint32(rec[12:], uint32(len(frame)))
		buf.Write(rec)
		buf.Write(frame)
	}
	return buf.Bytes()
}

func udpIPv4(payload []byte, flagsFrag uint16, proto byte) []byte {
	ip := make([]byte, 20+8+len(payload))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	binary.BigEndian.PutUint16(ip[6:], flagsFrag)
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:], []byte{192, 0, 2, 1})
	copy(ip[16:], []byte{198, 51, 100, 2})
	binary.BigEndian.PutUint16(ip[20:], 1234)
	binary.BigEndian.PutUint16(ip[22:], 2055)
	binary.BigEndian.PutUint16(ip[24:], uint16(8+len(payload)))
	copy(ip[28:], payload)
	return ip
}

func udpIPv6(payload []byte) []byte {
	ip := make([]byte, 40+8+len(payload))
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(8+len(payload)))
	ip[6] = 17
	ip[7] = 64
	copy(ip[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	copy(ip[24:], netip.MustParseAddr("2001:db8::2").AsSlice())
	binary.BigEndian.PutUint16(ip[40:], 1234)
	binary.BigEndian.PutUint16(ip[42:], 6343)
	binary.BigEndian.PutUint16(ip[44:], uint16(8+len(payload)))
	copy(ip[48:], payload)
	return ip
}

func ethernet(etherType uint16, vlans int, l3 []byte) []byte {
	frame := make([]byte, 12)
	for range vlans {
		frame = append(frame, 0x81, 0x00, 0x00, 0x64)
	}
	frame = binary.BigEndian.AppendUint16(frame, etherType)
	return append(frame, l3...)
}

func sll(etherType uint16, l3 []byte) []byte {
	frame := make([]byte, 14)
	frame = binary.BigEndian.AppendUint16(frame, etherType)
	return append(frame, l3...)
}

func TestFormats(t *testing.T) {
	payload := []byte("hello")
	cases := []struct {
		name     string
		order    binary.ByteOrder
		magic    uint32
		linkType uint32
		frames   [][]byte
		wantTS   int64
		want     int
		skipped  Skipped
	}{
		{"le-us-ethernet", binary.LittleEndian, 0xa1b2c3d4, LinkTypeEthernet,
			[][]byte{ethernet(0x0800, 0, udpIPv4(payload, 0, 17))}, 1000*1e9 + 5000, 1, Skipped{}},
		{"be-us-ethernet-qinq", binary.BigEndian, 0xa1b2c3d4, LinkTypeEthernet,
			[][]byte{ethernet(0x0800, 2, udpIPv4(payload, 0, 17))}, 1000*1e9 + 5000, 1, Skipped{}},
		{"le-ns-sll-ipv6", binary.LittleEndian, 0xa1b23c4d, LinkTypeLinuxSLL,
			[][]byte{sll(0x86dd, udpIPv6(payload))}, 1000*1e9 + 5, 1, Skipped{}},
		{"be-ns-raw", binary.BigEndian, 0xa1b23c4d, LinkTypeRaw,
			[][]byte{udpIPv4(payload, 0, 17), udpIPv6(payload)}, 1000*1e9 + 5, 2, Skipped{}},
		{"skips", binary.LittleEndian, 0xa1b2c3d4, LinkTypeEthernet,
			[][]byte{
				ethernet(0x0806, 0, make([]byte, 28)),             // ARP
				ethernet(0x0800, 0, udpIPv4(payload, 0x2000, 17)), // more fragments
				ethernet(0x0800, 0, udpIPv4(payload, 0, 6)),       // TCP
				ethernet(0x0800, 0, udpIPv4(payload, 0, 17)[:24]), // cut short
				ethernet(0x0800, 0, udpIPv4(payload, 0, 17)),      // kept
			}, 1000*1e9 + 4*1e9 + 5000, 1, Skipped{NonIP: 1, NonUDP: 1, Fragments: 1, Truncated: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := NewReader(bytes.NewReader(buildCapture(tc.order, tc.magic, tc.linkType, tc.frames...)))
			if err != nil {
				t.Fatal(err)
			}
			var got []Datagram
			for {
				dg, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(dg.Payload) != "hello" {
					t.Errorf("payload = %q", dg.Payload)
				}
				got = append(got, dg)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d datagrams, want %d", len(got), tc.want)
			}
			if got[0].Timestamp != tc.wantTS {
				t.Errorf("timestamp = %d, want %d", got[0].Timestamp, tc.wantTS)
			}
			if rd.Skipped() != tc.skipped {
				t.Errorf("skipped = %+v, want %+v", rd.Skipped(), tc.skipped)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewReader(bytes.NewReader([]byte("not a pcap file at all!!"))); !errors.Is(err, ErrNotPcap) {
		t.Errorf("garbage: err = %v, want ErrNotPcap", err)
	}
	if _, err := NewReader(bytes.NewReader(nil)); err == nil {
		t.Error("empty: no error")
	}
	capture := buildCapture(binary.LittleEndian, 0xa1b2c3d4, LinkTypeEthernet, ethernet(0x0800, 0, udpIPv4([]byte("x"), 0, 17)))
	rd, err := NewReader(bytes.NewReader(capture[:len(capture)-3]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut record: err = %v, want ErrUnexpectedEOF", err)
	}
}
