package sflow

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"sluice/collector/decodeerr"
	"sluice/pipeline/record"
)

func addr(s string) record.Addr { return record.Addr(netip.MustParseAddr(s).As16()) }

func addr4(s string) record.Addr { return record.AddrFrom4(netip.MustParseAddr(s).As4()) }

var testExporter = record.AddrFrom4([4]byte{192, 0, 2, 1})

func noEmit(*record.Flow) {}

// TestCorpusCounts decodes every sFlow capture of the corpus. tshark's
// counts come from `tshark -r F -d udp.port==6343,sflow -V`: lines "Flow
// sample"/"Expanded flow sample" and "Counters sample"/"Expanded counters
// sample" at sample level. telegraf__sflow-drop-1036.pcap holds a drop
// sample (format 5), which tshark shows as "Unknown sample format".
func TestCorpusCounts(t *testing.T) {
	cases := []struct {
		file            string
		flows, counters int
		drops           int
		reasons         []string
	}{
		{file: "akvorado__sflow-1140.pcap", flows: 5},
		{file: "akvorado__sflow-discard-interface.pcap", flows: 1},
		{file: "akvorado__sflow-encap-vxlan.pcap", flows: 1},
		{file: "akvorado__sflow-icmpv4.pcap", flows: 1},
		{file: "akvorado__sflow-icmpv6.pcap", flows: 1},
		{file: "akvorado__sflow-local-interface.pcap", flows: 1},
		{file: "akvorado__sflow-multiple-interfaces.pcap", flows: 1},
		{file: "akvorado__sflow-qinq.pcap", flows: 1},
		{file: "akvorado__sflow-sflow-expanded-sample.pcap", flows: 1},
		{file: "akvorado__sflow-sflow-ipv4-data.pcap", flows: 1},
		{file: "akvorado__sflow-sflow-raw-ipv4.pcap", flows: 2},
		{file: "lssflow__counters-1.pcap", counters: 1},
		{file: "lssflow__flow-sample-eth-vlan.pcap", flows: 1},
		{file: "lssflow__lag-counters.pcap", flows: 5, counters: 2},
		{file: "telegraf__sflow-drop-1036.pcap", drops: 1},
		{file: "telegraf__sflow-example.pcap", counters: 1},
		{file: "telegraf__sflow-issue15918.pcap", flows: 6, counters: 1},
		{file: "telegraf__sflow-issue18876.pcap", counters: 1},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			res := decodeFile(t, New(Config{}), tc.file)
			if len(res.flows) != tc.flows || res.stats.FlowSamples != tc.flows {
				t.Errorf("flows = %d (samples %d), want %d", len(res.flows), res.stats.FlowSamples, tc.flows)
			}
			if res.stats.CounterSamples != tc.counters || res.stats.DropSamples != tc.drops {
				t.Errorf("counter samples %d drop samples %d, want %d and %d", res.stats.CounterSamples, res.stats.DropSamples, tc.counters, tc.drops)
			}
			if !slices.Equal(res.reasons, tc.reasons) {
				t.Errorf("reasons = %v, want %v", res.reasons, tc.reasons)
			}
		})
	}
}

// TestExpandedSampleIPv4: akvorado__sflow-sflow-ipv4-data.pcap per tshark:
// frame.time_epoch 1676064797.999145, UDP source 192.0.2.100; agent
// 49.49.49.49, sub-agent 1; expanded flow sample, sampling rate 256, input
// format 0 value 0, output value 182; raw header (Ethernet): Src MAC
// 00:fe:c8:99:05:47, Dst 01:00:5e:2a:aa:04, IPv4 50.50.50.50 →
// 51.51.51.51, DSCP 0, Total Length 1344, Identification 0xa2af, TTL 64,
// UDP 46622 → 58631; extended switch: in VLAN 0, out VLAN 3001.
func TestExpandedSampleIPv4(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__sflow-sflow-ipv4-data.pcap")
	want := record.Flow{
		TimeReceived:        1676064797999145000,
		TimeFlowStart:       1676064797999, // the receive time: sFlow has no flow times
		TimeFlowEnd:         1676064797999,
		FlowType:            record.FlowTypeSFlowV5,
		ExporterAddress:     addr4("49.49.49.49"),
		ObservationDomainID: 1,
		SamplingRate:        256,
		SrcAddr:             addr4("50.50.50.50"),
		DstAddr:             addr4("51.51.51.51"),
		SrcPort:             46622,
		DstPort:             58631,
		Proto:               17,
		EType:               0x0800,
		IPTTL:               64,
		IPFragmentID:        0xa2af,
		OutIfIndex:          182,
		DstVlan:             3001,
		SrcMAC:              0x00fec8990547,
		DstMAC:              0x01005e2aaa04,
		Bytes:               1344,
		Packets:             1,
	}
	if len(res.flows) != 1 {
		t.Fatalf("got %d flows", len(res.flows))
	}
	if res.flows[0] != want {
		t.Errorf("\n got %+v\nwant %+v", res.flows[0], want)
	}
}

