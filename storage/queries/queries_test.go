package queries_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/reference"
	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
	"sluice/storage/migrate"
	"sluice/storage/queries"
	"sluice/storage/writer"
)

var engine *embedded.Engine

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, nil) }

// epoch is the start of the generated traffic: two whole days, on hour
// boundaries, so every rollup can answer exactly.
var epoch = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

const trafficSpan = 48 * time.Hour

// traffic returns flows with known fields: a few exporters, interfaces,
// AS numbers and addresses, sampled at several rates, over trafficSpan.
func traffic() []record.Flow {
	rng := rand.New(rand.NewPCG(7, 11))
	flows := make([]record.Flow, 60_000)
	for i := range flows {
		f := &flows[i]
		t := epoch.Add(time.Duration(rng.Int64N(int64(trafficSpan))))
		f.TimeReceived = t.UnixNano()
		f.TimeFlowStart, f.TimeFlowEnd = t.UnixMilli()-1000, t.UnixMilli()
		f.FlowType = record.FlowTypeIPFIX
		f.ExporterAddress = record.AddrFrom4([4]byte{192, 0, 2, byte(1 + rng.IntN(3))})
		f.SamplingRate = []uint64{1, 100, 1000}[rng.IntN(3)]
		f.SrcAddr = record.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(50))})
		f.DstAddr = record.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(200))})
		if i%500 == 0 { // destinations seen late only
			f.DstAddr = record.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(20))})
			t = epoch.Add(trafficSpan - time.Duration(1+rng.Int64N(int64(time.Hour))))
			f.TimeReceived = t.UnixNano()
		}
		// Public AS numbers, named by the shipped AS names, and one
		// private one, which has no name.
		f.SrcAS = []uint32{13335, 15169, 3356, 174, 2914, 6939, 64512, 16509}[rng.IntN(8)]
		f.DstAS = []uint32{8075, 32934, 20940, 1299, 3257, 6762, 65001, 714}[rng.IntN(8)]
		f.ForwardingStatus = []uint8{64, 64, 64, 128, 0}[rng.IntN(5)]
		f.Proto = []uint8{6, 17, 1}[rng.IntN(3)]
		f.EType = 0x0800
		f.SrcPort, f.DstPort = uint16(1024+rng.IntN(60000)), []uint16{443, 80, 53, 22}[rng.IntN(4)]
		f.InIfIndex, f.OutIfIndex = uint32(1+rng.IntN(4)), uint32(10+rng.IntN(3))
		f.FlowDirection = uint8(rng.IntN(3))
		enrich(f, rng)
		f.Bytes = uint64(40 + rng.IntN(1500*20))
		f.Packets = 1 + f.Bytes/1000
	}
	return flows
}

// enrich sets the enrichment columns as the pipeline would: exporter and
// interface attributes that follow from the exporter and interface, and
// network attributes drawn from small sets.
func enrich(f *record.Flow, rng *rand.Rand) {
	exporter := f.ExporterAddress.Netip().As16()[15]
	f.ExporterName = []string{"", "edge-1", "edge-2", "core-1"}[exporter]
	f.InIfName = fmt.Sprint("et-0/0/", f.InIfIndex)
	f.OutIfName = fmt.Sprint("xe-1/0/", f.OutIfIndex)
	f.InIfSpeed = []uint64{0, 1e9, 10e9, 0, 100e9}[f.InIfIndex]
	f.OutIfSpeed = []uint64{1e9, 40e9, 0}[f.OutIfIndex-10]
	f.InIfBoundary = record.Boundary(1 + f.InIfIndex%2)
	f.OutIfBoundary = record.Boundary(1 + f.OutIfIndex%2)
	f.SrcCountry = []string{"US", "DE", "FR", "JP", ""}[f.SrcAS%5]
	f.DstCountry = []string{"US", "NL", "BR", ""}[rng.IntN(4)]
	f.SrcNetSite, f.DstNetSite = []string{"par", "ams", "fra", ""}[rng.IntN(4)], []string{"par", "ams", "fra", ""}[rng.IntN(4)]
	f.SrcNetTenant, f.DstNetTenant = []string{"acme", "globex", ""}[rng.IntN(3)], []string{"acme", "globex", ""}[rng.IntN(3)]
	f.TrafficDirection = record.TrafficDirection(rng.IntN(5))
}

