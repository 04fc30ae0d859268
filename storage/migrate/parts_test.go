package migrate_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"sluice/internal/reporter"
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

// TestTimeCodecUpgrade checks schema version 13 on a table of version 12:
// the three time columns get plain LZ4 from the version itself, not from
// drift repair, and keep their comments.
func TestTimeCodecUpgrade(t *testing.T) {
	freshSchema(t)
	times := "name IN ('TimeReceived', 'TimeFlowStart', 'TimeFlowEnd')"
	for _, c := range []string{"TimeReceived", "TimeFlowStart", "TimeFlowEnd"} {
		exec(t, "ALTER TABLE sluice.flows MODIFY COLUMN "+c+" CODEC(DoubleDelta, LZ4)")
	}
	exec(t, "DELETE FROM sluice.schema_migrations WHERE version = 13")
	comments := query(t, "SELECT groupArray(comment) FROM (SELECT comment FROM system.columns WHERE database = 'sluice' AND table = 'flows' AND "+times+" ORDER BY position)")
	var log bytes.Buffer
	m, err := migrate.New(reporter.New(slog.New(slog.NewTextHandler(&log, nil))), migrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WithQuery(queryTSV).Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "version=13") || strings.Contains(log.String(), "repairing schema drift") {
		t.Errorf("want version 13 applied and no drift repaired, the log says:\n%s", log.String())
	}
	if got := query(t, "SELECT groupUniqArray(compression_codec) FROM system.columns WHERE database = 'sluice' AND table = 'flows' AND "+times); got != "['CODEC(LZ4)']\n" {
		t.Errorf("time codecs after version 13: %s", got)
	}
	if got := query(t, "SELECT groupArray(comment) FROM (SELECT comment FROM system.columns WHERE database = 'sluice' AND table = 'flows' AND "+times+" ORDER BY position)"); got != comments || !strings.Contains(got, "when the collector received") {
		t.Errorf("comments after version 13: %s, before: %s", got, comments)
	}
}
