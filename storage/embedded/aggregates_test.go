package embedded_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/schema"
)

// realisticFlows returns n flows shaped like the demo's traffic: a few
// exporters, interfaces, AS numbers, sites and countries, so buckets
// really aggregate, sampled counters whose products fit in UInt64, and
// receive times spread over three hours from start, so that every grain
// has several buckets.
func realisticFlows(n int, seed uint64, start time.Time) []record.Flow {
	flows := clickhouse.GenerateFlows(n, seed)
	for i := range flows {
		f := &flows[i]
		j := i + int(seed)
		f.TimeReceived = start.Add(time.Duration(i) * 3 * time.Hour / time.Duration(n)).UnixNano()
		f.ExporterAddress = record.AddrFrom4([4]byte{192, 0, 2, byte(j % 3)})
		f.FlowType = record.FlowType(j % 4)
		f.InIfIndex, f.OutIfIndex = uint32(j%4), uint32(10+j%5)
		f.SrcAS, f.DstAS, f.Proto, f.EType = uint32(64500+j%7), uint32(j%2), uint8(6+11*(j%2)), 0x800
		f.FlowDirection, f.ForwardingStatus = uint8(j%2), uint8(64*(j%3))
		f.Bytes, f.Packets, f.SamplingRate = uint64(j%1500+40), uint64(j%10+1), uint64(1+j%3)*1000
		f.ExporterName = []string{"edge-1", "edge-2", "core-1"}[j%3]
		f.ExporterGroup, f.ExporterRole, f.ExporterSite = "g", "edge", "par"
		f.ExporterRegion, f.ExporterTenant = "eu", ""
		f.InIfName, f.OutIfName = fmt.Sprint("et-0/0/", j%4), fmt.Sprint("xe-1/0/", 10+j%5)
		f.InIfDescription, f.OutIfDescription = "", "uplink"
		f.InIfProvider, f.OutIfProvider, f.InIfConnectivity, f.OutIfConnectivity = "", "transit-a", "", "transit"
		f.InIfSpeed, f.OutIfSpeed = uint64(j%4)*1e9, uint64(j%5)*1e10
		f.InIfBoundary, f.OutIfBoundary = record.Boundary(j%3), record.Boundary((j+1)%3)
		f.SrcCountry, f.DstCountry = []string{"FR", "DE", ""}[j%3], []string{"US", "JP"}[j%2]
		f.SrcNetSite, f.DstNetSite = []string{"par", "ams"}[j%2], []string{"fra", "", "par"}[j%3]
		f.SrcNetTenant, f.DstNetTenant = []string{"acme", ""}[j%2], []string{"globex", "acme"}[j%2]
		f.TrafficDirection = record.TrafficDirection(j % 5)
	}
	return flows
}

