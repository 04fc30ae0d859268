package netflow

import (
	"testing"

	"sluice/collector/decodeerr"
	"sluice/collector/sampling"
	"sluice/pipeline/record"
)

// biflowMessage is an IPFIX message with a template (ID 256) of: source
// and destination IPv4 (IE 8, 12), ports (7, 11), ingress and egress
// interfaces (10, 14), octets and packets (1, 2), and the RFC 5103 reverse
// octets and packets (enterprise bit, IE 1 and 2, PEN 29305), then one
// data record per given reverse count pair.
func biflowMessage(reverse ...[2]uint32) []byte {
	tmpl := []byte{1, 0, 0, 10, // template 256, 10 fields
		0, 8, 0, 4, 0, 12, 0, 4, 0, 7, 0, 2, 0, 11, 0, 2, 0, 10, 0, 4, 0, 14, 0, 4,
		0, 1, 0, 4, 0, 2, 0, 4,
		0x80, 1, 0, 4, 0, 0, 0x72, 0x79, // reverseOctetDeltaCount, PEN 29305
		0x80, 2, 0, 4, 0, 0, 0x72, 0x79, // reversePacketDeltaCount
	}
	var data []byte
	for _, r := range reverse {
		data = append(data,
			192, 0, 2, 1, 198, 51, 100, 2, 0xc3, 0x50, 0, 53, 0, 0, 0, 3, 0, 0, 0, 4,
			0, 0, 0, 100, 0, 0, 0, 2,
			byte(r[0]>>24), byte(r[0]>>16), byte(r[0]>>8), byte(r[0]),
			byte(r[1]>>24), byte(r[1]>>16), byte(r[1]>>8), byte(r[1]))
	}
	return ipfixMessage(set(2, tmpl...), set(256, data...))
}