// TestQinQ: akvorado__sflow-qinq.pcap per tshark: frame.time_epoch
// 1730193097.448816; agent 172.17.128.58, sub-agent 100; expanded sample,
// rate 4096, input 369098852, output 369098851; Ethernet Src
// 4c:ae:a3:52:0f:f6 Dst 00:01:10:62:14:93, 802.1Q ID 1062 then 802.1Q ID
// 1493 (the inner tag is kept), IPv4 49.49.49.2 → 49.49.49.109, DSCP 0,
// Total Length 80, Identification 0xdb5f, TTL 62, TCP 32017 → 443 flags
// 0x010 (ACK).
func TestQinQ(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__sflow-qinq.pcap")
	want := record.Flow{
		TimeReceived:        1730193097448816000,
		TimeFlowStart:       1730193097448, // the receive time: sFlow has no flow times
		TimeFlowEnd:         1730193097448,
		FlowType:            record.FlowTypeSFlowV5,
		ExporterAddress:     addr4("172.17.128.58"),
		ObservationDomainID: 100,
		SamplingRate:        4096,
		SrcAddr:             addr4("49.49.49.2"),
		DstAddr:             addr4("49.49.49.109"),
		SrcPort:             32017,
		DstPort:             443,
		Proto:               6,
		EType:               0x0800,
		TCPFlags:            0x10,
		IPTTL:               62,
		IPFragmentID:        0xdb5f,
		InIfIndex:           369098852,
		OutIfIndex:          369098851,
		SrcVlan:             1493,
		SrcMAC:              0x4caea3520ff6,
		DstMAC:              0x000110621493,
		Bytes:               80,
		Packets:             1,
	}
	if len(res.flows) != 1 || res.flows[0] != want {
		t.Errorf("\n got %+v\nwant %+v", res.flows, want)
	}
}

// TestICMPv6: akvorado__sflow-icmpv6.pcap per tshark: frame.time_epoch
// 1685865496.072711; agent 127.0.0.1, sub-agent 1402; flow sample, rate 1,
// input and output 0x3fffffff (internal: stored as 0); extended switch VLANs
// 0/0; Ethernet Src d2:5b:45:ee:5e:cf Dst e2:ef:c6:8f:8c:d4, IPv6
// fe80::d05b:45ff:feee:5ecf → 2001:db8::, Payload Length 32, Next Header
// 58, Hop Limit 255, traffic class and flow label 0; ICMPv6 type 135
// (Neighbor Solicitation) code 0.
func TestICMPv6(t *testing.T) {
	res := decodeFile(t, New(Config{}), "akvorado__sflow-icmpv6.pcap")
	want := record.Flow{
		TimeReceived:        1685865496072711000,
		TimeFlowStart:       1685865496072, // the receive time: sFlow has no flow times
		TimeFlowEnd:         1685865496072,
		FlowType:            record.FlowTypeSFlowV5,
		ExporterAddress:     addr4("127.0.0.1"),
		ObservationDomainID: 1402,
		SamplingRate:        1,
		SrcAddr:             addr("fe80::d05b:45ff:feee:5ecf"),
		DstAddr:             addr("2001:db8::"),
		Proto:               58,
		EType:               0x86dd,
		IPTTL:               255,
		ICMPType:            135,
		SrcMAC:              0xd25b45ee5ecf,
		DstMAC:              0xe2efc68f8cd4,
		Bytes:               72,
		Packets:             1,
	}
	if len(res.flows) != 1 || res.flows[0] != want {
		t.Errorf("\n got %+v\nwant %+v", res.flows, want)
	}
}

// TestInterfaceFormats: per tshark, the three akvorado captures have input
// ifIndex 27 and output 0x40000001 (discarded, reason 1), 0x80000007 (7
// interfaces) and 0x3fffffff (internal).
func TestInterfaceFormats(t *testing.T) {
	cases := []struct {
		file             string
		out              uint32
		forwardingStatus uint8
	}{
		{"akvorado__sflow-discard-interface.pcap", 0, 128},
		{"akvorado__sflow-multiple-interfaces.pcap", 0, 0},
		{"akvorado__sflow-local-interface.pcap", 0, 0},
	}
	for _, tc := range cases {
		res := decodeFile(t, New(Config{}), tc.file)
		f := res.flows[0]
		if f.InIfIndex != 27 || f.OutIfIndex != tc.out || f.ForwardingStatus != tc.forwardingStatus {
			t.Errorf("%s: in %d out %d status %d", tc.file, f.InIfIndex, f.OutIfIndex, f.ForwardingStatus)
		}
	}
}

