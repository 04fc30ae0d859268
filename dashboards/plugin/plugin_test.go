package plugin

import (
	"testing"
	"time"
)

// TestExpand checks each expansion against what the plugin documents and
// its sources do (pkg/macros/macros.go, src/data/CHDatasource.ts).
func TestExpand(t *testing.T) {
	from := time.Date(2022, 10, 21, 16, 25, 33, 0, time.UTC)
	to := time.Date(2022, 10, 23, 8, 0, 0, 500e6, time.UTC)
	vars := map[string]Variable{
		"exporter": {Options: []string{"::ffff:10.0.0.1", "::ffff:10.0.0.2"}, Current: []string{AllValue}, Multi: true},
		"two":      {Options: []string{"a", "b", "c"}, Current: []string{"a", "b"}, Multi: true},
		"one":      {Options: []string{"a", "b"}, Current: []string{"a"}, Multi: true},
		"single":   {Options: []string{"x", "y"}, Current: []string{"x"}},
		"quote":    {Current: []string{"it's"}},
		"empty":    {Current: []string{""}},
	}
	r := Request{From: from, To: to, Interval: 20 * time.Second, Variables: vars}
	for _, c := range []struct{ in, want string }{
		{"$__timeFilter(TimeReceived)", "TimeReceived >= toDateTime(1666369533) AND TimeReceived <= toDateTime(1666512000)"},
		{"$__timeFilter_ms(t)", "t >= fromUnixTimestamp64Milli(1666369533000) AND t <= fromUnixTimestamp64Milli(1666512000500)"},
		{"$__dateFilter(d)", "d >= toDate('2022-10-21') AND d <= toDate('2022-10-23')"},
		{"$__dateTimeFilter(d, t)", "(d >= toDate('2022-10-21') AND d <= toDate('2022-10-23')) AND (t >= toDateTime(1666369533) AND t <= toDateTime(1666512000))"},
		{"$__fromTime, $__toTime", "toDateTime(1666369533), toDateTime(1666512000)"},
		{"$__fromTime_ms $__toTime_ms", "fromUnixTimestamp64Milli(1666369533000) fromUnixTimestamp64Milli(1666512000500)"},
		{"$__timeInterval(t)", "toStartOfInterval(toDateTime(t), INTERVAL 20 second)"},
		{"$__timeInterval_ms(t)", "toStartOfInterval(toDateTime64(t, 3), INTERVAL 20000 millisecond)"},
		{"intDiv(x, $__interval_s)", "intDiv(x, 20)"},
		{"$__interval / $__interval_ms", "20s / 20000"},
		// $__conditionalAll: 1=1 for All or an empty value, else the condition.
		{"WHERE $__conditionalAll(a IN (${exporter:singlequote}), $exporter)", "WHERE 1=1"},
		{"WHERE $__conditionalAll(a IN (${two:singlequote}), $two)", "WHERE a IN ('a','b')"},
		{"WHERE $__conditionalAll(f(a, g(b)) = 1, ${two})", "WHERE f(a, g(b)) = 1"},
		{"$__conditionalAll(x = '${empty}', $empty) AND $__conditionalAll(y IN ($one), $one)", "1=1 AND y IN ('a')"},
		// Variables: the plugin's format quotes a list, leaves a single value.
		{"IN ($two)", "IN ('a','b')"},
		{"IN ($exporter)", "IN ('::ffff:10.0.0.1','::ffff:10.0.0.2')"},
		{"= $single", "= x"},
		{"= ${single:singlequote}", "= 'x'"},
		{"= ${quote:singlequote}", `= 'it\'s'`},
		{"[[two]] ${two:csv}", "'a','b' a,b"},
		{"$unknown ${nope} $__notAMacro", "$unknown ${nope} $__notAMacro"},
	} {
		got, err := Expand(c.in, r)
		if err != nil || got != c.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// A zero interval is one second, as the plugin's max(…, 1).
	if got, _ := Expand("$__interval_s $__timeInterval(t)", Request{From: from, To: to}); got != "1 toStartOfInterval(toDateTime(t), INTERVAL 1 second)" {
		t.Errorf("zero interval: %q", got)
	}
	for _, bad := range []string{"$__timeFilter(a, b)", "$__dateTimeFilter(a)", "$__timeInterval(a, b)", "${two:json}"} {
		if got, err := Expand(bad, r); err == nil {
			t.Errorf("Expand(%q) = %q, want an error", bad, got)
		}
	}
}

// TestEngines shows how each engine of the plugin's history reads the same
// query (grafana/macropro parser.go; grafana-plugin-sdk-go data/sqlutil
// macros.go before and after v0.200.0; sqlds v1 macros.go).
func TestEngines(t *testing.T) {
	from := time.Unix(1000, 0).UTC()
	to := time.Unix(2000, 0).UTC()
	const lo, hi = "toDateTime(1000)", "toDateTime(2000)"
	bare := "T >= $__fromTime AND T < $__toTime AND (1)"
	parens := "T >= $__fromTime() AND T < $__toTime() AND (1)"
	step := "sum(x) / $__interval_s AS PerSecond FROM (SELECT 1)"
	for _, c := range []struct {
		engine Engine
		in     string
		want   string // "" for an error
	}{
		// A bare macro followed later by "(": only the counting parser takes
		// the span up to the balancing ")" as the macro and its argument.
		{MacroPro, bare, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{SQLUtil, bare, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{Counting, bare, "T >= " + lo},
		{LazyRegex, bare, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{Counting, step, "sum(x) / 60"},
		{Counting, "a = $__fromTime) OR (b)", "a = " + lo + ") OR (b)"},
		{Counting, "$__fromTime AND (", ""},
		// Empty parentheses read alike everywhere.
		{MacroPro, parens, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{SQLUtil, parens, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{Counting, parens, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{LazyRegex, parens, "T >= " + lo + " AND T < " + hi + " AND (1)"},
		{Counting, "sum(x) / $__interval_s() AS P FROM (SELECT 1)", "sum(x) / 60 AS P FROM (SELECT 1)"},
		// Nested parentheses: the lazy regex stops at the first ")".
		{MacroPro, "$__timeInterval(toDateTime(t))", "toStartOfInterval(toDateTime(toDateTime(t)), INTERVAL 60 second)"},
		{SQLUtil, "$__timeInterval(toDateTime(t))", "toStartOfInterval(toDateTime(toDateTime(t)), INTERVAL 60 second)"},
		{LazyRegex, "$__timeInterval(toDateTime(t))", "toStartOfInterval(toDateTime(toDateTime(t), INTERVAL 60 second))"},
		// Commas: macropro and sqlutil split at the top level, the old ones at every comma.
		{MacroPro, "$__timeInterval(f(a, b))", "toStartOfInterval(toDateTime(f(a, b)), INTERVAL 60 second)"},
		{Counting, "$__timeInterval(f(a, b))", ""},
		// macropro skips parentheses in quotes; sqlutil does not.
		{MacroPro, "$__timeInterval(f(')'))", "toStartOfInterval(toDateTime(f(')')), INTERVAL 60 second)"},
		{SQLUtil, "$__timeInterval(f(')')) x", "toStartOfInterval(toDateTime(f(')'), INTERVAL 60 second)) x"},
		// An unclosed list: macropro reads a bare macro, sqlutil fails.
		{MacroPro, "$__interval_s(", "60("},
		{SQLUtil, "$__interval_s(", ""},
		// The defaults merged under the plugin's macros.
		{MacroPro, "$__timeFrom(t) AND $__timeTo(t)", "t >= " + lo + " AND t <= " + hi},
		{MacroPro, "$__timeGroup(t, '5m')", "toStartOfInterval(toDateTime(t), INTERVAL 300 second)"},
		{MacroPro, "$__table", ""},
		{MacroPro, "$__timeFilter_ms(t) $__timeFilter(t)", "t >= fromUnixTimestamp64Milli(1000000) AND t <= fromUnixTimestamp64Milli(2000000) t >= " + lo + " AND t <= " + hi},
	} {
		got, err := Expand(c.in, Request{From: from, To: to, Interval: time.Minute, Engine: c.engine})
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%v: Expand(%q) = %q, want an error", c.engine, c.in, got)
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("%v: Expand(%q) = %q, %v; want %q", c.engine, c.in, got, err, c.want)
		}
	}
}
