package netflow

import (
	"net/netip"
	"slices"
	"testing"

	"sluice/collector/decodeerr"
	"sluice/pipeline/record"
)

func addr(s string) record.Addr { return record.Addr(netip.MustParseAddr(s).As16()) }

func addr4(s string) record.Addr { return record.AddrFrom4(netip.MustParseAddr(s).As4()) }

// TestCorpusCounts decodes every NetFlow/IPFIX capture of the corpus and
// compares the number of flow records with tshark's. tshark's counts come
// from `tshark -r F -d udp.port==PORT,cflow -V`: "pdu N/M" lines for v5, and
// "Flow N" lines under data sets whose template is not an options template
// for v9/IPFIX (options records are counted apart).
func TestCorpusCounts(t *testing.T) {
	cases := []struct {
		file    string
		flows   int
		options int
		reasons []string // expected error reasons, in datagram order
		why     string   // why we differ from tshark, if we do
	}{
		{file: "akvorado__icmp-port2100.pcap", flows: 4},
		{file: "akvorado__ipfix-datalink.pcap", flows: 1},
		{file: "akvorado__ipfix-eompls-cw.pcap", flows: 10},
		{file: "akvorado__ipfix-juniper-cpid.pcap", flows: 1},
		{file: "akvorado__ipfix-mpls.pcap", flows: 2, options: 1},
		{file: "akvorado__ipfix-srv6.pcap", flows: 1},
		// RFC 5103 biflows: 2 of the 4 records counted reverse traffic
		// (tshark's BYTES [Reverse], PKTS [Reverse]), so 2 reverse records.
		{file: "akvorado__ipfixprobe.pcap", flows: 6},
		{file: "akvorado__multiplesamplingrates.pcap", flows: 12, options: 2},
		{file: "akvorado__nat.pcap", flows: 9},
		{file: "akvorado__nfv5.pcap", flows: 29},
		// The first data set precedes its template in the same datagram;
		// tshark skips it too.
		{file: "akvorado__nfv9-data+templates.pcap", flows: 10, options: 1, reasons: []string{decodeerr.TemplateNotFound}},
		{file: "akvorado__nfv9-options-sampling.pcap", flows: 4, options: 4},
		{file: "akvorado__nfv9-template-data.pcap", flows: 4},
		{file: "akvorado__physicalinterfaces.pcap", flows: 8, options: 1},
		{file: "akvorado__samplingrate-port8096.pcap", flows: 6},
		{file: "logstash__ipfix-barracuda-ext-uniflow.pcap", flows: 2},
		{file: "logstash__ipfix-generic.pcap", flows: 6, options: 1},
		{file: "logstash__ipfix-juniper-mx240.pcap", options: 1},
		// Template 280 is never sent; tshark skips that set as well.
		{file: "logstash__ipfix-netscaler-varlen.pcap", flows: 3, reasons: []string{decodeerr.TemplateNotFound}},
		{file: "logstash__ipfix-openbsd-pflow.pcap", flows: 26},
		{file: "logstash__ipfix-viptela.pcap", flows: 1},
		{file: "logstash__ipfix-yaf.pcap", flows: 4, options: 1}, // 2 biflows, both ways counted
		{
			file: "logstash__nf5-invalid.pcap", flows: 0, reasons: []string{decodeerr.Truncated, decodeerr.Truncated},
			why: "tshark: 60. The headers claim 55582 and 163 records in room for 30; we reject such v5 datagrams whole, tshark decodes the 30 that fit",
		},
		{file: "logstash__nf5-mikrotik.pcap", flows: 30},
		{file: "logstash__nf9-cisco-1941k9.pcap", flows: 29},
		{file: "logstash__nf9-cisco-asa-1.pcap", flows: 14},
		{file: "logstash__nf9-cisco-asr1001x.pcap", flows: 25},
		{file: "logstash__nf9-cisco-nbar.pcap", flows: 5, options: 15},
		{file: "logstash__nf9-cisco-wlc8510-tpl.pcap"},
		{file: "logstash__nf9-fortigate-542-appid.pcap", flows: 17},
		{
			file: "logstash__nf9-h3c.pcap", flows: 16,
			why: "tshark: 1. tshark stops at the first record (\"Malformed: IPv4 address with length 2\", IE 43 ipv4RouterSc of length 2); the datagram holds 16 data sets of 1 record (count 16)",
		},
		{
			file: "logstash__nf9-invalid01.pcap", flows: 2, options: 1,
			why: "tshark: 0. The header counts 2 but the datagram holds 6 sets (2 templates, an options template, options data, 2 data sets); tshark stops after 2 sets, we decode every set up to the end of the datagram and count the mismatch",
		},
		{file: "logstash__nf9-juniper-srx-optstpl.pcap", options: 1},
		{file: "logstash__nf9-macaddr.pcap", flows: 29, options: 1},
		{file: "logstash__nf9-paloalto-81.pcap", flows: 1},
		{file: "logstash__nf9-softflowd.pcap", flows: 7},
		{file: "logstash__nf9-ubnt-edgerouter.pcap", flows: 16},
		{file: "logstash__nf9-valid01.pcap", flows: 7},
		{file: "telegraf__ipfix-example.pcap", flows: 56, options: 2}, // 29 biflow records, 27 with reverse traffic
		{file: "telegraf__ipfix-options.pcap", options: 126},
		{file: "telegraf__ipfix-pen35632-ntop.pcap", flows: 2},
		{
			file: "telegraf__issue14370.pcap", flows: 2, reasons: []string{decodeerr.Truncated},
			why: "the IPFIX message length (290) ends 2 bytes before the last set's (292): that set's complete record is decoded (as tshark does), its cut end counted",
		},
		{file: "telegraf__nf5-example.pcap", flows: 8},
		{file: "telegraf__nf9-example.pcap", flows: 8},
		{file: "telegraf__nf9-options.pcap", options: 8},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res := decodeFile(t, New(Config{}), tc.file)
			if len(res.flows) != tc.flows || res.stats.Flows != tc.flows {
				t.Errorf("flows = %d (stats %d), want %d", len(res.flows), res.stats.Flows, tc.flows)
			}
			if res.stats.OptionsRecords != tc.options {
				t.Errorf("options records = %d, want %d", res.stats.OptionsRecords, tc.options)
			}
			if !slices.Equal(res.reasons, tc.reasons) {
				t.Errorf("error reasons = %v, want %v", res.reasons, tc.reasons)
			}
			for _, f := range res.flows {
				if f.SamplingRate == 0 || f.TimeReceived == 0 || f.ExporterAddress.IsZero() {
					t.Fatalf("flow lacks sampling rate, receive time or exporter: %+v", f)
				}
			}
		})
	}
}

