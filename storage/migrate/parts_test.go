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
// wide one, the format the queries read; and a flows table that drift
// repair creates again gets the same settings.
func TestInsertSizedPartsAreCompact(t *testing.T) {
	freshSchema(t)
	// No merge between the inserts and the first look at the parts.
	exec(t, "TRUNCATE TABLE sluice.flows", "SYSTEM STOP MERGES sluice.flows")
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	// Half a minute of receive times: both inserts land in one partition.
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
	exec(t, "SYSTEM START MERGES sluice.flows", "OPTIMIZE TABLE sluice.flows FINAL")
	if got := parts(); got != "['Wide:100000']" {
		t.Fatalf("parts after merging them: %s, want one wide part", got)
	}

	settings := func() string {
		return query(t, "SELECT extract(engine_full, 'min_rows_for_wide_part = \\d+, min_bytes_for_wide_part = \\d+') FROM system.tables WHERE database = 'sluice' AND name = 'flows'")
	}
	const want = "min_rows_for_wide_part = 100000, min_bytes_for_wide_part = 0\n"
	if got := settings(); got != want {
		t.Fatalf("settings of the migrated flows table: %q, want %q", got, want)
	}
	exec(t, "DROP TABLE sluice.flows SYNC")
	if err := newMigrator(t).Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if got := settings(); got != want {
		t.Fatalf("settings of the flows table drift repair created: %q, want %q", got, want)
	}
}
