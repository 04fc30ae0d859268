package migrate_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"sluice/internal/reporter"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// BenchmarkInsertViews measures what the materialized views cost an insert
// of 50k flows into the embedded engine: with every view, without the
// narrow rollups' and the exporters table's, and with none. Every column of
// the generated flows is random, so each view writes about as many rows as
// the batch (the worst case).
//
//	go test -run '^$' -bench InsertViews -benchtime 20x ./storage/migrate
func BenchmarkInsertViews(b *testing.B) {
	const batch = 50_000
	builder, err := clickhouse.NewBlockBuilder()
	if err != nil {
		b.Fatal(err)
	}
	builder.AppendFlows(clickhouse.GenerateFlows(batch, 3))
	native, err := builder.EncodeNative(nil)
	if err != nil {
		b.Fatal(err)
	}
	var narrow, all []string
	for _, r := range migrate.Rollups {
		all = append(all, r.QualifiedTable()+"_mv")
		if !slices.Contains([]string{"flows_1m", "flows_5m", "flows_1h"}, r.Table) {
			narrow = append(narrow, r.QualifiedTable()+"_mv")
		}
	}
	exporters := []string{migrate.ExportersTable + "_in_mv", migrate.ExportersTable + "_out_mv"}
	for _, tc := range []struct {
		name string
		drop []string
	}{
		{"every-view", nil},
		{"wide-rollups-only", append(slices.Clone(narrow), exporters...)},
		{"no-view", append(slices.Clone(all), exporters...)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for _, stmt := range []string{"DROP DATABASE IF EXISTS sluice SYNC"} {
				if err := engine.Exec(b.Context(), stmt); err != nil {
					b.Fatal(err)
				}
			}
			m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Migrate(b.Context(), engine.Exec); err != nil {
				b.Fatal(err)
			}
			for _, view := range tc.drop {
				if err := engine.Exec(b.Context(), "DROP VIEW IF EXISTS "+view); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				i++
				if err := engine.InsertNative(b.Context(), migrate.FlowsTable, fmt.Sprintf("views-%s-%d", strings.ToLower(tc.name), i), native); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