// trafficDirections are TrafficDirection's enum names, by value.
var trafficDirections = []string{"unknown", "inbound", "outbound", "internal", "transit"}

var flows []record.Flow

func loadTraffic(t *testing.T) {
	t.Helper()
	if flows != nil {
		return
	}
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{}) // no TTL: the traffic's dates are fixed
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	w, err := writer.New(reporter.New(slog.New(slog.DiscardHandler)), writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
	if err != nil {
		t.Fatal(err)
	}
	all := traffic()
	// Inserts of one day each: ClickHouse refuses a block spanning too
	// many partitions, and real batches are minutes long anyway.
	slices.SortFunc(all, func(a, b record.Flow) int { return cmp.Compare(a.TimeReceived, b.TimeReceived) })
	for start := 0; start < len(all); start += 10_000 {
		batch := all[start:min(start+10_000, len(all))]
		if err := w.Write(t.Context(), batch, fmt.Sprintf("queries-test-%d", start)); err != nil {
			t.Fatal(err)
		}
	}
	flows = all
}

// key is a row's grouping columns, as ClickHouse prints them in TSV.
type agg struct {
	bytes, packets, flows uint64
	first                 int64
	steps                 map[int64]uint64 // bytes per series step
}

func mapped(a record.Addr) string {
	n := a.Netip()
	if n.Is4() {
		return "::ffff:" + n.String()
	}
	return n.String()
}

func inRange(f *record.Flow, from, to time.Time, exporter netip.Addr) bool {
	t := time.Unix(0, f.TimeReceived).Truncate(time.Second)
	if t.Before(from) || !t.Before(to) {
		return false
	}
	return !exporter.IsValid() || f.ExporterAddress.Netip() == exporter
}

