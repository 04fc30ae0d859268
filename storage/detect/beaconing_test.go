package detect

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/migrate"
)

// synthFlows are n flows the engine makes from numbers(n): each field is
// an SQL expression of number (the flow's index), addresses as IPv4
// UInt32, the start as milliseconds after the hour's beginning.
type synthFlows struct {
	n                               int
	src, dst, sport, dport, startMs string
	proto                           int
}

// insertSynth stores the flows in chunks of a million, each lasting
// 100 ms, received when they start.
func insertSynth(tb testing.TB, begin time.Time, f synthFlows) {
	tb.Helper()
	const chunk = 1_000_000
	for off := 0; off < f.n; off += chunk {
		q := fmt.Sprintf(`INSERT INTO %s (TimeReceived, TimeFlowStart, TimeFlowEnd, SamplingRate, ExporterAddress,
	SrcAddr, DstAddr, SrcPort, DstPort, Proto, Bytes, Packets)
SELECT toDateTime(intDiv(Start, 1000)), fromUnixTimestamp64Milli(Start), fromUnixTimestamp64Milli(Start + 100), 1, toIPv6('127.0.0.1'),
	toIPv6(IPv4NumToString(toUInt32(%[3]s))), toIPv6(IPv4NumToString(toUInt32(%[4]s))), toUInt16(%[5]s), toUInt16(%[6]s), %[7]d, 1000, 10
FROM (SELECT number, toInt64(%[2]d000 + (%[8]s)) AS Start FROM numbers(%[9]d, %[10]d)) SETTINGS insert_deduplicate = 0`,
			migrate.FlowsTable, begin.Unix(), f.src, f.dst, f.sport, f.dport, f.proto, f.startMs, off, min(chunk, f.n-off))
		if err := engine.Exec(tb.Context(), q); err != nil {
			tb.Fatal(err)
		}
	}
}

func migrated(tb testing.TB) {
	tb.Helper()
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Migrate(tb.Context(), engine.Exec); err != nil {
		tb.Fatal(err)
	}
}

func beaconingDetection(tb testing.TB) *detection {
	for i := range detections {
		if detections[i].name == Beaconing {
			return &detections[i]
		}
	}
	tb.Fatal("no beaconing detection")
	return nil
}

// The beaconing query answers as the same query without its pre-filters
// (withoutPreFilters: every flow folded into its connection, the query
// before 8cc8f7a) over an hour of mixed traffic, in a part of the table
// of its own four days back: beacons, beacons with growing jitter (some over max-jitter),
// beacons right at min-connections and min-interval and one connection
// short, pairs too fast to beacon, one-off pairs, long connections cut
// at an active timeout, beacons on an excluded port (DNS), and pairs
// whose hashes share the pre-filter with beacons.
func TestBeaconingMatchesFoldingEveryFlow(t *testing.T) {
	migrated(t)
	text, err := sqlFiles.ReadFile("sql/beaconing.sql")
	if err != nil {
		t.Fatal(err)
	}
	reference, err := withoutPreFilters(string(text))
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now().UTC().Truncate(time.Hour).Add(-96 * time.Hour)
	end := begin.Add(time.Hour)
	const beacons, jittered = 300, 300
	for _, f := range []synthFlows{
		// beacons: 100 connections 36 s apart, a new client port each
		{n: beacons * 100, src: "167772160 + number % 300", dst: "3232235520", sport: "1024 + intDiv(number, 300)",
			dport: "443", startMs: "intDiv(number, 300) * 36000 + number % 300", proto: 6},
		// jitter up to ±(pair % 30) s around 60 s: the larger ones fail max-jitter
		{n: jittered * 50, src: "167772160 + 1000 + number % 300", dst: "3232235521", sport: "1024 + intDiv(number, 300)",
			dport: "8443", startMs: "intDiv(number, 300) * 60000 + (cityHash64(number) % (2 * (number % 300 % 30) * 1000 + 1)) - (number % 300 % 30) * 1000 + 30000",
			proto: 6},
		// at the thresholds: 10 connections 10 s apart; and 9
		{n: 10, src: "167772160 + 2000", dst: "3232235522", sport: "2000 + number", dport: "443", startMs: "number * 10000 + 999", proto: 6},
		{n: 9, src: "167772160 + 2001", dst: "3232235522", sport: "2000 + number", dport: "443", startMs: "number * 10000", proto: 6},
		// too fast: a connection every 6 s
		{n: 100 * 600, src: "167772160 + 3000 + number % 100", dst: "3232235523", sport: "1024 + intDiv(number, 100)",
			dport: "443", startMs: "intDiv(number, 100) * 6000", proto: 6},
		// one-off pairs
		{n: 50_000, src: "167772160 + 10000 + number", dst: "3232235524 + number % 7", sport: "1024 + number % 60000",
			dport: "443", startMs: "intDiv(number * 3600000, 50000)", proto: 6},
		// long connections cut every 60 s: one client port each
		{n: 100 * 59, src: "167772160 + 4000 + number % 100", dst: "3232235525", sport: "5000", dport: "5432",
			startMs: "intDiv(number, 100) * 60000", proto: 6},
		// a beacon on DNS, excluded
		{n: 100, src: "167772160 + 5000", dst: "3232235526", sport: "1024 + number", dport: "53", startMs: "number * 36000", proto: 17},
	} {
		insertSynth(t, begin, f)
	}
	cfg := DefaultConfig()
	d := beaconingDetection(t)
	kept, err := d.query(&cfg, end.Add(-cfg.Step), end)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := d.render(&cfg, end.Add(-cfg.Step), end, reference)
	if err != nil {
		t.Fatal(err)
	}
	want, err := engine.Query(t.Context(), ref, "TSV")
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.Query(t.Context(), kept, "TSV")
	if err != nil {
		t.Fatal(err)
	}
	rows := bytes.Count(want, []byte{'\n'})
	// The beacons, the one at the thresholds, and part of the jittered.
	if rows <= beacons+1 || rows >= beacons+1+jittered {
		t.Fatalf("the reference found %d beacons, want the %d regular ones, the one at the thresholds and some of the %d jittered",
			rows, beacons, jittered)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the pre-filtered query found %d beacons, folding every flow %d; first lines:\n%.600s\nwant:\n%.600s",
			bytes.Count(got, []byte{'\n'}), rows, got, want)
	}
	t.Logf("%d beacons, the same from both queries", rows)
}

// preFilter opens beaconing.sql's pre-filters: the pairs' hashes the
// exact query folds are looked up in.
const preFilter = "AND cityHash64(SrcAddr, DstAddr, Proto, DstPort) GLOBAL IN ("

// withoutPreFilters cuts the first preFilter clause, with the passes
// nested in it, out of the query's text, through its closing parenthesis
// (comments skipped).
func withoutPreFilters(sql string) (string, error) {
	start := strings.Index(sql, preFilter)
	if start < 0 {
		return "", errors.New("beaconing.sql has no pre-filter clause")
	}
	depth := 0
	for i := start + len(preFilter) - 1; i < len(sql); i++ {
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			i += strings.IndexByte(sql[i:], '\n')
		case sql[i] == '(':
			depth++
		case sql[i] == ')':
			if depth--; depth == 0 {
				out := sql[:start] + strings.TrimLeft(sql[i+1:], " \n")
				if strings.Contains(out, "cityHash64") || strings.Contains(out, "{min_span}") {
					return "", errors.New("beaconing.sql keeps a pre-filter outside its first clause")
				}
				return out, nil
			}
		}
	}
	return "", errors.New("beaconing.sql's pre-filter clause is not closed")
}
