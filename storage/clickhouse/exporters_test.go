package clickhouse

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"sluice/pipeline/record"
	"sluice/storage/schema"
)

// exportersReference is what the exporters views computed for one side of
// flows (GROUP BY every exporter and interface column, max(TimeReceived)),
// computed naively: each row rendered as the decoded values of its columns
// in table order, sorted.
func exportersReference(flows []record.Flow, side string) []string {
	latest := map[string]int64{}
	for i := range flows {
		f := &flows[i]
		var vals []string
		for _, name := range schema.Exporters.ColumnNames()[1:] {
			if !strings.HasPrefix(name, "Exporter") {
				name = side + name
			}
			c, _ := flowColumn(name)
			vals = append(vals, fmt.Sprint(expected(c, f)))
		}
		key := strings.Join(vals, "|")
		if t, ok := latest[key]; !ok || f.TimeReceived > t {
			latest[key] = f.TimeReceived
		}
	}
	var rows []string
	for key, t := range latest {
		c, _ := flowColumn("TimeReceived")
		rows = append(rows, fmt.Sprint(expected(c, &record.Flow{TimeReceived: t}))+"|"+key)
	}
	slices.Sort(rows)
	return rows
}

// decodeRows decodes a Native block and renders each row as
// exportersReference does.
func decodeRows(t *testing.T, native []byte) []string {
	t.Helper()
	decoded := proto.NewBlock()
	if err := decoded.Decode(chproto.NewReader(bytesReader(native)), 0); err != nil {
		t.Fatalf("decode: %v", err)
	}
	names := schema.Exporters.ColumnNames()
	if len(decoded.Columns) != len(names) {
		t.Fatalf("%d columns, want %d", len(decoded.Columns), len(names))
	}
	rows := make([]string, decoded.Rows())
	for ci, col := range decoded.Columns {
		if col.Name() != names[ci] {
			t.Fatalf("column %d is %s, want %s", ci, col.Name(), names[ci])
		}
		for r := range rows {
			if ci > 0 {
				rows[r] += "|"
			}
			rows[r] += fmt.Sprint(normalize(col.Row(r, false)))
		}
	}
	return rows
}

// exportersTestFlows are demo-shaped flows with the cases the views
// handled: an interface renamed and an exporter renamed within the batch
// (two rows each), an interface seen on both sides, and times within one
// second (the latest second wins).
func exportersTestFlows() []record.Flow {
	flows := GenerateDemoShapedFlows(3000, 7)
	flows[10].InIfName = "renamed"
	flows[20].ExporterName = "renamed-exporter"
	flows[30].OutIfDescription = "" // an attribute emptied
	flows[40].TimeReceived = flows[len(flows)-1].TimeReceived + 999_999_999
	return flows
}

func TestExportersBuilderRows(t *testing.T) {
	b, err := NewExportersBuilder()
	if err != nil {
		t.Fatal(err)
	}
	all := exportersTestFlows()
	// Two batches added in turn, then another batch reusing the builder.
	for _, batches := range [][][]record.Flow{{all[:1000], all[1000:]}, {all[:5]}} {
		b.Reset()
		var flows []record.Flow
		for _, batch := range batches {
			b.AddFlows(batch)
			flows = append(flows, batch...)
		}
		in, out := exportersReference(flows, "In"), exportersReference(flows, "Out")
		if b.Rows() != len(in)+len(out) {
			t.Fatalf("%d rows, want %d (input side) + %d (output side)", b.Rows(), len(in), len(out))
		}
		native, err := b.EncodeNative(nil)
		if err != nil {
			t.Fatal(err)
		}
		// The block's own encoding is clickhouse-go's, byte for byte.
		viaClickhouseGo, err := b.block.EncodeNative(nil)
		if err != nil || !bytes.Equal(native, viaClickhouseGo) {
			t.Fatalf("the direct encoding differs from clickhouse-go's (%v)", err)
		}
		got := decodeRows(t, native)
		// The input side's rows come first, as the input view's did.
		gotIn, gotOut := slices.Sorted(slices.Values(got[:len(in)])), slices.Sorted(slices.Values(got[len(in):]))
		if !slices.Equal(gotIn, in) || !slices.Equal(gotOut, out) {
			t.Fatalf("rows:\n%s\n--- input side, want:\n%s\n--- output side, want:\n%s",
				strings.Join(got, "\n"), strings.Join(in, "\n"), strings.Join(out, "\n"))
		}
		// EachColumn gives the same rows' columns.
		var names []string
		err = b.EachColumn(func(name string, values any) error {
			names = append(names, name)
			if name == "IfIndex" && len(values.([]uint32)) != b.Rows() {
				t.Errorf("IfIndex has %d values, want %d", len(values.([]uint32)), b.Rows())
			}
			return nil
		})
		if err != nil || !slices.Equal(names, schema.Exporters.ColumnNames()) {
			t.Fatalf("EachColumn: %v, %v; want the table's columns", names, err)
		}
	}
	// The whole batch holds the renamed interface and exporter.
	b.Reset()
	b.AddFlows(all)
	native, err := b.EncodeNative(nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Join(decodeRows(t, native), "\n")
	for _, want := range []string{"|renamed|", "|renamed-exporter|"} {
		if !strings.Contains(rows, want) {
			t.Errorf("no row holds %q", want)
		}
	}
	b.Reset()
	if b.Rows() != 0 {
		t.Fatalf("%d rows after Reset", b.Rows())
	}
}

// TestExportersBuilderSteadyStateAllocations checks that a batch into a
// reused builder, its encoding included, allocates nothing.
func TestExportersBuilderSteadyStateAllocations(t *testing.T) {
	b, err := NewExportersBuilder()
	if err != nil {
		t.Fatal(err)
	}
	flows := GenerateDemoShapedFlows(5000, 3)
	var native []byte
	run := func() {
		b.Reset()
		b.AddFlows(flows)
		if native, err = b.EncodeNative(native[:0]); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if allocs := testing.AllocsPerRun(10, run); allocs != 0 {
		t.Errorf("a batch into a reused builder allocates %.0f times, want 0", allocs)
	}
}