// expected computes, in Go, what a query must answer.
func expected(name string, p queries.Params, step time.Duration) string {
	keyOf := map[string]func(f *record.Flow) string{
		"top-sources":      func(f *record.Flow) string { return mapped(f.SrcAddr) },
		"top-destinations": func(f *record.Flow) string { return mapped(f.DstAddr) },
		"top-pairs":        func(f *record.Flow) string { return mapped(f.SrcAddr) + "\t" + mapped(f.DstAddr) },
		"top-conversations": func(f *record.Flow) string {
			return fmt.Sprintf("%s\t%s\t%d\t%d\t%d", mapped(f.SrcAddr), mapped(f.DstAddr), f.Proto, f.SrcPort, f.DstPort)
		},
		"top-src-as": func(f *record.Flow) string { return fmt.Sprintf("%d\t%s", f.SrcAS, reference.ASName(f.SrcAS)) },
		"top-dst-as": func(f *record.Flow) string { return fmt.Sprintf("%d\t%s", f.DstAS, reference.ASName(f.DstAS)) },
		"top-services": func(f *record.Flow) string {
			return fmt.Sprintf("%d\t%d\t%s", f.Proto, f.DstPort, reference.ServiceName(f.Proto, f.DstPort))
		},
		"top-protocols":                func(f *record.Flow) string { return fmt.Sprintf("%d\t%d", f.EType, f.Proto) },
		"traffic-by-exporter":          func(f *record.Flow) string { return mapped(f.ExporterAddress) },
		"traffic-by-interface":         func(f *record.Flow) string { return fmt.Sprintf("%s\t%d", mapped(f.ExporterAddress), f.InIfIndex) },
		"traffic-by-direction":         func(f *record.Flow) string { return fmt.Sprint(f.FlowDirection) },
		"traffic-by-forwarding-status": func(f *record.Flow) string { return fmt.Sprint(f.ForwardingStatus) },
		"interface-utilisation": func(f *record.Flow) string {
			return fmt.Sprintf("%s\t%d\t%s\t%d", mapped(f.ExporterAddress), f.OutIfIndex, f.OutIfName, f.OutIfSpeed)
		},
		"interface-utilisation-in": func(f *record.Flow) string {
			return fmt.Sprintf("%s\t%d\t%s\t%d", mapped(f.ExporterAddress), f.InIfIndex, f.InIfName, f.InIfSpeed)
		},
		"traffic-by-traffic-direction": func(f *record.Flow) string { return trafficDirections[f.TrafficDirection] },
		"traffic-by-src-site":          func(f *record.Flow) string { return f.SrcNetSite },
		"traffic-by-dst-site":          func(f *record.Flow) string { return f.DstNetSite },
		"top-src-countries":            func(f *record.Flow) string { return f.SrcCountry },
		"top-dst-countries":            func(f *record.Flow) string { return f.DstCountry },
		"site-matrix":                  func(f *record.Flow) string { return f.SrcNetSite + "\t" + f.DstNetSite },
		"tenant-matrix":                func(f *record.Flow) string { return f.SrcNetTenant + "\t" + f.DstNetTenant },
		"new-destinations":             func(f *record.Flow) string { return mapped(f.DstAddr) },
	}[name]
	groups := map[string]*agg{}
	seenBefore := map[string]bool{}
	for i := range flows {
		f := &flows[i]
		if name == "new-destinations" && inRange(f, p.From.Add(-p.Baseline), p.From, p.Exporter) {
			seenBefore[mapped(f.DstAddr)] = true
		}
		if !inRange(f, p.From, p.To, p.Exporter) {
			continue
		}
		k := keyOf(f)
		g := groups[k]
		if g == nil {
			g = &agg{first: f.TimeReceived / 1e9, steps: map[int64]uint64{}}
			groups[k] = g
		}
		g.bytes += f.Bytes * f.SamplingRate
		g.packets += f.Packets * f.SamplingRate
		g.flows++
		g.first = min(g.first, f.TimeReceived/1e9)
		if step > 0 {
			s := f.TimeReceived / 1e9
			s -= s % int64(step/time.Second)
			g.steps[s] += f.Bytes * f.SamplingRate
		}
	}
	limit := p.Limit
	if limit == 0 {
		limit = 10
	}
	stepSeconds := uint64(step / time.Second)
	var rows []string
	switch name {
	case "traffic-by-exporter", "traffic-by-interface", "traffic-by-direction", "traffic-by-forwarding-status", "traffic-by-traffic-direction",
		"traffic-by-src-site", "traffic-by-dst-site":
		order := func(key string) string { return key }
		if name == "traffic-by-traffic-direction" { // an enum sorts by value
			order = func(key string) string { return fmt.Sprint(slices.Index(trafficDirections, key)) }
		}
		// With a limit, only the series with the most bytes over the
		// range, ties in the keys' order; without one, every series.
		series := slices.Collect(maps.Keys(groups))
		slices.SortFunc(series, func(a, b string) int {
			return cmp.Or(cmp.Compare(groups[b].bytes, groups[a].bytes), compareKeys(order(a), order(b)))
		})
		if p.Limit > 0 {
			series = series[:min(p.Limit, len(series))]
		}
		type point struct {
			t   int64
			key string
			b   uint64
		}
		var points []point
		for _, k := range series {
			for t, b := range groups[k].steps {
				points = append(points, point{t, k, b})
			}
		}
		// packets per step, for traffic-by-exporter
		pk := map[string]uint64{}
		for i := range flows {
			f := &flows[i]
			if inRange(f, p.From, p.To, p.Exporter) {
				s := f.TimeReceived / 1e9
				s -= s % int64(stepSeconds)
				pk[fmt.Sprint(s, keyOf(f))] += f.Packets * f.SamplingRate
			}
		}
		slices.SortFunc(points, func(a, b point) int { return cmp.Or(cmp.Compare(a.t, b.t), compareKeys(order(a.key), order(b.key))) })
		for _, pt := range points {
			row := fmt.Sprintf("%s\t%s\t%d", time.Unix(pt.t, 0).In(time.Local).Format(time.DateTime), pt.key, pt.b*8/stepSeconds)
			if name == "traffic-by-exporter" {
				row += fmt.Sprintf("\t%d", pk[fmt.Sprint(pt.t, pt.key)]/stepSeconds)
			}
			rows = append(rows, row)
		}
		return strings.Join(rows, "\n") + "\n"
	case "interface-utilisation", "interface-utilisation-in":
		seconds := uint64(p.To.Sub(p.From) / time.Second)
		type util struct {
			key      string
			avg, p95 uint64
		}
		var us []util
		for k, g := range groups {
			var vals []uint64
			for _, b := range g.steps {
				vals = append(vals, b)
			}
			slices.Sort(vals)
			i := min(int(0.95*float64(len(vals))), len(vals)-1) // quantileExact's position
			us = append(us, util{k, g.bytes * 8 / seconds, uint64(float64(vals[i]*8) / float64(stepSeconds))})
		}
		slices.SortFunc(us, func(a, b util) int { return cmp.Or(cmp.Compare(b.avg, a.avg), compareKeys(a.key, b.key)) })
		for _, u := range us[:min(limit, len(us))] {
			fields := strings.Split(u.key, "\t")
			speed, _ := strconv.ParseUint(fields[len(fields)-1], 10, 64)
			percent := 0.0
			if speed > 0 {
				percent = float64(u.p95*100) / float64(speed)
			}
			rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%s", u.key, u.avg, u.p95, strconv.FormatFloat(percent, 'f', -1, 64)))
		}
		return strings.Join(rows, "\n") + "\n"
	case "new-destinations":
		type nd struct {
			key string
			g   *agg
		}
		var ns []nd
		for k, g := range groups {
			if !seenBefore[k] {
				ns = append(ns, nd{k, g})
			}
		}
		slices.SortFunc(ns, func(a, b nd) int { return cmp.Or(cmp.Compare(a.g.first, b.g.first), compareKeys(a.key, b.key)) })
		for _, n := range ns[:min(limit, len(ns))] {
			rows = append(rows, fmt.Sprintf("%s\t%s\t%d\t%d", n.key, time.Unix(n.g.first, 0).In(time.Local).Format(time.DateTime), n.g.bytes, n.g.flows))
		}
		if len(rows) == 0 {
			return ""
		}
		return strings.Join(rows, "\n") + "\n"
	}
	type top struct {
		key string
		g   *agg
	}
	var ts []top
	for k, g := range groups {
		ts = append(ts, top{k, g})
	}
	// ORDER BY Bytes DESC, then the keys: ClickHouse compares IPv6 as
	// bytes, which for IPv4-mapped addresses of one /24 is numeric order.
	slices.SortFunc(ts, func(a, b top) int { return cmp.Or(cmp.Compare(b.g.bytes, a.g.bytes), compareKeys(a.key, b.key)) })
	for _, t := range ts[:min(limit, len(ts))] {
		rows = append(rows, fmt.Sprintf("%s\t%d\t%d\t%d", t.key, t.g.bytes, t.g.packets, t.g.flows))
	}
	return strings.Join(rows, "\n") + "\n"
}

