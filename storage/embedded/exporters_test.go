package embedded_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
	"sluice/storage/schema"
)

// The writer fills the exporters table by itself, without the views that
// filled it from the flows until schema version 11: the table (read with FINAL)
// holds what their SQL gives from the raw table, the latest attributes of
// each exporter's interface, through interfaces renamed between batches
// and within one; a batch replayed under its token adds no row.
func TestWriterFillsExportersWithoutViews(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.ExportersTable); err != nil {
		t.Fatal(err)
	}
	if n := query(t, "SELECT count() FROM system.tables WHERE database = 'sluice' AND name LIKE 'exporters%_mv'"); n != "0\n" {
		t.Fatalf("exporters views left by the schema: %s", n)
	}

	start := time.Date(2026, 12, 7, 9, 58, 0, 0, time.UTC)
	batches := [][]record.Flow{
		clickhouse.GenerateDemoShapedFlows(20_000, 1),
		realisticFlows(6000, 5, start),
		realisticFlows(3000, 6, start.Add(4*time.Hour)),
		realisticFlows(3000, 0, start.Add(8*time.Hour)),
	}
	// Between batches: the input interface 1 of every exporter is renamed
	// in the last batch.
	last := batches[len(batches)-1]
	for i := range last {
		if last[i].InIfIndex == 1 {
			last[i].InIfName = "renamed-between"
		}
	}
	// Within a batch: exporter 192.0.2.2's input interface 2 takes another
	// name and description in the second half of the last batch (its
	// times are later), and one flow of the first half carries a third
	// description.
	renamedWithin := 0
	for i := range last {
		f := &last[i]
		if f.ExporterAddress != record.AddrFrom4([4]byte{192, 0, 2, 2}) || f.InIfIndex != 2 {
			continue
		}
		switch {
		case i >= len(last)/2:
			f.InIfName, f.InIfDescription = "renamed-within", "moved"
			renamedWithin++
		case renamedWithin == 0 && i > 100:
			f.InIfDescription = "briefly"
			renamedWithin = -1
		}
	}
	if renamedWithin <= 0 {
		t.Fatal("the test flows rename nothing within a batch")
	}

	w, metrics := newWriterMetrics(t)
	token := func(i int) string { return fmt.Sprintf("exporters-partition-1-offsets-%d", i) }
	for i, b := range batches {
		if err := w.Write(writeCtx(t), b, token(i)); err != nil {
			t.Fatal(err)
		}
	}
	written := count(t, migrate.ExportersTable)
	if inserted := int(counterValue(t, metrics, "sluice_storage_writer_exporter_rows_inserted_total")); written != inserted {
		t.Errorf("exporters: %d rows, the writer inserted %d", written, inserted)
	}
	// A replay under the batch's token (the last, renamed within) adds no
	// row, as the views deduplicated theirs.
	if err := w.Write(writeCtx(t), last, token(len(batches)-1)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, migrate.ExportersTable); n != written {
		t.Errorf("exporters: %d rows after a replay, %d before", n, written)
	}

	got := query(t, "SELECT "+strings.Join(schema.Exporters.ColumnNames(), ", ")+" FROM "+migrate.ExportersTable+
		" FINAL ORDER BY ExporterAddress, IfIndex")
	want := query(t, latestExportersSQL())
	if got != want {
		t.Errorf("exporters FINAL:\n%s\nwant (the views' SQL over the raw table):\n%s", got, want)
	}
	// 64 demo exporters × 16 interfaces, 3 realistic exporters × 9.
	if n := strings.Count(want, "\n"); n != 64*16+3*9 {
		t.Errorf("%d interfaces, want %d", n, 64*16+3*9)
	}
	for _, name := range []string{"\trenamed-between\t", "\trenamed-within\tmoved\t"} {
		if !strings.Contains(got, name) {
			t.Errorf("exporters: no interface %q", strings.Trim(name, "\t"))
		}
	}
	// The last batch's rename gave a row per variant, as the views' GROUP
	// BY did: the description seen on one flow only is a row of its own.
	for _, desc := range []string{"briefly", "moved"} {
		if n := query(t, "SELECT count() FROM "+migrate.ExportersTable+" WHERE IfDescription = '"+desc+"'"); n != "1\n" {
			t.Errorf("exporters: %s rows described %q, want 1", strings.TrimSpace(n), desc)
		}
	}
}

// latestExportersSQL is what the exporters views and the table's FINAL
// gave from the raw table: each side's rows grouped by every exporter and
// interface column with their latest time (migrate's exportersSelect),
// then for each exporter address and interface index the latest row.
func latestExportersSQL() string {
	side := func(s string) string {
		var cols, keys []string
		for _, c := range schema.ExporterColumns {
			cols, keys = append(cols, c), append(keys, c)
		}
		for _, c := range schema.InterfaceColumns {
			cols, keys = append(cols, s+c+" AS "+c), append(keys, c)
		}
		return fmt.Sprintf("SELECT max(TimeReceived) AS TimeReceived, %s FROM %s GROUP BY %s",
			strings.Join(cols, ", "), migrate.FlowsTable, strings.Join(keys, ", "))
	}
	return fmt.Sprintf("SELECT %s FROM (%s UNION ALL %s) ORDER BY ExporterAddress, IfIndex, TimeReceived DESC LIMIT 1 BY ExporterAddress, IfIndex",
		strings.Join(schema.Exporters.ColumnNames(), ", "), side("In"), side("Out"))
}