// TestBiflowReverseRecord: RFC 5103 §5 — the reverse counters describe the
// packets from destination to source, so they make a record with source
// and destination swapped; a record whose reverse counters are zero (the
// reverse direction sent nothing) makes none.
func TestBiflowReverseRecord(t *testing.T) {
	var flows []record.Flow
	st, err := New(Config{}).Decode(testExporter, 1, biflowMessage([2]uint32{300, 3}, [2]uint32{0, 0}), func(f *record.Flow) {
		flows = append(flows, *f)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 3 || st.Flows != 3 || st.ReverseFlows != 1 {
		t.Fatalf("%d flows (stats %+v), want forward, reverse, forward", len(flows), st)
	}
	fwd, rev := flows[0], flows[1]
	if fwd.SrcAddr != addr4("192.0.2.1") || fwd.SrcPort != 50000 || fwd.Bytes != 100 || fwd.Packets != 2 || fwd.InIfIndex != 3 {
		t.Errorf("forward record: %+v", fwd)
	}
	if rev.SrcAddr != addr4("198.51.100.2") || rev.DstAddr != addr4("192.0.2.1") || rev.SrcPort != 53 || rev.DstPort != 50000 ||
		rev.InIfIndex != 4 || rev.OutIfIndex != 3 || rev.Bytes != 300 || rev.Packets != 3 {
		t.Errorf("reverse record: %+v", rev)
	}
	if st.EnterpriseFields != 0 {
		t.Errorf("reverse elements counted as unknown enterprise fields: %d", st.EnterpriseFields)
	}
}

// TestUnknownEnterpriseFieldsCounted: an enterprise field of another PEN
// is skipped, counted, and the rest of the record decoded.
func TestUnknownEnterpriseFieldsCounted(t *testing.T) {
	tmpl := []byte{1, 0, 0, 2, 0, 8, 0, 4, 0x80, 1, 0, 2, 0, 0, 0x1a, 0xd7} // IE 8; PEN 6871 field 1, 2 bytes
	msg := ipfixMessage(set(2, tmpl...), set(256, 192, 0, 2, 9, 0xff, 0xff))
	var got []record.Flow
	st, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { got = append(got, *f) })
	if err != nil || len(got) != 1 || got[0].SrcAddr != addr4("192.0.2.9") || st.EnterpriseFields != 1 {
		t.Fatalf("err %v, flows %+v, stats %+v", err, got, st)
	}
}

// TestMPLSLabel: RFC 3032 label stack entries as IPFIX IE 70 carries them
// (3 bytes: 20-bit label, 3-bit traffic class, bottom-of-stack bit).
func TestMPLSLabel(t *testing.T) {
	for _, tc := range []struct {
		entry []byte
		want  uint32
	}{
		{[]byte{0x00, 0x01, 0x01}, 16},            // label 16, bottom of stack
		{[]byte{0xff, 0xff, 0xf0}, 1048575},       // the largest label
		{[]byte{0x18, 0x6a, 0xa0 | 0x0e}, 100010}, // 0x186aa; traffic class and S bits ignored
		{[]byte{0x01}, 0},                         // too short
	} {
		if got := mplsLabel(tc.entry); got != tc.want {
			t.Errorf("% x: label %d, want %d", tc.entry, got, tc.want)
		}
	}
}

// TestSamplingOverride: an override by exporter prefix wins over the
// exporter's own rate and the default; elsewhere the default applies.
func TestSamplingOverride(t *testing.T) {
	overrides, err := sampling.NewOverrides(map[string]uint64{"192.0.2.0/24": 50})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{DefaultSamplingRate: 7, SamplingOverrides: overrides}
	for _, tc := range []struct {
		exporter  record.Addr
		want      uint64
		defaulted int
	}{
		{testExporter, 50, 0},
		{addr4("198.51.100.1"), 7, 2},
	} {
		d := New(cfg)
		var rates []uint64
		st, _ := d.Decode(tc.exporter, 1, biflowMessage([2]uint32{0, 0}, [2]uint32{0, 0}), func(f *record.Flow) { rates = append(rates, f.SamplingRate) })
		if len(rates) != 2 || rates[0] != tc.want || rates[1] != tc.want || st.SamplingDefaulted != tc.defaulted {
			t.Errorf("exporter %s: rates %v (want %d), defaulted %d (want %d)", tc.exporter, rates, tc.want, st.SamplingDefaulted, tc.defaulted)
		}
	}
	// The v5 header's own rate is overridden too.
	res := decodeFile(t, New(Config{SamplingOverrides: mustOverrides(t, map[string]uint64{"::/0": 3, "0.0.0.0/0": 3})}), "logstash__nf5-mikrotik.pcap")
	for _, f := range res.flows {
		if f.SamplingRate != 3 {
			t.Fatalf("v5 flow rate %d, want the override 3", f.SamplingRate)
		}
	}
}

func mustOverrides(t *testing.T, m map[string]uint64) *sampling.Overrides {
	t.Helper()
	o, err := sampling.NewOverrides(m)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestVariableLengthFields: RFC 7011 §7 — a variable-length field starts
// with a 1-byte length, or 255 and a 2-byte length; a value running past
// its set abandons the rest of the set as truncated, keeping the records
// before it.
func TestVariableLengthFields(t *testing.T) {
	// Template 256: sourceIPv4Address (8), then applicationName (96),
	// variable length (65535).
	tmpl := set(2, 1, 0, 0, 2, 0, 8, 0, 4, 0, 96, 0xff, 0xff)
	long := make([]byte, 300)
	record1 := append([]byte{192, 0, 2, 1, 3}, "dns"...)
	record2 := append([]byte{192, 0, 2, 2, 255, 1, 44}, long...) // 255, then 300
	overrun := []byte{192, 0, 2, 3, 200, 'x'}                    // claims 200 bytes, has 1
	var got []record.Flow
	body := append(append(append([]byte{}, record1...), record2...), overrun...)
	_, err := New(Config{}).Decode(testExporter, 1, ipfixMessage(tmpl, set(256, body...)), func(f *record.Flow) { got = append(got, *f) })
	if decodeerr.Reason(err) != decodeerr.Truncated {
		t.Errorf("reason %q, want truncated", decodeerr.Reason(err))
	}
	if len(got) != 2 || got[0].SrcAddr != addr4("192.0.2.1") || got[1].SrcAddr != addr4("192.0.2.2") {
		t.Errorf("flows %+v, want the two whole records", got)
	}
}

// TestBiflowReverseTCPFlags: the reverse record carries the reverse TCP
// flags (reverseTcpControlBits, RFC 5103), and without them 0, unknown,
// never the forward record's flags.
func TestBiflowReverseTCPFlags(t *testing.T) {
	// Template 256: sourceIPv4Address (8), octetDeltaCount (1),
	// tcpControlBits (6), reverseOctetDeltaCount, then in the second case
	// reverseTcpControlBits.
	fields := []byte{0, 8, 0, 4, 0, 1, 0, 4, 0, 6, 0, 1, 0x80, 1, 0, 4, 0, 0, 0x72, 0x79}
	rec := []byte{192, 0, 2, 1, 0, 0, 0, 100, 0x1b, 0, 0, 1, 44}
	for _, tc := range []struct {
		name    string
		reverse bool
		want    uint16
	}{
		{"no reverse flags", false, 0},
		{"reverse flags", true, 0x12},
	} {
		tmpl, data := append([]byte{1, 0, 0, 4}, fields...), rec
		if tc.reverse {
			tmpl = append(append([]byte{1, 0, 0, 5}, fields...), 0x80, 6, 0, 1, 0, 0, 0x72, 0x79)
			data = append(append([]byte(nil), rec...), 0x12)
		}
		var flows []record.Flow
		_, err := New(Config{}).Decode(testExporter, 1, ipfixMessage(set(2, tmpl...), set(256, data...)), func(f *record.Flow) { flows = append(flows, *f) })
		if err != nil || len(flows) != 2 {
			t.Fatalf("%s: err %v, %d flows, want forward and reverse", tc.name, err, len(flows))
		}
		if fwd, rev := flows[0], flows[1]; fwd.TCPFlags != 0x1b || rev.Bytes != 300 || rev.TCPFlags != tc.want {
			t.Errorf("%s: forward flags %#x (want 0x1b), reverse bytes %d flags %#x (want 300, %#x)", tc.name, fwd.TCPFlags, rev.Bytes, rev.TCPFlags, tc.want)
		}
	}
}
