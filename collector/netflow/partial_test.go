package netflow

import (
	"encoding/binary"
	"testing"

	"sluice/collector/decodeerr"
	"sluice/pipeline/record"
)

// threeRecords is a template (IE 8, 12, 1: 12 bytes a record) and a data
// set of three records with 100, 200 and 300 bytes.
func threeRecords() (tmpl, data []byte) {
	tmpl = []byte{1, 0, 0, 3, 0, 8, 0, 4, 0, 12, 0, 4, 0, 1, 0, 4}
	for _, n := range []byte{1, 2, 3} {
		data = append(data, 192, 0, 2, n, 198, 51, 100, n, 0, 0, 0, 100*n)
	}
	return tmpl, data
}

// TestPartialDataSet: a data set whose declared length runs 2 bytes past
// the end of the datagram keeps its complete records (the first two; the
// third is cut), in NetFlow v9 and IPFIX, and the cut is counted and
// reported as truncated.
func TestPartialDataSet(t *testing.T) {
	tmpl, data := threeRecords()
	v9Tmpl := append([]byte(nil), tmpl...)
	v9Tmpl[1] = 0 // v9 templates have no enterprise bit; the same bytes serve
	messages := map[string][]byte{
		"v9":    v9Message(2, set(0, v9Tmpl...), set(256, data...)),
		"IPFIX": ipfixMessage(set(2, tmpl...), set(256, data...)),
	}
	for name, msg := range messages {
		msg = msg[:len(msg)-2]
		if name == "IPFIX" {
			// The message length says what the datagram holds; the set's
			// own length runs past it.
			binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		}
		var got []uint64
		st, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { got = append(got, f.Bytes) })
		if decodeerr.Reason(err) != decodeerr.Truncated {
			t.Errorf("%s: error %v, want truncated", name, err)
		}
		if len(got) != 2 || got[0] != 100 || got[1] != 200 || st.Flows != 2 {
			t.Errorf("%s: records with bytes %v (stats %+v), want the two complete ones, 100 and 200", name, got, st)
		}
		if st.DataSetsCut != 1 || st.OtherSetsCut != 0 || st.RecordsCut != 0 {
			t.Errorf("%s: stats %+v, want one data set cut", name, st)
		}
	}
}

// TestPartialTemplateSet: a template set cut short is dropped whole (a
// cut template cannot be trusted), counted apart from data sets.
func TestPartialTemplateSet(t *testing.T) {
	tmpl, _ := threeRecords()
	msg := ipfixMessage(set(2, tmpl...))
	msg = msg[:len(msg)-2]
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	st, err := New(Config{}).Decode(testExporter, 1, msg, noEmit)
	if decodeerr.Reason(err) != decodeerr.Truncated || st.OtherSetsCut != 1 || st.DataSetsCut != 0 || st.Templates != 0 {
		t.Errorf("error %v, stats %+v: want truncated, one other set cut, no template", err, st)
	}
}

// TestVariableLengthRecordCut: a variable-length value running past the
// end of its (whole) set is counted as a record cut.
func TestVariableLengthRecordCut(t *testing.T) {
	tmpl := []byte{1, 0, 0, 2, 0, 8, 0, 4, 0, 82, 0xff, 0xff} // interfaceName, variable
	data := []byte{192, 0, 2, 1, 3, 'e', 't', 'h', 192, 0, 2, 2, 9, 'x'}
	st, err := New(Config{}).Decode(testExporter, 1, ipfixMessage(set(2, tmpl...), set(256, data...)), noEmit)
	if decodeerr.Reason(err) != decodeerr.Truncated || st.RecordsCut != 1 || st.Flows != 1 {
		t.Errorf("error %v, stats %+v: want truncated, one record cut, one flow", err, st)
	}
}

// TestCorruptDataSetLength: a data set whose length runs past the end by
// more than a record is corrupt, not cut: the bytes after its header (here
// a template set) would be read as records. It is dropped whole, counted
// apart from cut sets and reported as malformed.
func TestCorruptDataSetLength(t *testing.T) {
	tmpl, data := threeRecords()
	v9Tmpl := append([]byte(nil), tmpl...)
	v9Tmpl[1] = 0
	corrupt := func(s []byte) []byte { binary.BigEndian.PutUint16(s[2:], 0xfff0); return s }
	messages := map[string][]byte{
		"v9":    v9Message(3, set(0, v9Tmpl...), corrupt(set(256, data[:12]...)), set(0, 1, 1, 0, 2, 0, 8, 0, 4, 0, 12, 0, 4)),
		"IPFIX": ipfixMessage(set(2, tmpl...), corrupt(set(256, data[:12]...)), set(2, 1, 1, 0, 2, 0, 8, 0, 4, 0, 12, 0, 4)),
	}
	for name, msg := range messages {
		var got []record.Flow
		st, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { got = append(got, *f) })
		if decodeerr.Reason(err) != decodeerr.Malformed {
			t.Errorf("%s: error %v, want malformed", name, err)
		}
		if len(got) != 0 || st.DataSetsCorrupt != 1 || st.DataSetsCut != 0 {
			t.Errorf("%s: %d records %+v, stats %+v; want none, one corrupt data set", name, len(got), got, st)
		}
	}
}

// TestVariableLengthRecordCutBySetEnd: in a data set cut short, the cut
// record may have a long variable-length value: the set's overrun is
// longer than the template's shortest record, but within the cut record as
// its length prefix gives it, so the set is a cut one, and its complete
// records are kept.
func TestVariableLengthRecordCutBySetEnd(t *testing.T) {
	tmpl := []byte{1, 0, 0, 2, 0, 8, 0, 4, 0, 82, 0xff, 0xff} // interfaceName, variable
	data := []byte{192, 0, 2, 1, 3, 'e', 't', 'h', 192, 0, 2, 2, 255, 1, 44}
	data = append(data, make([]byte, 300)...) // a 300-byte name
	for _, cutBy := range []int{1, 150, 299} {
		msg := ipfixMessage(set(2, tmpl...), set(256, data...))
		msg = msg[:len(msg)-cutBy]
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		st, err := New(Config{}).Decode(testExporter, 1, msg, noEmit)
		if decodeerr.Reason(err) != decodeerr.Truncated || st.Flows != 1 || st.DataSetsCut != 1 || st.DataSetsCorrupt != 0 || st.RecordsCut != 0 {
			t.Errorf("cut by %d: error %v, stats %+v: want truncated, one flow, one data set cut", cutBy, err, st)
		}
	}
}

// TestIPFIXMessageLongerThanDatagram: an IPFIX message length larger than
// the datagram is a datagram cut short: the sets are bounded by the
// datagram, and the cut data set keeps its complete records.
func TestIPFIXMessageLongerThanDatagram(t *testing.T) {
	tmpl, data := threeRecords()
	msg := ipfixMessage(set(2, tmpl...), set(256, data...))
	msg = msg[:len(msg)-2] // the message length still counts them
	var got []uint64
	st, err := New(Config{}).Decode(testExporter, 1, msg, func(f *record.Flow) { got = append(got, f.Bytes) })
	if decodeerr.Reason(err) != decodeerr.Truncated || len(got) != 2 || got[0] != 100 || got[1] != 200 || st.DataSetsCut != 1 || st.DataSetsCorrupt != 0 {
		t.Errorf("error %v, records %v, stats %+v: want truncated, the two complete records, one data set cut", err, got, st)
	}
}
