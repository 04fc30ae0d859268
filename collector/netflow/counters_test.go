package netflow

import (
	"encoding/binary"
	"slices"
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
// the same flow's newest total when the record names its flow (start time
// or a flow ID other than 0); a first report, a report of another flow, a
// record naming no flow and a report more than totalsIdle after the
// previous one store the total as sent; a total lower than the flow's
// newest (an older report, late) is stored as 0 and counted, leaving the
// newest in place.
func TestTotalsDifference(t *testing.T) {
	type report struct {
		nameValue      uint64
		bytes, packets uint32
		want           [2]uint64
		at             int64 // received, seconds; 0: the report's number
	}
	for _, tc := range []struct {
		name       string
		ie         uint16
		reports    []report
		outOfOrder int
	}{
		{"start time", 152, []report{
			{1000, 1000, 10, [2]uint64{1000, 10}, 0}, // first report
			{1000, 1500, 15, [2]uint64{500, 5}, 0},   // 500 more since
			{1000, 1500, 15, [2]uint64{0, 0}, 0},     // nothing more
			{2000, 700, 7, [2]uint64{700, 7}, 0},     // another flow of the same key
			{2000, 200, 2, [2]uint64{0, 0}, 0},       // lower: an older report, counted in 700
		}, 1},
		{"older report, late", 152, []report{
			{1000, 1000, 10, [2]uint64{1000, 10}, 0},
			{1000, 1500, 15, [2]uint64{500, 5}, 0},
			{1000, 1200, 12, [2]uint64{0, 0}, 0},   // arrived after 1500: its traffic is in it
			{1000, 1600, 16, [2]uint64{100, 1}, 0}, // against 1500, not 1200
		}, 1},
		{"older report, decoded late", 152, []report{
			{1000, 1000, 10, [2]uint64{1000, 10}, 10},
			{1000, 800, 8, [2]uint64{0, 0}, 9},      // received before the first, decoded after
			{1000, 1300, 13, [2]uint64{300, 3}, 11}, // against 1000
		}, 1},
		{"idle expiry", 152, []report{
			{1000, 1000, 10, [2]uint64{1000, 10}, 1},
			{1000, 1500, 15, [2]uint64{500, 5}, 1 + 7200}, // totalsIdle: still the same flow
			{1000, 2000, 20, [2]uint64{2000, 20}, 2 + 2*7200},
		}, 0},
		{"flow ID", 148, []report{{7, 1000, 10, [2]uint64{1000, 10}, 0}, {7, 1500, 15, [2]uint64{500, 5}, 0}}, 0},
		{"flow ID 0", 148, []report{{0, 1000, 10, [2]uint64{1000, 10}, 0}, {0, 1500, 15, [2]uint64{1500, 15}, 0}}, 0},
		{"unnamed", 0, []report{{0, 1000, 10, [2]uint64{1000, 10}, 0}, {0, 1500, 15, [2]uint64{1500, 15}, 0}}, 0},
	} {
		d := New(Config{})
		outOfOrder := 0
		for i, r := range tc.reports {
			var got [2]uint64
			n := 0
			at := r.at
			if at == 0 {
				at = int64(i + 1)
			}
			stats, err := d.Decode(testExporter, at*1e9, totalsRecord(true, tc.ie, r.nameValue, r.bytes, r.packets), func(f *record.Flow) {
				got, n = [2]uint64{f.Bytes, f.Packets}, n+1
			})
			if err != nil || n != 1 {
				t.Fatalf("%s, report %d: %d records, %v", tc.name, i+1, n, err)
			}
			if got != r.want {
				t.Errorf("%s, report %d (totals %d, %d): stored %v, want %v", tc.name, i+1, r.bytes, r.packets, got, r.want)
			}
			outOfOrder += stats.TotalsOutOfOrder
			if stats.TotalsEvicted != 0 {
				t.Errorf("%s, report %d: %d evicted", tc.name, i+1, stats.TotalsEvicted)
			}
		}
		if outOfOrder != tc.outOfOrder {
			t.Errorf("%s: %d reports counted out of order, want %d", tc.name, outOfOrder, tc.outOfOrder)
		}
	}
}

// TestTotalsReverse: an RFC 5103 biflow's reverse totals are differenced
// apart from its forward ones.
func TestTotalsReverse(t *testing.T) {
	tmpl := []byte{1, 0, 0, 7,
		0, 8, 0, 4, 0, 12, 0, 4, 0, 152, 0, 8, 0, 85, 0, 4, 0, 86, 0, 4,
		0x80, 85, 0, 4, 0, 0, 0x72, 0x79, // reverseOctetTotalCount
		0x80, 86, 0, 4, 0, 0, 0x72, 0x79, // reversePacketTotalCount
	}
	data := func(bytes, packets, revBytes, revPackets uint32) []byte {
		b := []byte{192, 0, 2, 1, 198, 51, 100, 2}
		b = binary.BigEndian.AppendUint64(b, 1000)
		for _, v := range []uint32{bytes, packets, revBytes, revPackets} {
			b = append(b, u32(v)...)
		}
		return b
	}
	d := New(Config{})
	for i, r := range []struct {
		sent [4]uint32
		want [][2]uint64 // forward, reverse
	}{
		{[4]uint32{1000, 10, 4000, 40}, [][2]uint64{{1000, 10}, {4000, 40}}},
		{[4]uint32{1500, 15, 5000, 50}, [][2]uint64{{500, 5}, {1000, 10}}},
		{[4]uint32{1600, 16, 5000, 50}, [][2]uint64{{100, 1}}}, // the reverse direction sent nothing
	} {
		var got [][2]uint64
		msg := ipfixMessage(set(2, tmpl...), set(256, data(r.sent[0], r.sent[1], r.sent[2], r.sent[3])...))
		if _, err := d.Decode(testExporter, int64(i+1)*1e9, msg, func(f *record.Flow) { got = append(got, [2]uint64{f.Bytes, f.Packets}) }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, r.want) {
			t.Errorf("report %d: stored %v, want %v", i+1, got, r.want)
		}
	}
}

// TestTotalsFirewallEventsNotDifferenced: the totals of NSEL firewall
// events are left to the event rule: two teardowns naming one flow ID
// both store their totals whole, an update's none.
func TestTotalsFirewallEventsNotDifferenced(t *testing.T) {
	d := New(Config{})
	for i, r := range []struct {
		event uint8
		bytes uint32
		want  uint64
	}{{2, 1000, 1000}, {2, 1500, 1500}, {5, 2000, 0}} {
		fields := []tf{{8, []byte{192, 0, 2, 1}}, {12, []byte{192, 0, 2, 2}}, {85, u32(r.bytes)}, {86, u32(r.bytes / 100)},
			{148, binary.BigEndian.AppendUint64(nil, 7)}, {233, []byte{r.event}}}
		var got []uint64
		if _, err := d.Decode(testExporter, int64(i+1)*1e9, singleRecord(10, fields...), func(f *record.Flow) { got = append(got, f.Bytes) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != r.want {
			t.Errorf("event %d, total %d: stored %v, want [%d]", r.event, r.bytes, got, r.want)
		}
	}
}

// TestTotalsEviction: a flow whose entry another took while it was live
// is counted (the metric netflow_totals_evicted_total), and its next
// report stored as sent; an entry idle longer than totalsIdle is replaced
// without being counted. One bucket of totalsWays entries here.
func TestTotalsEviction(t *testing.T) {
	d := New(Config{})
	d.totals.buckets = 1
	decode := func(at int64, start uint64, bytes uint32) (stored uint64, evicted int) {
		t.Helper()
		stats, err := d.Decode(testExporter, at*1e9, totalsRecord(true, 152, start, bytes, 1), func(f *record.Flow) { stored = f.Bytes })
		if err != nil {
			t.Fatal(err)
		}
		return stored, stats.TotalsEvicted
	}
	for i := range totalsWays {
		if _, ev := decode(int64(i+1), uint64(i+1), 1000); ev != 0 {
			t.Fatalf("flow %d: %d evicted while the bucket had room", i+1, ev)
		}
	}
	// Flow 2 seen again: flow 1 is the oldest.
	if got, _ := decode(20, 2, 1500); got != 500 {
		t.Fatalf("flow 2 again: stored %d, want 500", got)
	}
	if _, ev := decode(21, 100, 1000); ev != 1 {
		t.Errorf("a new flow in a full bucket of live flows: %d evicted, want 1", ev)
	}
	if got, _ := decode(22, 2, 1600); got != 100 {
		t.Errorf("flow 2 (recently seen, kept): stored %d, want 100", got)
	}
	if got, ev := decode(23, 1, 1700); got != 1700 || ev != 1 {
		t.Errorf("flow 1 after its eviction: stored %d (want 1700, as sent), %d evicted (want 1: flow 3 made room)", got, ev)
	}
	// Long after: every entry is idle, and taking one is no eviction.
	if _, ev := decode(23+7201, 200, 1000); ev != 0 {
		t.Errorf("a new flow among idle entries: %d evicted, want 0", ev)
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
