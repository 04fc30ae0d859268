package migrate_test

import (
	"fmt"
	"strings"
	"testing"

	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// TestInsertSizedPartsAreCompact checks schema version 12 on the engine:
// an insert of the writer's default batch (50,000 rows) into a migrated
// flows table writes a compact part, and merging two of them writes a
// wide one, the format the queries read.
func TestInsertSizedPartsAreCompact(t *testing.T) {
	freshSchema(t)
	exec(t, "TRUNCATE TABLE sluice.flows")
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	// One minute of receive times: both inserts land in one partition.
	flows := clickhouse.GenerateDemoShapedFlows(100_000, 1)
	for i, half := range [][]int{{0, 50_000}, {50_000, 100_000}} {
		builder.Reset()
		builder.AppendFlows(flows[half[0]:half[1]])
		native, err := builder.EncodeNative(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.InsertNative(t.Context(), migrate.FlowsTable, fmt.Sprint("parts-", i), native); err != nil {
			t.Fatal(err)
		}
	}
	parts := func() string {
		return strings.TrimSpace(query(t, "SELECT groupArray(part_type || ':' || toString(rows)) FROM (SELECT part_type, rows FROM system.parts "+
			"WHERE database = 'sluice' AND table = 'flows' AND active ORDER BY name)"))
	}
	if got := parts(); got != "['Compact:50000','Compact:50000']" {
		t.Fatalf("parts after two inserts of 50,000 rows: %s, want two compact ones", got)
	}
	exec(t, "OPTIMIZE TABLE sluice.flows FINAL")
	if got := parts(); got != "['Wide:100000']" {
		t.Fatalf("parts after merging them: %s, want one wide part", got)
	}
}
