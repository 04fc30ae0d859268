package detect

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/migrate"
)

// BenchmarkBeaconing times beaconing's hour over SLUICE_BENCH_ROWS flows
// (default 5 million) of three shapes, each in an hour of its own three
// days back, out of the tests' way:
//   - new-pairs: every flow a pair of its own, as scans and one-off
//     connections are: the pre-filter drops them all;
//   - dense: a connection every 6 s per pair, too fast to beacon, as the
//     benchmark's replayed traffic is: every pair passes the pre-filter;
//   - beacons: a connection every 36 s per pair, every pair a beacon: the
//     worst case, all passes before the exact query are pure cost.
//
// Run it alone, on a quiet machine (BENCHMARKS.md, fifth round):
//
//	go test -run '^$' -bench Beaconing -benchtime 3x ./storage/detect
func BenchmarkBeaconing(b *testing.B) {
	n := 5_000_000
	if v := os.Getenv("SLUICE_BENCH_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("SLUICE_BENCH_ROWS=%q: want a number of at least 1000", v)
		}
	}
	r := reporter.New(slog.New(slog.DiscardHandler))
	m, err := migrate.New(r, migrate.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Migrate(b.Context(), engine.Exec); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.MaxQueryTime = time.Hour
	var beaconing *detection
	for i := range detections {
		if detections[i].name == Beaconing {
			beaconing = &detections[i]
		}
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
	for i, shape := range []struct {
		name  string
		pairs int // 0: every flow its own pair
		want  int // beacons
	}{{"new-pairs", 0, 0}, {"dense", n / 600, 0}, {"beacons", n / 100, n / 100}} {
		begin := base.Add(time.Duration(2*i) * time.Hour)
		end := begin.Add(time.Hour)
		loadBeaconTraffic(b, n, shape.pairs, begin)
		b.Run(fmt.Sprintf("%s/%dM", shape.name, n/1_000_000), func(b *testing.B) {
			q, err := beaconing.query(&cfg, end.Add(-cfg.Step), end)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				out, err := engine.Query(b.Context(), q, "TSV")
				if err != nil {
					b.Fatal(err)
				}
				if got := bytes.Count(out, []byte{'\n'}); got != shape.want {
					b.Fatalf("%d beacons, want %d", got, shape.want)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(n)*1e6, "s/Mflows")
		})
	}
}

// loadBeaconTraffic inserts n TCP flows to port 443 evenly over the hour
// from begin, each from a new client port; with pairs > 0 flow k belongs
// to pair k mod pairs, so each pair connects every pairs×3600/n seconds.
func loadBeaconTraffic(b *testing.B, n, pairs int, begin time.Time) {
	b.Helper()
	src, dst, port := "167772160 + number", "3232235520 + intDiv(number, 7) % 65536", "number"
	if pairs > 0 {
		src = fmt.Sprintf("167772160 + number %% %d %% 5000", pairs)
		dst = fmt.Sprintf("3232235520 + intDiv(number %% %d, 5000)", pairs)
		port = fmt.Sprintf("intDiv(number, %d)", pairs)
	}
	start := time.Now()
	const chunk = 1_000_000
	for off := 0; off < n; off += chunk {
		q := fmt.Sprintf(`INSERT INTO %s (TimeReceived, TimeFlowStart, TimeFlowEnd, SamplingRate, ExporterAddress,
	SrcAddr, DstAddr, SrcPort, DstPort, Proto, Bytes, Packets)
SELECT toDateTime(%[2]d + intDiv(number * 3600, %[3]d)), fromUnixTimestamp64Milli(toInt64(%[2]d000 + intDiv(number * 3600000, %[3]d))),
	fromUnixTimestamp64Milli(toInt64(%[2]d000 + intDiv(number * 3600000, %[3]d) + 100)), 1, toIPv6('127.0.0.1'),
	toIPv6(IPv4NumToString(toUInt32(%[4]s))), toIPv6(IPv4NumToString(toUInt32(%[5]s))), toUInt16(1024 + %[6]s %% 60000), 443, 6, 1000, 10
FROM numbers(%[7]d, %[8]d) SETTINGS insert_deduplicate = 0`,
			migrate.FlowsTable, begin.Unix(), n, src, dst, port, off, min(chunk, n-off))
		if err := engine.Exec(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("stored %d flows (%d pairs) in %s", n, max(pairs, n), time.Since(start).Round(time.Second))
}
