package clickhouse

import (
	"strings"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
	"sluice/storage/schema"
)

// A counters batch encodes as a Native block whose columns are
// schema.Counters', in order, with its types, and decodes back to the
// values appended (times in seconds, floored).
func TestTableBuilderCounters(t *testing.T) {
	b, err := NewTableBuilder(&schema.Counters)
	if err != nil {
		t.Fatal(err)
	}
	rows := []record.Counter{
		{TimeReceived: 1_700_000_000_999_999_999, ExporterAddress: record.AddrFrom4([4]byte{192, 0, 2, 1}), IfIndex: 7, HasEthernet: true, IfInOctets: 1 << 63},
		{TimeReceived: -1, IfIndex: 8, SourceIDType: 2},
	}
	for round := range 2 { // a reset builder encodes the same
		b.Reset()
		b.AppendRows(rows)
		data, err := b.EncodeNative(nil)
		if err != nil {
			t.Fatal(err)
		}
		block := proto.NewBlock()
		if err := block.Decode(chproto.NewReader(strings.NewReader(string(data))), 0); err != nil {
			t.Fatalf("round %d: decode: %v", round, err)
		}
		if got, want := strings.Join(block.ColumnsNames(), ","), strings.Join(schema.Counters.ColumnNames(), ","); got != want {
			t.Fatalf("columns %s, want %s", got, want)
		}
		if block.Rows() != len(rows) {
			t.Fatalf("%d rows, want %d", block.Rows(), len(rows))
		}
		for i, c := range schema.Counters.Columns {
			if got := string(block.Columns[i].Type()); got != c.Type {
				t.Errorf("column %s: type %s, want %s", c.Name, got, c.Type)
			}
		}
		col := func(name string) int {
			for i, n := range block.ColumnsNames() {
				if n == name {
					return i
				}
			}
			t.Fatalf("no column %s", name)
			return -1
		}
		for _, check := range []struct {
			column string
			row    int
			want   any
		}{
			{"IfIndex", 1, uint32(8)},
			{"SourceIDType", 1, uint8(2)},
			{"HasEthernet", 0, true},
			{"HasGeneric", 0, false},
			{"IfInOctets", 0, uint64(1 << 63)},
		} {
			if got := block.Columns[col(check.column)].Row(check.row, false); got != check.want {
				t.Errorf("%s row %d = %v, want %v", check.column, check.row, got, check.want)
			}
		}
		if tm, ok := block.Columns[col("TimeReceived")].Row(0, false).(time.Time); !ok || tm.Unix() != 1_700_000_000 {
			t.Errorf("TimeReceived row 0 = %v, want the second, floored", tm)
		}
	}
	if b.Rows() != len(rows) {
		t.Errorf("Rows = %d", b.Rows())
	}
	var names []string
	if err := b.EachColumn(func(name string, values any) error {
		names = append(names, name)
		return nil
	}); err != nil || len(names) != len(schema.Counters.Columns) {
		t.Errorf("EachColumn: %d columns, %v", len(names), err)
	}
}

// A declaration the writer cannot fill is refused when the builder is made,
// not at the first insert.
func TestTableBuilderRefusesBadDeclarations(t *testing.T) {
	for name, cols := range map[string][]schema.Column[record.Counter]{
		"no accessor":    {{Name: "A", Type: "UInt32"}},
		"wrong accessor": {{Name: "A", Type: "IPv6", Uint: func(*record.Counter) uint64 { return 0 }}},
		"string type":    {{Name: "A", Type: "String", Uint: func(*record.Counter) uint64 { return 0 }}},
	} {
		if _, err := NewTableBuilder(&schema.Table[record.Counter]{Name: "t", Columns: cols}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