// TestTotals compares the per-file sum of Bytes with tshark's sum of the
// sampled packets' IP lengths (`-e ip.len -e ipv6.plen`, the outer datagram's
// ip.len left out, ipv6.plen + 40), and Packets with the flow sample count.
func TestTotals(t *testing.T) {
	cases := []struct {
		file           string
		bytes, packets uint64
	}{
		{"akvorado__sflow-1140.pcap", 4961, 5},
		{"akvorado__sflow-sflow-ipv4-data.pcap", 1344, 1},
		{"akvorado__sflow-sflow-expanded-sample.pcap", 104, 1},
		{"akvorado__sflow-icmpv4.pcap", 84, 1},
		{"akvorado__sflow-icmpv6.pcap", 72, 1},
		{"akvorado__sflow-qinq.pcap", 80, 1},
		{"lssflow__lag-counters.pcap", 3181, 5},
		{"akvorado__sflow-sflow-raw-ipv4.pcap", 64, 2},
		{"lssflow__flow-sample-eth-vlan.pcap", 40, 1},
		{"akvorado__sflow-discard-interface.pcap", 1500, 1},
	}
	for _, tc := range cases {
		var bytes, packets uint64
		for _, f := range decodeFile(t, New(Config{}), tc.file).flows {
			bytes += f.Bytes
			packets += f.Packets
		}
		if bytes != tc.bytes || packets != tc.packets {
			t.Errorf("%s: bytes %d packets %d, tshark says %d and %d", tc.file, bytes, packets, tc.bytes, tc.packets)
		}
	}
}

func corpusPayload(t *testing.T, file string) []byte {
	return corpusDatagrams(t, file)[0].Payload
}

// TestTruncatedPrefixes decodes every prefix of real datagrams.
func TestTruncatedPrefixes(t *testing.T) {
	d := New(Config{})
	for _, file := range []string{"akvorado__sflow-1140.pcap", "akvorado__sflow-qinq.pcap", "lssflow__lag-counters.pcap", "akvorado__sflow-icmpv6.pcap"} {
		payload := corpusPayload(t, file)
		full, err := d.Decode(testExporter, 1, payload, noEmit)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(payload) {
			st, err := d.Decode(testExporter, 1, payload[:n], noEmit)
			if err == nil {
				t.Fatalf("%s prefix %d/%d: no error", file, n, len(payload))
			}
			if r := decodeerr.Reason(err); r != decodeerr.Truncated && r != decodeerr.Malformed {
				t.Fatalf("%s prefix %d: reason %q", file, n, r)
			}
			if st.Flows > full.Flows {
				t.Fatalf("%s prefix %d: %d flows", file, n, st.Flows)
			}
		}
	}
	if d.Panics() != 0 {
		t.Errorf("%d panics", d.Panics())
	}
}

func TestUnknownVersion(t *testing.T) {
	d := New(Config{})
	for _, payload := range [][]byte{{0, 0, 0, 4, 0, 0, 0, 1}, {0, 5, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 10, 1, 2, 3, 4, 5}} {
		_, err := d.Decode(testExporter, 1, payload, noEmit)
		var de *decodeerr.Error
		if !errors.As(err, &de) || de.Reason != decodeerr.UnknownVersion {
			t.Errorf("% x: %v", payload, err)
		}
	}
}

// TestHugeRecordCount: an expanded flow sample claiming 2^32-1 records is
// refused before goflow2 allocates for them.
func TestHugeRecordCount(t *testing.T) {
	payload := slices.Clone(corpusPayload(t, "akvorado__sflow-sflow-ipv4-data.pcap"))
	// Header (28 bytes with an IPv4 agent), sample format and length (8),
	// then the record count is the 11th word of the sample.
	binary.BigEndian.PutUint32(payload[28+8+40:], 0xffffffff)
	st, err := New(Config{}).Decode(testExporter, 1, payload, noEmit)
	if decodeerr.Reason(err) != decodeerr.Malformed || st.Flows != 0 {
		t.Errorf("reason %q flows %d", decodeerr.Reason(err), st.Flows)
	}
}

func TestGarbage(t *testing.T) {
	d := New(Config{})
	seeds := [][]byte{corpusPayload(t, "akvorado__sflow-1140.pcap"), corpusPayload(t, "lssflow__lag-counters.pcap")}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		var payload []byte
		if i%2 == 0 {
			payload = make([]byte, rng.IntN(1500))
			for j := range payload {
				payload[j] = byte(rng.UintN(256))
			}
			if len(payload) >= 4 {
				binary.BigEndian.PutUint32(payload, 5)
			}
		} else {
			// Flip a few bytes of a real datagram.
			payload = slices.Clone(seeds[i%4/2])
			for range 1 + rng.IntN(4) {
				payload[rng.IntN(len(payload))] = byte(rng.UintN(256))
			}
		}
		_, err := d.Decode(testExporter, 1, payload, noEmit)
		if err != nil && decodeerr.Reason(err) == decodeerr.Panic {
			t.Fatalf("panic: %v", err)
		}
	}
}

func TestConcurrentDecode(t *testing.T) {
	d := New(Config{})
	var wg sync.WaitGroup
	for _, file := range []string{"akvorado__sflow-1140.pcap", "lssflow__lag-counters.pcap"} {
		payload := corpusPayload(t, file)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := d.Decode(testExporter, 1, payload, noEmit); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