// Every rollup and the exporters table are filled from the batches the
// writer stores, and a batch written again under its token (a replay,
// after a restart too) adds nothing anywhere: each rollup's sums equal the
// raw table's for every family and grain, bucket and dimension, and the
// exporters table lists each interface with the latest time it was seen.
// clickhouse.Aggregator, the Go aggregation measured against the views
// (BenchmarkInsertViews), fills copies of the rollups with the same sums.
func TestAggregatesEqualRawAcrossRestartAndReplay(t *testing.T) {
	migrateSchema(t)
	truncate(t)
	if err := engine.Exec(t.Context(), "TRUNCATE TABLE "+migrate.ExportersTable); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 9, 58, 0, 0, time.UTC)
	batches := make([][]record.Flow, 4)
	for i := range batches {
		batches[i] = realisticFlows(6000, uint64(i), start.Add(time.Duration(i)*17*time.Minute))
	}
	token := func(i int) string { return fmt.Sprintf("aggregates-partition-0-offsets-%d", i) }
	w := newWriter(t)
	for i := range 2 {
		if err := w.Write(writeCtx(t), batches[i], token(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Batch 2 inserted by hand under its token, then written: a replay.
	raw, err := clickhouse.NewBlockBuilder()
	if err != nil {
		t.Fatal(err)
	}
	raw.AppendFlows(batches[2])
	if err := engine.Insert(writeCtx(t), migrate.FlowsTable, token(2), raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(writeCtx(t), batches[2], token(2)); err != nil {
		t.Fatal(err)
	}
	// A restart: the engine reopens its data, the schema is migrated again,
	// a new writer (a new aggregator) replays batches 1 and 2 and writes 3.
	if err := engine.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := embedded.DefaultConfig()
	cfg.DataDir = dataDir
	engine, err = embedded.Open(t.Context(), reporter.New(slog.New(slog.DiscardHandler)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	migrateSchema(t)
	w = newWriter(t)
	for _, i := range []int{1, 2, 3, 1} {
		if err := w.Write(writeCtx(t), batches[i], token(i)); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, b := range batches {
		total += len(b)
	}
	if n := count(t, migrate.FlowsTable); n != total {
		t.Fatalf("flows: %d rows, want %d", n, total)
	}
	for _, r := range migrate.Rollups {
		dims := strings.Join(r.Dimensions, ", ")
		secs := int64(r.Interval / time.Second)
		want := query(t, fmt.Sprintf("SELECT toDateTime(intDiv(toUnixTimestamp(TimeReceived), %d) * %d) AS T, %s, "+
			"sum(Bytes * SamplingRate), sum(Packets * SamplingRate), count() FROM sluice.flows GROUP BY T, %s ORDER BY ALL", secs, secs, dims, dims))
		got := query(t, fmt.Sprintf("SELECT TimeReceived, %s, sum(Bytes), sum(Packets), sum(Flows) FROM %s GROUP BY ALL ORDER BY ALL", dims, r.QualifiedTable()))
		if got != want {
			t.Errorf("%s differs from the raw aggregate:\n%.600s\nwant:\n%.600s", r.Table, got, want)
		}
		buckets := strings.Count(query(t, "SELECT DISTINCT TimeReceived FROM "+r.QualifiedTable()), "\n")
		if rows := strings.Count(want, "\n"); rows < 10 || rows >= total || buckets < 3 {
			t.Errorf("%s: %d rows in %d buckets for %d flows: the test aggregates nothing", r.Table, rows, buckets, total)
		}
	}
	checkAggregator(t, batches)
	var in, out, cols []string
	for _, c := range schema.ExporterColumns {
		in, out, cols = append(in, c), append(out, c), append(cols, c)
	}
	for _, c := range schema.InterfaceColumns {
		in, out, cols = append(in, "In"+c+" AS "+c), append(out, "Out"+c+" AS "+c), append(cols, c)
	}
	list := strings.Join(cols, ", ")
	want := query(t, fmt.Sprintf("SELECT %s, max(T) FROM (SELECT %s, TimeReceived AS T FROM sluice.flows UNION ALL SELECT %s, TimeReceived AS T FROM sluice.flows) GROUP BY ALL ORDER BY ALL",
		list, strings.Join(in, ", "), strings.Join(out, ", ")))
	got := query(t, fmt.Sprintf("SELECT %s, max(TimeReceived) FROM %s GROUP BY ALL ORDER BY ALL", list, migrate.ExportersTable))
	if got != want || strings.Count(want, "\n") < 20 {
		t.Errorf("exporters:\n%s\nwant:\n%s", got, want)
	}
	if n := count(t, migrate.ExportersTable); n > 2*len(batches)*strings.Count(want, "\n") {
		t.Errorf("exporters: %d rows: replays were stored", n)
	}
}

// Aggregating a batch into every rollup allocates nothing once the
// aggregator has seen a batch of its shape: its maps, key arena and column
// slices are reused.
func TestAggregatorSteadyStateAllocatesNothing(t *testing.T) {
	a, err := clickhouse.NewAggregator(migrate.Aggregates())
	if err != nil {
		t.Fatal(err)
	}
	flows := realisticFlows(5000, 1, time.Date(2026, 12, 7, 9, 58, 0, 0, time.UTC))
	run := func() {
		a.Reset()
		a.AddFlows(flows)
		a.Build()
	}
	run()
	if n := testing.AllocsPerRun(5, run); n != 0 {
		t.Errorf("aggregating a batch again: %v allocations, want 0", n)
	}
	rows := 0
	for _, b := range a.Blocks() {
		rows += b.Rows()
	}
	if rows == 0 || rows >= 14*len(flows) {
		t.Errorf("%d aggregate rows for %d flows", rows, len(flows))
	}
}

// checkAggregator aggregates the batches with clickhouse.Aggregator, one
// insert per batch and table into a copy of each rollup, and compares
// every copy with its rollup.
func checkAggregator(t *testing.T, batches [][]record.Flow) {
	t.Helper()
	a, err := clickhouse.NewAggregator(migrate.Aggregates())
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(table string) string { return strings.Replace(table, "sluice.", "sluice.copy_", 1) }
	for _, r := range migrate.Rollups {
		for _, stmt := range []string{"DROP TABLE IF EXISTS " + copyOf(r.QualifiedTable()), "CREATE TABLE " + copyOf(r.QualifiedTable()) + " AS " + r.QualifiedTable()} {
			if err := engine.Exec(t.Context(), stmt); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _ = engine.Exec(context.Background(), "DROP TABLE IF EXISTS "+copyOf(r.QualifiedTable())) })
	}
	for i, flows := range batches {
		a.Reset()
		a.AddFlows(flows)
		a.Build()
		for _, blk := range a.Blocks() {
			if blk.Table() == migrate.ExportersTable {
				continue
			}
			if err := engine.Insert(writeCtx(t), copyOf(blk.Table()), fmt.Sprintf("aggregator-%d", i), blk); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range migrate.Rollups {
		sums := "SELECT TimeReceived, " + strings.Join(r.Dimensions, ", ") + ", sum(Bytes), sum(Packets), sum(Flows) FROM %s GROUP BY ALL ORDER BY ALL"
		if got, want := query(t, fmt.Sprintf(sums, copyOf(r.QualifiedTable()))), query(t, fmt.Sprintf(sums, r.QualifiedTable())); got != want {
			t.Errorf("the aggregator's %s differs from the view's:\n%.600s\nwant:\n%.600s", r.Table, got, want)
		}
	}
}
