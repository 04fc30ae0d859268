package queries_test

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/migrate"
	"sluice/storage/queries"
	"sluice/storage/writer"
)

// benchRows is how many flows BenchmarkTopTalkers stores before timing the
// queries: SLUICE_BENCH_ROWS (default 10 million; README's figures use 100
// million). Run it alone, on a quiet machine:
//
//	go test -run '^$' -bench TopTalkers -benchtime 10x ./storage/queries
func benchRows(b *testing.B) int {
	if v := os.Getenv("SLUICE_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SLUICE_BENCH_ROWS=%q: want a positive number", v)
		}
		return n
	}
	return 10_000_000
}

var benchLoaded int

// loadBenchTraffic stores n flows over one day: 100k sources, 5k
// destinations, 30 exporters, as a mid-size network's day might look.
func loadBenchTraffic(b *testing.B, n int) {
	if benchLoaded == n {
		return
	}
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Migrate(b.Context(), engine.Exec); err != nil {
		b.Fatal(err)
	}
	for _, t := range append([]string{migrate.FlowsTable}, rollupTables()...) {
		if err := engine.Exec(b.Context(), "TRUNCATE TABLE "+t); err != nil {
			b.Fatal(err)
		}
	}
	w, err := writer.New(reporter.New(slog.New(slog.DiscardHandler)), writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const batch = 500_000
	flows := make([]record.Flow, batch)
	start := time.Now()
	for done := 0; done < n; done += batch {
		size := min(batch, n-done)
		for i := range flows[:size] {
			f := &flows[i]
			// Time advances with the batch, as a collector's inserts do.
			t := epoch.Add(time.Duration(float64(24*time.Hour) * (float64(done+i) / float64(n))))
			*f = record.Flow{
				TimeReceived: t.UnixNano(), FlowType: record.FlowTypeIPFIX, SamplingRate: 1000,
				ExporterAddress: record.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(30))}),
				SrcAddr:         record.AddrFrom4([4]byte{10, byte(rng.IntN(2)), byte(rng.IntN(256)), byte(rng.IntN(200))}),
				DstAddr:         record.AddrFrom4([4]byte{203, 0, byte(rng.IntN(25)), byte(rng.IntN(200))}),
				SrcAS:           uint32(64500 + rng.IntN(100)), DstAS: uint32(64600 + rng.IntN(1000)),
				Proto: 6, EType: 0x0800, SrcPort: uint16(rng.IntN(65536)), DstPort: 443,
				InIfIndex: uint32(rng.IntN(48)), OutIfIndex: uint32(rng.IntN(48)),
				Bytes: uint64(64 + rng.IntN(1400)), Packets: 1,
			}
		}
		if err := w.Write(b.Context(), flows[:size], fmt.Sprintf("bench-%d", done)); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.Logf("stored %d flows in %s (%.0f rows/s, generation included)", n, elapsed.Round(time.Second), float64(n)/elapsed.Seconds())
	benchLoaded = n
}

// BenchmarkTopTalkers times top-sources over a day of raw flows, and the
// same day's top source AS from the raw table, the wide 1-minute rollup
// and the AS rollups (1 minute, 1 hour).
func BenchmarkTopTalkers(b *testing.B) {
	n := benchRows(b)
	loadBenchTraffic(b, n)
	for _, table := range append([]string{migrate.FlowsTable}, rollupTables()...) {
		out, err := engine.Query(b.Context(), "SELECT count() FROM "+table, "TSV")
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %s rows", table, strings.TrimSpace(string(out)))
	}
	day := queries.Params{From: epoch, To: epoch.Add(24 * time.Hour), Limit: 10}
	// Retentions that rule tables out steer Build to the table measured.
	rawOnly := migrate.Config{TTL1m: time.Second, TTL5m: time.Second, TTL1h: time.Second}
	upTo1m := migrate.Config{TTL5m: time.Second, TTL1h: time.Second}
	for _, tc := range []struct {
		name, query string
		cfg         migrate.Config
		table       string
		instead     string // read this table, of the same columns, instead
	}{
		{"top-sources/raw", "top-sources", rawOnly, "sluice.flows", ""},
		{"top-src-as/raw", "top-src-as", rawOnly, "sluice.flows", ""},
		{"top-src-as/1m", "top-src-as", upTo1m, "sluice.flows_as_1m", "sluice.flows_1m"},
		{"top-src-as/as-1m", "top-src-as", upTo1m, "sluice.flows_as_1m", ""},
		{"top-src-as/as-1h", "top-src-as", migrate.Config{}, "sluice.flows_as_1h", ""},
	} {
		b.Run(fmt.Sprintf("%s/%dM", tc.name, n/1_000_000), func(b *testing.B) {
			q, _ := queries.Lookup(tc.query)
			built, err := queries.Build(q, day, tc.cfg, epoch.Add(24*time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			if built.Table != tc.table {
				b.Fatalf("%s read %s, want %s", tc.query, built.Table, tc.table)
			}
			sql := built.SQL
			if tc.instead != "" {
				sql = strings.ReplaceAll(sql, built.Table, tc.instead)
			}
			for b.Loop() {
				if _, err := engine.QueryReadOnly(b.Context(), sql, "TSV"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