// TestNetFlowV5 checks every field of the first record of
// akvorado__nfv5.pcap against `tshark -r F -d udp.port==9990,cflow -V`:
//
//	SysUptime: 2874339 s, CurrentSecs: 1680626679, CurrentNSecs: 0,
//	EngineType: 0, EngineId: 3, SampleRate: 0
//	pdu 1/29: SrcAddr 161.202.212.212, DstAddr 202.152.70.24,
//	NextHop 61.6.255.150, InputInt 117, OutputInt 86, Packets 1,
//	Octets 133, StartTime = EndTime = 2874324 s (uptime), SrcPort 30104,
//	DstPort 11963, TCP Flags 0x18, Protocol 6, IP ToS 0, SrcAS 36351,
//	DstAS 10101, SrcMask 19, DstMask 24
//
// and frame.time_epoch 1680655485.099595, ip.src 10.19.144.41.
func TestNetFlowV5(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__nfv5.pcap")
	// Start/end: 1680626679 s - (2874339 - 2874324) s.
	want := record.Flow{
		TimeReceived:        1680655485099595000,
		TimeFlowStart:       1680626664000,
		TimeFlowEnd:         1680626664000,
		FlowType:            record.FlowTypeNetFlowV5,
		ExporterAddress:     addr4("10.19.144.41"),
		ObservationDomainID: 3, // engine type 0 << 8 | engine ID 3
		SamplingRate:        1, // header says 0: unknown
		SrcAddr:             addr4("161.202.212.212"),
		DstAddr:             addr4("202.152.70.24"),
		NextHop:             addr4("61.6.255.150"),
		SrcNetMask:          19,
		DstNetMask:          24,
		SrcAS:               36351,
		DstAS:               10101,
		SrcPort:             30104,
		DstPort:             11963,
		Proto:               6,
		EType:               0x0800,
		TCPFlags:            0x18,
		InIfIndex:           117,
		OutIfIndex:          86,
		Bytes:               133,
		Packets:             1,
	}
	if res.flows[0] != want {
		t.Errorf("first record:\n got %+v\nwant %+v", res.flows[0], want)
	}
	if res.stats.SamplingDefaulted != 29 {
		t.Errorf("sampling defaulted = %d, want 29", res.stats.SamplingDefaulted)
	}
}

