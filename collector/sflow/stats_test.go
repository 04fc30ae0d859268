package sflow

import (
	"bytes"
	"encoding/binary"
	"testing"

	"sluice/pipeline/record"
)

// firstRateOffset returns the offset of the sampling rate of the first flow
// sample of an sFlow datagram with an IPv4 agent address.
func firstRateOffset(t *testing.T, payload []byte) int {
	t.Helper()
	if binary.BigEndian.Uint32(payload[4:]) != 1 {
		t.Fatal("agent address is not IPv4")
	}
	pos := 28
	for range binary.BigEndian.Uint32(payload[24:]) {
		format, length := binary.BigEndian.Uint32(payload[pos:]), int(binary.BigEndian.Uint32(payload[pos+4:]))
		switch format {
		case sampleFlow: // sequence, source ID, rate
			return pos + 8 + 8
		case sampleExpandedFlow: // sequence, source ID type and index, rate
			return pos + 8 + 12
		}
		pos += 8 + length
	}
	t.Fatal("no flow sample")
	return 0
}

// TestSamplingRateZero: a flow sample announcing rate 0 is stored with the
// default rate (1 unless configured) and counted.
func TestSamplingRateZero(t *testing.T) {
	for _, file := range []string{"akvorado__sflow-icmpv6.pcap", "akvorado__sflow-qinq.pcap"} { // compact, expanded
		payload := bytes.Clone(corpusPayload(t, file))
		binary.BigEndian.PutUint32(payload[firstRateOffset(t, payload):], 0)
		for _, tc := range []struct{ def, want uint64 }{{0, 1}, {100, 100}} {
			var rate uint64
			st, err := New(Config{DefaultSamplingRate: tc.def}).Decode(testExporter, 1, payload, func(f *record.Flow) { rate = f.SamplingRate })
			if err != nil {
				t.Fatal(err)
			}
			if rate != tc.want || st.SamplingDefaulted != 1 {
				t.Errorf("%s, default %d: rate %d, %d defaulted; want %d and 1", file, tc.def, rate, st.SamplingDefaulted, tc.want)
			}
		}
		if st, _ := New(Config{}).Decode(testExporter, 1, corpusPayload(t, file), noEmit); st.SamplingDefaulted != 0 {
			t.Errorf("%s: %d defaulted with the rate in place", file, st.SamplingDefaulted)
		}
	}
}

// TestFlowTimes: sFlow carries no flow times; both are the receive time in
// milliseconds, never 0 (1970 in ClickHouse).
func TestFlowTimes(t *testing.T) {
	const received = 1_700_000_000_123_456_789
	n := 0
	_, err := New(Config{}).Decode(testExporter, received, corpusPayload(t, "akvorado__sflow-1140.pcap"), func(f *record.Flow) {
		n++
		if f.TimeFlowStart != 1_700_000_000_123 || f.TimeFlowEnd != 1_700_000_000_123 || f.TimeReceived != received {
			t.Errorf("times %d/%d/%d", f.TimeReceived, f.TimeFlowStart, f.TimeFlowEnd)
		}
	})
	if err != nil || n != 5 {
		t.Fatalf("%v, %d flows", err, n)
	}
}

// TestHeaderSkipReasons: sampled headers that do not reach IP are counted
// by reason.
func TestHeaderSkipReasons(t *testing.T) {
	eth := func(etherType uint16, rest ...byte) []byte {
		b := make([]byte, 12, 14+len(rest))
		b = binary.BigEndian.AppendUint16(b, etherType)
		return append(b, rest...)
	}
	ipv4 := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	cases := []struct {
		name     string
		protocol uint32
		data     []byte
		want     headerStatus
	}{
		{"Ethernet IPv4", headerProtocolEthernet, eth(0x0800, ipv4...), headerParsed},
		{"unknown protocol", 7, ipv4, headerUnknownProtocol},
		{"ARP", headerProtocolEthernet, eth(0x0806, make([]byte, 28)...), headerNonIP},
		{"MPLS over non-IP", headerProtocolEthernet, eth(0x8847, 0, 0, 1, 64, 0x00, 0), headerNonIP},
		{"IPv4 of version 6", headerProtocolIPv4, append([]byte{0x65}, ipv4[1:]...), headerNonIP},
		{"short Ethernet", headerProtocolEthernet, make([]byte, 10), headerTruncated},
		{"short VLAN tag", headerProtocolEthernet, eth(0x8100, 0), headerTruncated},
		{"short IPv4", headerProtocolEthernet, eth(0x0800, ipv4[:12]...), headerTruncated},
		{"short IPv6", headerProtocolIPv6, make([]byte, 39), headerTruncated},
	}
	for _, tc := range cases {
		var f record.Flow
		if _, got := parseSampledHeader(tc.protocol, tc.data, &f); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// applyRecords counts them in Stats.
	var records []byte
	for _, tc := range cases {
		padded := append(append([]byte(nil), tc.data...), make([]byte, (4-len(tc.data)%4)%4)...)
		for _, v := range []uint32{recordSampledHeader, uint32(16 + len(padded)), tc.protocol, 100, 4, uint32(len(tc.data))} {
			records = binary.BigEndian.AppendUint32(records, v)
		}
		records = append(records, padded...)
	}
	var stats Stats
	var f record.Flow
	if err := applyRecords(&headerParser{}, &xdr{b: records}, uint32(len(cases)), &f, &stats); err != nil {
		t.Fatal(err)
	}
	if stats.HeadersUnknownProtocol != 1 || stats.HeadersNonIP != 3 || stats.HeadersTruncated != 4 {
		t.Errorf("stats %+v, want 1 unknown protocol, 3 non-IP, 4 truncated", stats)
	}
}
