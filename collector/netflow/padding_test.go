package netflow

import (
	"fmt"
	"testing"

	"sluice/pipeline/record"
)

// decodeAll decodes msg with a fresh decoder and returns its flows.
func decodeAll(t *testing.T, msg []byte) []record.Flow {
	t.Helper()
	var flows []record.Flow
	st, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { flows = append(flows, *f) })
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if st.Flows != len(flows) {
		t.Fatalf("stats count %d flows, %d emitted", st.Flows, len(flows))
	}
	return flows
}

// TestPaddingAfterVariableLengthRecords: RFC 7011 §3.3.1 — zero padding
// may end a set and is not records. With a variable-length field a record
// can be a single length byte, so each padding zero once parsed as an
// empty record; a short all-zero rest is padding.
func TestPaddingAfterVariableLengthRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tmpl    []byte // template 256
		records []byte
		want    int
	}{
		// applicationName (IE 96), variable length: the shortest record is 1 byte.
		{"variable only", []byte{1, 0, 0, 1, 0, 96, 0xff, 0xff}, append([]byte{3}, "dns"...), 1},
		// sourceIPv4Address (IE 8), then applicationName: 5 bytes at least,
		// so 5 to 7 bytes of padding (8-octet alignment) parsed as a record.
		{"fixed and variable", []byte{1, 0, 0, 2, 0, 8, 0, 4, 0, 96, 0xff, 0xff}, append([]byte{192, 0, 2, 1, 3}, "dns"...), 1},
		// applicationName then protocolIdentifier (IE 4): a record with an
		// empty name ends in zeros but is not all zero, so it is a record.
		{"record with zeros", []byte{1, 0, 0, 2, 0, 96, 0xff, 0xff, 0, 4, 0, 1}, append(append([]byte{3}, "dns"...), 17, 0, 6), 2},
	} {
		for pad := 0; pad <= maxPadding; pad++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, pad), func(t *testing.T) {
				body := append(append([]byte(nil), tc.records...), make([]byte, pad)...)
				flows := decodeAll(t, ipfixMessage(set(2, tc.tmpl...), set(256, body...)))
				if len(flows) != tc.want {
					t.Fatalf("%d flows, want %d", len(flows), tc.want)
				}
				if tc.want == 2 && (flows[0].Proto != 17 || flows[1].Proto != 6) {
					t.Errorf("protocols %d, %d, want 17, 6", flows[0].Proto, flows[1].Proto)
				}
			})
		}
	}
}

// TestPaddingAfterFixedLengthRecords: with fixed-length fields, padding is
// shorter than a record (RFC 7011 §3.3.1, RFC 3954 §5.3 with erratum
// 2096): the records are exactly those that fit, and a record of zeros
// that fits is a record.
func TestPaddingAfterFixedLengthRecords(t *testing.T) {
	// Template 256: sourceIPv4Address (IE 8), protocolIdentifier (IE 4): 5 bytes.
	tmpl := []byte{1, 0, 0, 2, 0, 8, 0, 4, 0, 4, 0, 1}
	records := []byte{192, 0, 2, 1, 6, 192, 0, 2, 2, 17, 192, 0, 2, 3, 1}
	for pad := 0; pad <= 4; pad++ {
		body := append(append([]byte(nil), records...), make([]byte, pad)...)
		ipfix := ipfixMessage(set(2, tmpl...), set(256, body...))
		v9 := v9Message(4, set(0, tmpl...), set(256, body...))
		for name, msg := range map[string][]byte{"IPFIX": ipfix, "v9": v9} {
			flows := decodeAll(t, msg)
			if len(flows) != 3 || flows[0].Proto != 6 || flows[1].Proto != 17 || flows[2].Proto != 1 || flows[2].SrcAddr != addr4("192.0.2.3") {
				t.Errorf("%s, %d bytes of padding: %d flows, want the 3 records", name, pad, len(flows))
			}
		}
	}
	// Template 257: sourceTransportPort (IE 7), 2 bytes. Two zero bytes are
	// as long as a record, so not padding: a record (port 0).
	flows := decodeAll(t, ipfixMessage(set(2, 1, 1, 0, 1, 0, 7, 0, 2), set(257, 0, 53, 0, 0)))
	if len(flows) != 2 || flows[0].SrcPort != 53 || flows[1].SrcPort != 0 {
		t.Errorf("2-byte records: %d flows, want ports 53 and 0", len(flows))
	}
}