// TestNetFlowV9 checks the first record of akvorado__nfv9-template-data.pcap
// against tshark (frame 2): SysUptime 944951.609 s, CurrentSecs 1647285928,
// SourceId 0; Flow 1: Packets 1, Octets 1500, SrcAddr 198.38.121.178,
// DstAddr 91.170.143.87, InputInt 335, OutputInt 450, Start = End =
// 944948.659 s (uptime), SrcPort 443, DstPort 19624, SrcAS 0, DstAS 0,
// BGPNextHop 194.149.174.63, SrcMask 24, DstMask 14, Protocol 6, TCP Flags
// 0x10, IP ToS 0, Direction Ingress (0), ForwardingStatus Forward (1) with
// reason 0, SamplerID 1. frame.time_epoch 1662723601.518767, ip.src
// 192.0.2.100.
func TestNetFlowV9(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__nfv9-template-data.pcap")
	// Start/end: 1647285928000 ms - (944951609 - 944948659) ms.
	want := record.Flow{
		TimeReceived:     1662723601518767000,
		TimeFlowStart:    1647285925050,
		TimeFlowEnd:      1647285925050,
		FlowType:         record.FlowTypeNetFlowV9,
		ExporterAddress:  addr4("192.0.2.100"),
		SamplerID:        1,
		SamplingRate:     1, // no options data in this capture
		SrcAddr:          addr4("198.38.121.178"),
		DstAddr:          addr4("91.170.143.87"),
		SrcNetMask:       24,
		DstNetMask:       14,
		BGPNextHop:       addr4("194.149.174.63"),
		SrcPort:          443,
		DstPort:          19624,
		Proto:            6,
		EType:            0x0800,
		TCPFlags:         0x10,
		InIfIndex:        335,
		OutIfIndex:       450,
		ForwardingStatus: 1 << 6, // the raw byte: status 1 (forward) in the top 2 bits, reason 0
		FlowDirection:    1,      // ingress
		Bytes:            1500,
		Packets:          1,
		IngressVRFID:     1610612738, // tshark: cflow.ingress_vrfid
		EgressVRFID:      1610612738,
	}
	if len(res.flows) != 4 {
		t.Fatalf("got %d flows", len(res.flows))
	}
	if res.flows[0] != want {
		t.Errorf("first record:\n got %+v\nwant %+v", res.flows[0], want)
	}
}

// TestNetFlowV9OptionsSampling: the options data in
// akvorado__nfv9-options-sampling.pcap announce sampler 1 with
// SamplerRandomInterval 30000 (tshark: cflow.sampler_id 1,
// cflow.sampler_random_interval 30000); the data records carry SamplerID 1.
func TestNetFlowV9OptionsSampling(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__nfv9-options-sampling.pcap")
	if len(res.flows) != 4 {
		t.Fatalf("got %d flows", len(res.flows))
	}
	wantSrc := []string{"198.38.121.178", "198.38.121.219", "173.194.190.106", "74.125.100.234"}
	for i, f := range res.flows {
		if f.SamplingRate != 30000 || f.SamplerID != 1 {
			t.Errorf("flow %d: sampler %d rate %d, want 1 and 30000", i, f.SamplerID, f.SamplingRate)
		}
		if f.SrcAddr != addr4(wantSrc[i]) {
			t.Errorf("flow %d: src %v, want %s", i, f.SrcAddr, wantSrc[i])
		}
	}
}

