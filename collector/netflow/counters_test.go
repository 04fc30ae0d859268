package netflow

import (
	"testing"

	"sluice/pipeline/record"
)

// u32 is a 4-byte counter value.
func u32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

// TestCounterRule: the one counter rule (README, "Conventions"). The
// counter used is chosen by what the template has, never by the value: a
// delta of 0 is stored as 0, a total only when there is no delta, and IN
// and OUT counters are never substituted for one another.
func TestCounterRule(t *testing.T) {
	cases := []struct {
		name           string
		fields         []tf
		bytes, packets uint64
	}{
		{"delta 0 present, total set: the delta", []tf{{1, u32(0)}, {2, u32(0)}, {85, u32(5000)}, {86, u32(50)}}, 0, 0},
		{"delta set, total set: the delta", []tf{{85, u32(5000)}, {1, u32(300)}, {86, u32(50)}, {2, u32(3)}}, 300, 3},
		{"total only: the total as sent", []tf{{85, u32(5000)}, {86, u32(50)}}, 5000, 50},
		{"IN 0 present, OUT set: IN", []tf{{1, u32(0)}, {2, u32(0)}, {23, u32(700)}, {24, u32(7)}}, 0, 0},
		{"IN set, OUT set: IN", []tf{{1, u32(100)}, {2, u32(1)}, {23, u32(700)}, {24, u32(7)}}, 100, 1},
		{"OUT only: the record's only count", []tf{{23, u32(700)}, {24, u32(7)}}, 700, 7},
		{"IN total 0, OUT set: IN", []tf{{85, u32(0)}, {86, u32(0)}, {23, u32(700)}, {24, u32(7)}}, 0, 0},
	}
	for _, tc := range cases {
		for _, version := range []int{9, 10} {
			got, ok := decodeOne(t, singleRecord(version, tc.fields...))
			if !ok {
				t.Fatalf("%s (v%d): no record", tc.name, version)
			}
			if got.Bytes != tc.bytes || got.Packets != tc.packets {
				t.Errorf("%s (v%d): %d bytes, %d packets; want %d, %d", tc.name, version, got.Bytes, got.Packets, tc.bytes, tc.packets)
			}
		}
	}
}

// TestReverseCounterRule: the reverse counters of an RFC 5103 biflow
// follow the same rule; a reverse delta of 0 beside a non-zero reverse
// total means the reverse direction sent nothing in this interval: no
// reverse record.
func TestReverseCounterRule(t *testing.T) {
	tmpl := []byte{1, 0, 0, 6,
		0, 8, 0, 4, 0, 12, 0, 4,
		0x80, 1, 0, 4, 0, 0, 0x72, 0x79, // reverseOctetDeltaCount
		0x80, 2, 0, 4, 0, 0, 0x72, 0x79, // reversePacketDeltaCount
		0x80, 85, 0, 4, 0, 0, 0x72, 0x79, // reverseOctetTotalCount
		0x80, 86, 0, 4, 0, 0, 0x72, 0x79, // reversePacketTotalCount
	}
	data := []byte{192, 0, 2, 1, 198, 51, 100, 2}
	data = append(data, u32(0)...)
	data = append(data, u32(0)...)
	data = append(data, u32(8000)...)
	data = append(data, u32(80)...)
	var flows []record.Flow
	if _, err := New(Config{}).Decode(testExporter, 1, ipfixMessage(set(2, tmpl...), set(256, data...)), func(f *record.Flow) { flows = append(flows, *f) }); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 {
		t.Fatalf("%d records, want the forward one only: %+v", len(flows), flows)
	}
}
