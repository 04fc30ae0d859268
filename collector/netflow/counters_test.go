package netflow

import (
	"encoding/binary"
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

// totalsRecord is an IPFIX record of addresses, total counters and, when
// named, the flow's start time (IE 152) or ID (IE 148); with the template
// only when withTemplate.
func totalsRecord(withTemplate bool, name uint16, nameValue uint64, bytes, packets uint32) []byte {
	fields := []tf{{8, []byte{192, 0, 2, 1}}, {12, []byte{192, 0, 2, 2}}, {85, u32(bytes)}, {86, u32(packets)}}
	if name != 0 {
		fields = append(fields, tf{name, binary.BigEndian.AppendUint64(nil, nameValue)})
	}
	msg := singleRecord(10, fields...)
	if withTemplate {
		return msg
	}
	var data []byte
	for _, f := range fields {
		data = append(data, f.v...)
	}
	return ipfixMessage(set(256, data...))
}

// TestTotalsDifference: a total counter is stored as the difference from
// the same flow's previous total when the record names its flow (start
// time or flow ID); a first report, a counter reset, a report of another
// flow and a record naming no flow store the total as sent.
func TestTotalsDifference(t *testing.T) {
	type report struct {
		nameValue      uint64
		bytes, packets uint32
		want           [2]uint64
	}
	for _, tc := range []struct {
		name    string
		ie      uint16
		reports []report
	}{
		{"start time", 152, []report{
			{1000, 1000, 10, [2]uint64{1000, 10}}, // first report
			{1000, 1500, 15, [2]uint64{500, 5}},   // 500 more since
			{1000, 1500, 15, [2]uint64{0, 0}},     // nothing more
			{2000, 700, 7, [2]uint64{700, 7}},     // another flow of the same key
			{2000, 200, 2, [2]uint64{200, 2}},     // lower: the exporter restarted
		}},
		{"flow ID", 148, []report{{7, 1000, 10, [2]uint64{1000, 10}}, {7, 1500, 15, [2]uint64{500, 5}}}},
		{"unnamed", 0, []report{{0, 1000, 10, [2]uint64{1000, 10}}, {0, 1500, 15, [2]uint64{1500, 15}}}},
	} {
		d := New(Config{})
		for i, r := range tc.reports {
			var got [2]uint64
			n := 0
			if _, err := d.Decode(testExporter, int64(i+1)*1e9, totalsRecord(i == 0, tc.ie, r.nameValue, r.bytes, r.packets), func(f *record.Flow) {
				got, n = [2]uint64{f.Bytes, f.Packets}, n+1
			}); err != nil || n != 1 {
				t.Fatalf("%s, report %d: %d records, %v", tc.name, i+1, n, err)
			}
			if got != r.want {
				t.Errorf("%s, report %d (totals %d, %d): stored %v, want %v", tc.name, i+1, r.bytes, r.packets, got, r.want)
			}
		}
	}
}

// TestTotalsDifferenceAllocatesNothing: the table costs no allocation per
// record once made.
func TestTotalsDifferenceAllocatesNothing(t *testing.T) {
	d := New(Config{})
	if _, err := d.Decode(testExporter, 1, totalsRecord(true, 152, 1, 100, 1), noEmit); err != nil {
		t.Fatal(err)
	}
	msg := totalsRecord(false, 152, 1, 100, 1)
	now := int64(1)
	if n := testing.AllocsPerRun(100, func() {
		now++
		d.Decode(testExporter, now, msg, noEmit)
	}); n != 0 {
		t.Errorf("%v allocations per datagram, want 0", n)
	}
}