// TestNetFlowV9IPv6MultipleSamplers: akvorado__multiplesamplingrates.pcap
// announces sampler 1 at 1/2000 and sampler 2 at 1/4000 (tshark frame 2),
// then IPv6 flows using either. Frame 4 (SysUptime 1098324.379 s,
// CurrentSecs 1701360975), Flow 1 per tshark: Packets 18, Octets 1348,
// SrcAddr ffff::68, DstAddr ffff::1a, InputInt 97, OutputInt 6, StartTime
// 1098319.359 s, EndTime 1098324.270 s, ipv6FlowLabel 252813, SrcPort 443,
// DstPort 52616, BGPNextHop ffff::2, DstMask 56, SrcMask 48, Protocol 6,
// TCP Flags 0x10, IP ToS 0x40, Direction Ingress, forwarding status 1
// (byte 0x40), SamplerID 2, MinTTL 127, MaxTTL 127. Flow 2: SamplerID 1.
func TestNetFlowV9IPv6MultipleSamplers(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__multiplesamplingrates.pcap")
	want := record.Flow{
		TimeReceived:     1701360975163831000,
		TimeFlowStart:    1701360975000 - (1098324379 - 1098319359),
		TimeFlowEnd:      1701360975000 - (1098324379 - 1098324270),
		FlowType:         record.FlowTypeNetFlowV9,
		ExporterAddress:  addr4("238.0.0.1"),
		SamplerID:        2,
		SamplingRate:     4000,
		SrcAddr:          addr("ffff::68"),
		DstAddr:          addr("ffff::1a"),
		SrcNetMask:       48,
		DstNetMask:       56,
		BGPNextHop:       addr("ffff::2"),
		SrcPort:          443,
		DstPort:          52616,
		Proto:            6,
		EType:            0x86dd,
		TCPFlags:         0x10,
		IPTos:            0x40,
		IPTTL:            127,
		IPv6FlowLabel:    252813,
		InIfIndex:        97,
		OutIfIndex:       6,
		ForwardingStatus: 0x40,
		FlowDirection:    1,
		Bytes:            1348,
		Packets:          18,
		IngressVRFID:     1610612736, // tshark: cflow.ingress_vrfid
		EgressVRFID:      1610612736,
	}
	if len(res.flows) != 12 {
		t.Fatalf("got %d flows", len(res.flows))
	}
	if res.flows[0] != want {
		t.Errorf("first record:\n got %+v\nwant %+v", res.flows[0], want)
	}
	if f := res.flows[1]; f.SamplerID != 1 || f.SamplingRate != 2000 || f.SrcAddr != addr("ffff::5a") {
		t.Errorf("second record: sampler %d rate %d src %v", f.SamplerID, f.SamplingRate, f.SrcAddr)
	}
}

// TestIPFIX checks the first record of akvorado__ipfixprobe.pcap against
// tshark (frame 2): ExportTime 1759076323, Observation Domain Id 1; Flow 1:
// Octets 62, Packets 1 (the reverse counters, enterprise fields of PEN
// 29305, make a second, reverse record), StartTime 2009-10-05 06:06:07.492059999 UTC,
// EndTime 06:06:07.526084999 (IE 154/155, NTP format), IPVersion 4,
// Protocol 17, TCP Flags 0, SrcPort 56166, DstPort 53, InputInt 10, SrcAddr
// 10.10.1.4, DstAddr 10.10.1.1, Source Mac 00:e0:1c:3c:17:c2, Destination
// Mac 00:1f:33:d9:81:60. frame.time_epoch 1759076323.634898, ip.src
// 127.0.0.1.
func TestIPFIX(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__ipfixprobe.pcap")
	want := record.Flow{
		TimeReceived:        1759076323634898000,
		TimeFlowStart:       1254722767492,
		TimeFlowEnd:         1254722767526,
		FlowType:            record.FlowTypeIPFIX,
		ExporterAddress:     addr4("127.0.0.1"),
		ObservationDomainID: 1,
		SamplingRate:        1,
		SrcAddr:             addr4("10.10.1.4"),
		DstAddr:             addr4("10.10.1.1"),
		SrcPort:             56166,
		DstPort:             53,
		Proto:               17,
		EType:               0x0800,
		InIfIndex:           10,
		SrcMAC:              0x00e01c3c17c2,
		DstMAC:              0x001f33d98160,
		Bytes:               62,
		Packets:             1,
	}
	if len(res.flows) != 6 {
		t.Fatalf("got %d flows", len(res.flows))
	}
	if res.flows[0] != want {
		t.Errorf("first record:\n got %+v\nwant %+v", res.flows[0], want)
	}
}