// compareKeys orders tab-separated keys field by field, numerically where
// the fields are numbers or addresses.
func compareKeys(a, b string) int {
	fa, fb := strings.Split(a, "\t"), strings.Split(b, "\t")
	for i := range fa {
		x, errx := netip.ParseAddr(fa[i])
		y, erry := netip.ParseAddr(fb[i])
		if errx == nil && erry == nil {
			if c := x.Compare(y); c != 0 {
				return c
			}
			continue
		}
		var nx, ny uint64
		if _, err := fmt.Sscan(fa[i], &nx); err == nil {
			fmt.Sscan(fb[i], &ny)
			if c := cmp.Compare(nx, ny); c != 0 {
				return c
			}
			continue
		}
		if c := strings.Compare(fa[i], fb[i]); c != 0 {
			return c
		}
	}
	return 0
}

func run(t *testing.T, b queries.Built) string {
	t.Helper()
	out, err := engine.QueryReadOnly(context.Background(), b.SQL, "TSV")
	if err != nil {
		t.Fatalf("%s: %v", b.SQL, err)
	}
	return string(out)
}

// TestLibraryExactAnswers runs every query over generated traffic with
// known totals, over ranges that select each table, and compares with the
// answer computed in Go from the same flows.
func TestLibraryExactAnswers(t *testing.T) {
	loadTraffic(t)
	now := epoch.Add(trafficSpan)
	exporter := netip.MustParseAddr("192.0.2.2")
	ranges := []struct {
		name     string
		from, to time.Time
		exporter netip.Addr
	}{
		{"two days", epoch, epoch.Add(trafficSpan), netip.Addr{}},
		{"one hour", epoch.Add(13 * time.Hour), epoch.Add(14 * time.Hour), netip.Addr{}},
		{"thirty minutes of one exporter", epoch.Add(20*time.Hour + 5*time.Minute), epoch.Add(20*time.Hour + 35*time.Minute), exporter},
		{"ragged 95 minutes", epoch.Add(30*time.Hour + 17*time.Second), epoch.Add(31*time.Hour + 35*time.Minute + 17*time.Second), netip.Addr{}},
		{"last hour", epoch.Add(trafficSpan - time.Hour), epoch.Add(trafficSpan), netip.Addr{}},
		{"six hours ten minutes", epoch.Add(2*time.Hour + 5*time.Minute), epoch.Add(8*time.Hour + 15*time.Minute), netip.Addr{}},
		{"twenty minutes", epoch.Add(10*time.Hour + 5*time.Minute), epoch.Add(10*time.Hour + 25*time.Minute), netip.Addr{}},
		{"seven minutes", epoch.Add(5*time.Hour + 3*time.Minute), epoch.Add(5*time.Hour + 10*time.Minute), netip.Addr{}},
	}
	tables := map[string]bool{}
	for _, q := range queries.Library {
		if q.Direct {
			continue // the security queries: storage/detect's tests
		}
		for _, r := range ranges {
			t.Run(q.Name+"/"+r.name, func(t *testing.T) {
				p := queries.Params{From: r.from, To: r.to, Exporter: r.exporter, Limit: 15, Baseline: 24 * time.Hour}
				b, err := queries.Build(q, p, migrate.Config{}, now)
				if err != nil {
					t.Fatal(err)
				}
				tables[b.Table] = true
				got := run(t, b)
				want := expected(q.Name, p, b.Step)
				if got != want {
					t.Errorf("from %s:\n%s\ngot:\n%s\nwant:\n%s", b.Table, b.SQL, head(got), head(want))
				}
				if strings.Count(got, "\n") < 2 && q.Name != "new-destinations" {
					t.Errorf("only %d rows: the comparison proves little", strings.Count(got, "\n"))
				}
			})
		}
	}
	for _, table := range append([]string{migrate.FlowsTable}, rollupTables()...) {
		if !tables[table] {
			t.Errorf("no query read %s: its answers are untested", table)
		}
	}
	// The destinations first seen in the last hour are found as new.
	p := queries.Params{From: epoch.Add(trafficSpan - time.Hour), To: epoch.Add(trafficSpan), Limit: 1000}
	nd, _ := queries.Lookup("new-destinations")
	b, err := queries.Build(nd, p, migrate.Config{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(run(t, b), "::ffff:198.51.100."); got == 0 {
		t.Error("new-destinations missed the destinations seen only in the last hour")
	}
}

// TestLimit runs every query of the library with a limit below its number
// of groups, over a range answered by a rollup and one answered by the raw
// table, and compares with the answer computed in Go: top-N queries keep N
// rows, and time series keep the N series with the most bytes over the
// range, each with all its points.
func TestLimit(t *testing.T) {
	loadTraffic(t)
	now := epoch.Add(trafficSpan)
	const limit = 2
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"two days", epoch, epoch.Add(trafficSpan)},
		{"seven minutes", epoch.Add(5*time.Hour + 3*time.Minute), epoch.Add(5*time.Hour + 10*time.Minute)},
	}
	for _, q := range queries.Library {
		if q.Direct {
			continue // the security queries: storage/detect's tests
		}
		for _, r := range ranges {
			t.Run(q.Name+"/"+r.name, func(t *testing.T) {
				// A short baseline, so that new-destinations finds more
				// than the limit in seven minutes.
				p := queries.Params{From: r.from, To: r.to, Limit: limit, Baseline: 5 * time.Minute}
				b, err := queries.Build(q, p, migrate.Config{}, now)
				if err != nil {
					t.Fatal(err)
				}
				got := run(t, b)
				if want := expected(q.Name, p, b.Step); got != want {
					t.Errorf("from %s:\n%s\ngot:\n%s\nwant:\n%s", b.Table, b.SQL, head(got), head(want))
				}
				// The limit must have cut something, or the comparison
				// proves nothing about it.
				p.Limit = 1000
				all, err := queries.Build(q, p, migrate.Config{}, now)
				if err != nil {
					t.Fatal(err)
				}
				limited, unlimited := groupsIn(q, got), groupsIn(q, run(t, all))
				if limited != limit || unlimited <= limit {
					t.Errorf("limit %d kept %d of %d groups", limit, limited, unlimited)
				}
			})
		}
	}
}

