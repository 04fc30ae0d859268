package detect

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
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
	migrated(b)
	cfg := DefaultConfig()
	cfg.MaxQueryTime = time.Hour
	beaconing := beaconingDetection(b)
	base := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
	for i, shape := range []struct {
		name  string
		pairs int // 0: every flow its own pair
		want  int // beacons
	}{{"new-pairs", 0, 0}, {"dense", n / 600, 0}, {"beacons", n / 100, n / 100}} {
		begin := base.Add(time.Duration(2*i) * time.Hour)
		end := begin.Add(time.Hour)
		start := time.Now()
		insertSynth(b, begin, beaconTraffic(n, shape.pairs))
		b.Logf("%s: stored %d flows in %s", shape.name, n, time.Since(start).Round(time.Second))
		b.Run(fmt.Sprintf("%s/%dk", shape.name, n/1000), func(b *testing.B) {
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

// beaconTraffic is n TCP flows to port 443 evenly over an hour, each
// from a new client port; with pairs > 0 flow k belongs to pair
// k mod pairs, so each pair connects every pairs×3600/n seconds.
func beaconTraffic(n, pairs int) synthFlows {
	f := synthFlows{n: n, src: "167772160 + number", dst: "3232235520 + intDiv(number, 7) % 65536",
		sport: "1024 + number % 60000", dport: "443", startMs: fmt.Sprintf("intDiv(number * 3600000, %d)", n), proto: 6}
	if pairs > 0 {
		f.src = fmt.Sprintf("167772160 + number %% %d %% 5000", pairs)
		f.dst = fmt.Sprintf("3232235520 + intDiv(number %% %d, 5000)", pairs)
		f.sport = fmt.Sprintf("1024 + intDiv(number, %d) %% 60000", pairs)
	}
	return f
}