// TestICMPFromDestinationPort: akvorado__icmp-port2100.pcap exports ICMP
// type and code only in L4_DST_PORT. tshark frame 2, Flow 1: 203.0.113.4 →
// 203.0.113.5, DstPort 2048 (type 8 echo request, code 0), StartTime
// 2023-06-04 08:39:55.034 UTC (IE 152, milliseconds); Flow 2: DstPort 0
// (echo reply). Frame 1 has the IPv6 pair: DstPort 32768 (128, echo
// request) and 33024 (129, echo reply).
func TestICMPFromDestinationPort(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__icmp-port2100.pcap")
	want := []struct {
		src            record.Addr
		etype          uint16
		icmpType, code uint8
	}{
		{addr("2001:db8::"), 0x86dd, 128, 0},
		{addr("2001:db8::1"), 0x86dd, 129, 0},
		{addr4("203.0.113.4"), 0x0800, 8, 0},
		{addr4("203.0.113.5"), 0x0800, 0, 0},
	}
	if len(res.flows) != len(want) {
		t.Fatalf("got %d flows", len(res.flows))
	}
	for i, w := range want {
		f := res.flows[i]
		if f.SrcAddr != w.src || f.EType != w.etype || f.ICMPType != w.icmpType || f.ICMPCode != w.code {
			t.Errorf("flow %d: src %v etype %#x icmp %d/%d, want %v %#x %d/%d", i, f.SrcAddr, f.EType, f.ICMPType, f.ICMPCode, w.src, w.etype, w.icmpType, w.code)
		}
	}
	if res.flows[2].TimeFlowStart != 1685867995034 {
		t.Errorf("start = %d, want 1685867995034", res.flows[2].TimeFlowStart)
	}
}

// TestTotals compares per-file sums of bytes and packets with tshark's
// (`-T fields -e cflow.octets -e cflow.packets`, summed).
func TestTotals(t *testing.T) {
	cases := []struct {
		file           string
		bytes, packets uint64
	}{
		{"akvorado__nfv5.pcap", 88345, 78},
		{"telegraf__nf5-example.pcap", 103623, 175},
		{"logstash__nf5-mikrotik.pcap", 40812, 160},
		{"logstash__nf9-cisco-1941k9.pcap", 70258, 370},
		{"logstash__nf9-ubnt-edgerouter.pcap", 20418, 114},
		{"logstash__nf9-cisco-asr1001x.pcap", 38255, 124},
		{"logstash__nf9-fortigate-542-appid.pcap", 29492, 105},
		{"akvorado__multiplesamplingrates.pcap", 14818, 38},
		{"logstash__ipfix-openbsd-pflow.pcap", 99323, 209},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var bytes, packets uint64
			for _, f := range decodeFile(t, New(Config{}), tc.file).flows {
				bytes += f.Bytes
				packets += f.Packets
			}
			if bytes != tc.bytes || packets != tc.packets {
				t.Errorf("bytes %d packets %d, tshark says %d and %d", bytes, packets, tc.bytes, tc.packets)
			}
		})
	}
}

// TestDefaultSamplingRate: a configured default applies only where the
// exporter says nothing.
func TestDefaultSamplingRate(t *testing.T) {
	res := decodeFile(t, New(Config{DefaultSamplingRate: 100}), "akvorado__nfv9-template-data.pcap")
	for _, f := range res.flows {
		if f.SamplingRate != 100 {
			t.Fatalf("rate = %d, want the default 100", f.SamplingRate)
		}
	}
	res = decodeFile(t, New(Config{DefaultSamplingRate: 100}), "akvorado__nfv9-options-sampling.pcap")
	for _, f := range res.flows {
		if f.SamplingRate != 30000 {
			t.Fatalf("rate = %d, want 30000 from options", f.SamplingRate)
		}
	}
}