// groupsIn counts the rows (top-N queries) or the series (SeriesKeys) of a
// TSV answer.
func groupsIn(q queries.Query, tsv string) int {
	lines := strings.Split(strings.TrimSuffix(tsv, "\n"), "\n")
	if len(q.SeriesKeys) == 0 {
		return len(lines)
	}
	series := map[string]bool{}
	for _, line := range lines {
		fields := strings.Split(line, "\t")
		series[strings.Join(fields[1:1+len(q.SeriesKeys)], "\t")] = true // after Time
	}
	return len(series)
}

// Without a limit a series query answers every series; a negative limit
// is refused.
func TestSeriesWithoutLimit(t *testing.T) {
	loadTraffic(t)
	now := epoch.Add(trafficSpan)
	q, _ := queries.Lookup("traffic-by-interface")
	p := queries.Params{From: epoch, To: epoch.Add(trafficSpan)}
	b, err := queries.Build(q, p, migrate.Config{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := groupsIn(q, run(t, b)); got != 12 { // 3 exporters × 4 input interfaces
		t.Errorf("traffic-by-interface without a limit has %d series, want all 12", got)
	}
	p.Limit = -1
	if _, err := queries.Build(q, p, migrate.Config{}, now); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("limit -1: err = %v, want a refusal naming the limit", err)
	}
}

// Build picks the coarsest table that answers, and refuses what none can.
func TestBuildPicksTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 34, 56, 0, time.UTC)
	cfg := migrate.DefaultConfig()
	for _, tc := range []struct {
		query    string
		since    time.Duration
		align    bool
		want     string
		exporter bool
	}{
		{"top-src-as", 24 * time.Hour, true, "sluice.flows_as_1h", false},
		{"top-src-as", 24 * time.Hour, false, "sluice.flows", false},  // a ragged range: only the raw table is exact
		{"top-src-as", 24 * time.Hour, true, "sluice.flows_1h", true}, // one exporter: the AS rollups do not keep it
		{"top-protocols", 24 * time.Hour, true, "sluice.flows_as_1h", false},
		{"traffic-by-exporter", 24 * time.Hour, true, "sluice.flows_if_1h", false},
		{"traffic-by-exporter", 6 * time.Hour, true, "sluice.flows_if_5m", false},
		{"traffic-by-exporter", time.Hour, true, "sluice.flows_if_1m", false},
		{"traffic-by-exporter", 10 * time.Minute, true, "sluice.flows", false},
		{"traffic-by-exporter", 60 * 24 * time.Hour, true, "sluice.flows_if_1h", false}, // the coarsest that keeps 60 days
		{"traffic-by-forwarding-status", time.Hour, true, "sluice.flows_1m", false},     // only the wide rollups keep it
		{"top-sources", time.Hour, true, "sluice.flows", false},
		{"top-src-as", time.Hour, true, "sluice.flows_as_1m", false}, // buckets of at most 1/24 of the range
		{"top-src-as", 6 * time.Hour, true, "sluice.flows_as_5m", false},
		{"top-src-as", 200 * 24 * time.Hour, true, "sluice.flows_as_1h", false}, // only the hourly rollups keep 200 days
	} {
		q, _ := queries.Lookup(tc.query)
		p := queries.Params{From: now.Add(-tc.since), To: now, Align: tc.align}
		if tc.exporter {
			p.Exporter = netip.MustParseAddr("192.0.2.1")
		}
		b, err := queries.Build(q, p, cfg, now)
		if err != nil {
			t.Errorf("%s over %s: %v", tc.query, tc.since, err)
			continue
		}
		if b.Table != tc.want {
			t.Errorf("%s over %s (align %v) reads %s, want %s", tc.query, tc.since, tc.align, b.Table, tc.want)
		}
		if b.From.After(now.Add(-tc.since)) || b.To.Before(now) {
			t.Errorf("%s over %s: range [%s, %s) does not cover the one asked", tc.query, tc.since, b.From, b.To)
		}
	}
	q, _ := queries.Lookup("top-sources")
	if _, err := queries.Build(q, queries.Params{From: now.Add(-30 * 24 * time.Hour), To: now}, cfg, now); err == nil ||
		!strings.Contains(err.Error(), "retention") {
		t.Errorf("top-sources over 30 days (raw kept 15): err = %v, want one about retention", err)
	}
	if _, err := queries.Build(q, queries.Params{From: now, To: now}, cfg, now); err == nil {
		t.Error("an empty range was accepted")
	}
}

