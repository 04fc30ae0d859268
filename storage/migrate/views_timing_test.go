package migrate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// BenchmarkInsertViews measures what filling the rollups and the exporters
// table costs an insert of 50k flows into the embedded engine, by each way
// of filling them, on the same batches:
//
//   - views-groupby: schema 9's 14 materialized views, each a GROUP BY of
//     the inserted block (12 rollups, 2 for the exporters table);
//   - views-cascaded: the 1-minute rollups from the flows, the 5-minute and
//     hourly ones from the 1-minute tables' blocks;
//   - views-bucketing: Akvorado's manner, views that only bucket
//     TimeReceived and scale the counters, leaving the summing to the
//     SummingMergeTree's merges (the exporters views as in schema 9);
//   - go-aggregates: no view; clickhouse.Aggregator sums the batch in Go
//     and each table's block is inserted under a token of its own;
//   - hybrid: GROUP BY views for the wide and interface families, whose
//     rows are nearly as many as the batch's, and the Go aggregation for
//     the AS and network families and the exporters table, which it
//     shrinks to a few thousand rows;
//   - no-view: the raw table alone, the bound;
//   - views-1m, only-*, *-noexp: the same views less some (the coarse
//     grains, all but one, the exporters views), to tell what each costs;
//   - *-compact: with parts of flows up to 256 MiB written compact (since
//     schema version 12 every case writes parts under 100,000 rows
//     compact; the figures in BENCHMARKS.md's first two rounds predate it).
//
// Two shapes of batch: demo-shaped (clickhouse.GenerateDemoShapedFlows:
// 64 exporters, 16 interfaces each, a thousand AS numbers, half a minute),
// and random, where every column is random and each rollup gets about as
// many rows as the batch (the worst case).
//
//	go test -run '^$' -bench InsertViews -benchtime 10x ./storage/migrate
func BenchmarkInsertViews(b *testing.B) {
	for _, shape := range []struct {
		name     string
		generate func(n int, seed uint64) []record.Flow
		batch    int
	}{
		{"demo-shaped", clickhouse.GenerateDemoShapedFlows, 50_000},
		{"demo-shaped-100k", clickhouse.GenerateDemoShapedFlows, 100_000},
		{"demo-shaped-25k", clickhouse.GenerateDemoShapedFlows, 25_000},
		{"random", clickhouse.GenerateFlows, 50_000},
	} {
		batch := shape.batch
		var inputs [4][]record.Flow
		natives := make([][]byte, len(inputs))
		for i := range inputs {
			inputs[i] = shape.generate(batch, uint64(i+3))
			builder, err := clickhouse.NewBlockBuilder()
			if err != nil {
				b.Fatal(err)
			}
			builder.AppendFlows(inputs[i])
			if natives[i], err = builder.EncodeNative(nil); err != nil {
				b.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name  string
			views func() []string
			goAgg bool
			alter []string
		}{
			{"views-groupby", groupByViews, false, nil},
			{"views-1m", oneMinuteViews(false), false, nil},
			{"views-1m-narrow", oneMinuteViews(true), false, nil},
			{"views-groupby-compact", groupByViews, false, compactParts},
			{"views-1m-compact", oneMinuteViews(false), false, compactParts},
			{"views-1m-narrow-compact", oneMinuteViews(true), false, compactParts},
			{"no-view-compact", nil, false, compactParts},
			{"groupby-noexp", withoutExporters(groupByViews), false, nil},
			{"groupby-noexp-compact", withoutExporters(groupByViews), false, compactParts},
			{"cascaded-noexp-compact", withoutExporters(cascadedViews), false, compactParts},
			{"bucketing-noexp-compact", withoutExporters(bucketingViews), false, compactParts},
			{"1m-noexp-compact", withoutExporters(oneMinuteViews(false)), false, compactParts},
			{"only-exporters-compact", onlyViews(""), false, compactParts},
			{"only-as-1m-compact", onlyViews("flows_as_1m"), false, compactParts},
			{"only-net-1m-compact", onlyViews("flows_net_1m"), false, compactParts},
			{"only-if-1m-compact", onlyViews("flows_if_1m"), false, compactParts},
			{"only-wide-1m-compact", onlyViews("flows_1m"), false, compactParts},
			{"views-cascaded", cascadedViews, false, nil},
			{"views-bucketing", bucketingViews, false, nil},
			{"go-aggregates", nil, true, nil},
			{"hybrid", wideViews, true, nil},
			{"no-view", nil, false, nil},
		} {
			b.Run(shape.name+"/"+tc.name, func(b *testing.B) {
				freshRawTable(b)
				for _, stmt := range tc.alter {
					if err := engine.Exec(b.Context(), stmt); err != nil {
						b.Fatal(err)
					}
				}
				if tc.views != nil {
					for _, stmt := range tc.views() {
						if err := engine.Exec(b.Context(), stmt); err != nil {
							b.Fatal(err)
						}
					}
				}
				families := migrate.Aggregates()
				if tc.views != nil {
					families = narrowFamilies(families)
				}
				agg, err := clickhouse.NewAggregator(families)
				if err != nil {
					b.Fatal(err)
				}
				run := time.Now().UnixNano()
				b.ReportAllocs()
				cpu := clickhouse.ProcessCPU()
				i := 0
				for b.Loop() {
					token := fmt.Sprintf("views-%d-%d", run, i)
					if err := engine.InsertNative(b.Context(), migrate.FlowsTable, token, natives[i%len(natives)]); err != nil {
						b.Fatal(err)
					}
					if tc.goAgg {
						agg.Reset()
						agg.AddFlows(inputs[i%len(inputs)])
						agg.Build()
						for _, blk := range agg.Blocks() {
							if blk.Rows() == 0 {
								continue
							}
							if err := engine.Insert(b.Context(), blk.Table(), token+"/"+blk.Name(), blk); err != nil {
								b.Fatal(err)
							}
						}
					}
					i++
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric((clickhouse.ProcessCPU()-cpu).Seconds()/float64(batch*b.N)*1e6, "cpu-s/Mrows")
			})
		}
	}
}

// truncates maps a rollup grain to the function flooring TimeReceived to it.
var truncates = map[time.Duration]string{time.Minute: "toStartOfMinute", 5 * time.Minute: "toStartOfFiveMinutes", time.Hour: "toStartOfHour"}

func groupByViews() []string {
	var stmts []string
	for _, r := range migrate.Rollups {
		stmts = append(stmts, migrate.CreateRollupView(r, migrate.Config{}))
	}
	return append(stmts, migrate.ExportersViews(migrate.Config{})...)
}

// compactParts writes insert-sized parts of flows compact (one data
// file for every column) rather than wide (two files a column).
var compactParts = []string{"ALTER TABLE sluice.flows MODIFY SETTING min_rows_for_wide_part = 0, min_bytes_for_wide_part = 268435456"}

// oneMinuteViews are the GROUP BY views of the 1-minute grain only (the
// coarser grains filled otherwise), optionally without the wide family.
func oneMinuteViews(narrow bool) func() []string {
	return func() []string {
		var stmts []string
		for _, r := range migrate.Rollups {
			if r.Interval != time.Minute || narrow && !strings.Contains(strings.TrimPrefix(r.Table, "flows_"), "_") {
				continue
			}
			stmts = append(stmts, migrate.CreateRollupView(r, migrate.Config{}))
		}
		return append(stmts, migrate.ExportersViews(migrate.Config{})...)
	}
}

// withoutExporters leaves out the exporters table's views.
func withoutExporters(views func() []string) func() []string {
	return func() []string {
		var out []string
		for _, v := range views() {
			if !strings.Contains(v, migrate.ExportersTable+"_") {
				out = append(out, v)
			}
		}
		return out
	}
}

// onlyViews is one rollup's GROUP BY view, or with "" the exporters views.
func onlyViews(table string) func() []string {
	return func() []string {
		if table == "" {
			return migrate.ExportersViews(migrate.Config{})
		}
		for _, r := range migrate.Rollups {
			if r.Table == table {
				return []string{migrate.CreateRollupView(r, migrate.Config{})}
			}
		}
		panic(table)
	}
}

func cascadedViews() []string {
	var stmts []string
	finer := map[string]string{}
	for _, r := range migrate.Rollups {
		dims := strings.Join(r.Dimensions, ", ")
		if r.Interval == time.Minute {
			stmts = append(stmts, migrate.CreateRollupView(r, migrate.Config{}))
			finer[dims] = r.QualifiedTable()
			continue
		}
		stmts = append(stmts, fmt.Sprintf("CREATE MATERIALIZED VIEW %s_mv TO %s AS SELECT %s(TimeReceived) AS TimeReceived, %s, "+
			"sum(Bytes) AS Bytes, sum(Packets) AS Packets, sum(Flows) AS Flows FROM %s GROUP BY TimeReceived, %s",
			r.QualifiedTable(), r.QualifiedTable(), truncates[r.Interval], dims, finer[dims], dims))
	}
	return append(stmts, migrate.ExportersViews(migrate.Config{})...)
}

func bucketingViews() []string {
	var stmts []string
	for _, r := range migrate.Rollups {
		stmts = append(stmts, fmt.Sprintf("CREATE MATERIALIZED VIEW %s_mv TO %s AS SELECT %s(TimeReceived) AS TimeReceived, %s, "+
			"Bytes * SamplingRate AS Bytes, Packets * SamplingRate AS Packets, toUInt64(1) AS Flows FROM %s",
			r.QualifiedTable(), r.QualifiedTable(), truncates[r.Interval], strings.Join(r.Dimensions, ", "), migrate.FlowsTable))
	}
	return append(stmts, migrate.ExportersViews(migrate.Config{})...)
}

// wideViews are the GROUP BY views of the wide and interface families.
func wideViews() []string {
	var stmts []string
	for _, r := range migrate.Rollups {
		if strings.HasPrefix(r.Table, "flows_if_") || !strings.Contains(strings.TrimPrefix(r.Table, "flows_"), "_") {
			stmts = append(stmts, migrate.CreateRollupView(r, migrate.Config{}))
		}
	}
	return stmts
}

// narrowFamilies are the families hybrid aggregates in Go: AS, networks,
// the exporters table.
func narrowFamilies(all []clickhouse.AggregateFamily) []clickhouse.AggregateFamily {
	var out []clickhouse.AggregateFamily
	for _, f := range all {
		t := f.Grains[0].Table
		if strings.HasPrefix(t, "sluice.flows_as_") || strings.HasPrefix(t, "sluice.flows_net_") || t == migrate.ExportersTable {
			out = append(out, f)
		}
	}
	return out
}
