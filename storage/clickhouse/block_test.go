package clickhouse

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
)

// TestEncodeNativeRoundTrip decodes the Native block with clickhouse-go and
// checks every value of every row against the flows it came from.
func TestEncodeNativeRoundTrip(t *testing.T) {
	b, err := NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1000, 10} { // the second batch reuses the buffers
		flows := GenerateFlows(n, uint64(n))
		b.Reset()
		b.AppendFlows(flows)
		if b.Rows() != n {
			t.Fatalf("Rows() = %d, want %d", b.Rows(), n)
		}
		native, err := b.EncodeNative(nil)
		if err != nil {
			t.Fatal(err)
		}
		decoded := proto.NewBlock()
		if err := decoded.Decode(chproto.NewReader(bytesReader(native)), 0); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if decoded.Rows() != n || len(decoded.Columns) != len(record.Columns) {
			t.Fatalf("decoded %d rows × %d columns, want %d × %d", decoded.Rows(), len(decoded.Columns), n, len(record.Columns))
		}
		for ci, c := range record.Columns {
			col := decoded.Columns[ci]
			if col.Name() != c.Name || string(col.Type()) != nativeType(c) {
				t.Fatalf("column %d is %s %s, want %s %s", ci, col.Name(), col.Type(), c.Name, nativeType(c))
			}
			for row := range flows {
				got, want := normalize(col.Row(row, false)), expected(c, &flows[row])
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("row %d column %s = %v (%T), want %v (%T)", row, c.Name, got, got, want, want)
				}
			}
		}
	}
}

// normalize makes decoded values comparable with ==.
func normalize(v any) any {
	switch v := v.(type) {
	case net.IP:
		return netip.AddrFrom16([16]byte(v.To16()))
	case time.Time:
		return v.UTC()
	}
	return v
}

// expected returns the value clickhouse-go decodes for a column of a flow.
func expected(c record.Column, f *record.Flow) any {
	switch c.Kind {
	case record.KindUInt8:
		return uint8(c.Uint(f))
	case record.KindUInt16:
		return uint16(c.Uint(f))
	case record.KindUInt32:
		return uint32(c.Uint(f))
	case record.KindUInt64:
		return c.Uint(f)
	case record.KindEnum8:
		return enumValueNames.FindAllStringSubmatch(c.Type, -1)[c.Uint(f)][1]
	case record.KindString:
		return *c.Str(f)
	case record.KindCommunityID:
		return c.Hash(f).String()
	case record.KindFeedSet:
		return record.FeedSet(c.Uint(f)).Names([]string{})
	case record.KindDateTime:
		return time.Unix(int64(c.Uint(f))/1e9, 0).UTC()
	case record.KindDateTime64ms:
		return time.UnixMilli(int64(c.Uint(f))).UTC()
	case record.KindIPv6:
		return netip.AddrFrom16(*c.Addr(f))
	}
	return nil
}

// enumValueNames finds the names of an Enum8 type's values, in value order.
var enumValueNames = regexp.MustCompile(`'([^']*)' = \d+`)

func TestEnumOutOfRangeStoredAsUnknown(t *testing.T) {
	b, err := NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	flows := GenerateFlows(2, 1)
	flows[0].FlowType = 200
	flows[1].FlowType = record.FlowTypeIPFIX
	b.AppendFlows(flows)
	err = b.EachColumn(func(name string, values any) error {
		if name == "FlowType" {
			got := values.([]int8)
			if got[0] != 0 || got[1] != int8(record.FlowTypeIPFIX) {
				t.Errorf("FlowType values = %v, want [0 3]", got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EncodeNative(nil); err != nil {
		t.Fatalf("encode: %v", err)
	}
}

func TestTimeReceivedFloorsToSeconds(t *testing.T) {
	b, err := NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	b.Append(&record.Flow{TimeReceived: 1_700_000_000_999_999_999})
	b.Append(&record.Flow{TimeReceived: -1})
	_ = b.EachColumn(func(name string, values any) error {
		if name == "TimeReceived" {
			if got := values.([]int64); got[0] != 1_700_000_000 || got[1] != -1 {
				t.Errorf("TimeReceived seconds = %v, want [1700000000 -1]", got)
			}
		}
		return nil
	})
}

func TestBuilderRefusesMismatchedColumns(t *testing.T) {
	u := func(*record.Flow) uint64 { return 0 }
	for _, c := range []record.Column{
		{Name: "A", Kind: record.KindUInt16, Type: "UInt32", Uint: u},
		{Name: "B", Kind: record.KindDateTime64ms, Type: "DateTime64(6)", Uint: u},
		{Name: "C", Kind: record.KindEnum8, Type: "UInt8", Uint: u},
		{Name: "D", Kind: record.KindEnum8, Type: "Enum8('a' = 1)", Uint: u},
		{Name: "E", Kind: record.KindIPv6, Type: "IPv6", Uint: u},
		{Name: "F", Kind: record.Kind(99), Type: "String", Uint: u},
	} {
		if _, err := newBlockBuilder([]record.Column{c}); err == nil {
			t.Errorf("column %+v accepted", c)
		}
	}
}

func TestBuilderSteadyStateAllocations(t *testing.T) {
	b, err := NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	flows := GenerateFlows(1000, 2)
	b.AppendFlows(flows)
	allocs := testing.AllocsPerRun(10, func() {
		b.Reset()
		b.AppendFlows(flows)
	})
	if allocs != 0 {
		t.Errorf("appending a batch into reused buffers allocates %.0f times, want 0", allocs)
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, str, ident string }{
		{"plain", `'plain'`, "`plain`"},
		{`it's`, `'it\'s'`, "`it's`"},
		{`a\b`, `'a\\b'`, "`a\\\\b`"},
		{"x`y", "'x`y'", "`x\\`y`"},
		{"nul\x00", `'nul\0'`, "`nul\\0`"},
	} {
		if got := QuoteString(tc.in); got != tc.str {
			t.Errorf("QuoteString(%q) = %s, want %s", tc.in, got, tc.str)
		}
		if got := QuoteIdentifier(tc.in); got != tc.ident {
			t.Errorf("QuoteIdentifier(%q) = %s, want %s", tc.in, got, tc.ident)
		}
	}
}