func rollupTables() []string {
	var out []string
	for _, r := range migrate.Rollups {
		out = append(out, r.QualifiedTable())
	}
	return out
}

func head(s string) string {
	lines := strings.SplitN(s, "\n", 12)
	if len(lines) > 11 {
		lines = append(lines[:11], "...")
	}
	return strings.Join(lines, "\n")
}

// The README's example over the reference dictionaries runs through the
// read-only path and names protocols and services.
func TestReadmeDictionaryExample(t *testing.T) {
	loadTraffic(t)
	out, err := engine.QueryReadOnly(t.Context(), `SELECT dictGet('sluice.protocols_dict', 'Name', toUInt64(Proto)) AS Protocol,
       dictGetOrDefault('sluice.services_dict', 'Name', (Proto, DstPort), toString(DstPort)) AS Service,
       sum(Bytes * SamplingRate) AS Bytes
FROM sluice.flows GROUP BY ALL ORDER BY Bytes DESC LIMIT 10`, "TSV")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TCP\thttp\t", "UDP\tdomain\t", "ICMP\t"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q row in:\n%s", want, out)
		}
	}
}

// The exporters table lists every exporter and interface of the flows, on
// both sides, with their attributes and when they were last seen.
func TestExportersTable(t *testing.T) {
	loadTraffic(t)
	type iface struct {
		exporter string
		index    uint32
	}
	rows := map[iface]string{}
	last := map[iface]int64{}
	boundaries := []string{"undefined", "external", "internal"}
	for i := range flows {
		f := &flows[i]
		for _, side := range []struct {
			index uint32
			name  string
			speed uint64
			bound record.Boundary
		}{{f.InIfIndex, f.InIfName, f.InIfSpeed, f.InIfBoundary}, {f.OutIfIndex, f.OutIfName, f.OutIfSpeed, f.OutIfBoundary}} {
			k := iface{mapped(f.ExporterAddress), side.index}
			rows[k] = fmt.Sprintf("%s\t%s\t%d\t%s\t%d\t%s", k.exporter, f.ExporterName, k.index, side.name, side.speed, boundaries[side.bound])
			last[k] = max(last[k], f.TimeReceived/1e9)
		}
	}
	keys := slices.Collect(maps.Keys(rows))
	slices.SortFunc(keys, func(a, b iface) int {
		return cmp.Or(compareKeys(a.exporter, b.exporter), cmp.Compare(a.index, b.index))
	})
	var want strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&want, "%s\t%s\n", rows[k], time.Unix(last[k], 0).In(time.Local).Format(time.DateTime))
	}
	got, err := engine.QueryReadOnly(t.Context(), "SELECT ExporterAddress, ExporterName, IfIndex, IfName, IfSpeed, IfBoundary, TimeReceived "+
		"FROM sluice.exporters FINAL ORDER BY ExporterAddress, IfIndex", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("exporters:\n%s\nwant:\n%s", got, want.String())
	}
	if len(keys) < 20 {
		t.Errorf("only %d interfaces: the test proves little", len(keys))
	}
}
