// Package plugin expands a panel's SQL as Grafana and its ClickHouse data
// source plugin (grafana-clickhouse-datasource 4.x) do before the query
// reaches ClickHouse, so that tests can run what a dashboard would run.
//
// The plugin works in two places, in this order:
//
//  1. In the browser, Datasource.applyTemplateVariables
//     (grafana/clickhouse-datasource, src/data/CHDatasource.ts): first
//     applyConditionalAll replaces each $__conditionalAll(condition, $var),
//     from the last one back, by 1=1 when the variable's current value is
//     "All" ($__all) or empty and by the condition otherwise; then Grafana's
//     template service interpolates the variables ($var, ${var},
//     ${var:format}, [[var]]) with the plugin's format function: a list of
//     values becomes 'a','b', a single value is left as it is.
//  2. In the plugin's backend, the macros of grafana/clickhouse-datasource
//     pkg/macros/macros.go are expanded. The pinned plugin is 4.20.0 (the
//     first releases to pin clickhouse-go v2.47.0 are 4.19.0 and 4.20.0),
//     whose engine is grafana/macropro (parser.go). Earlier releases parsed
//     differently (Engine: sqlutil's getMacroMatches in 4.0.6 to 4.18.0, a
//     parenthesis-counting parser and a lazy regular expression before),
//     and the worst of them takes a bare macro followed, anywhere later, by
//     a parenthesis as a macro with arguments (clickhouse-datasource issues
//     #236, #249). The dashboards write every macro with its parentheses,
//     $__fromTime(), so that each engine reads them alike
//     (TestEnginesAgree in dashboards).
//
// Expand follows both; unknown variables and macros are left as they are,
// as Grafana leaves them. macropro strips SQL comments before it expands
// (the panels' first line is one); Expand keeps them, which ClickHouse
// ignores, so a macro must not be written in a comment.
package plugin

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// AllValue is the value Grafana gives a variable whose "All" option is
// selected.
const AllValue = "$__all"

// Variable is a dashboard variable as a request sees it.
type Variable struct {
	// Options are every value the variable can take (what "All" expands to).
	Options []string
	// Current are the selected values: several for a multi-value
	// variable, or AllValue alone.
	Current []string
	// Multi marks a multi-value variable: its value is a list even with
	// one value selected.
	Multi bool
}

// values is what Grafana interpolates: the options for All, else the
// selection.
func (v Variable) values() []string {
	if v.all() {
		return v.Options
	}
	return v.Current
}

func (v Variable) all() bool { return len(v.Current) == 1 && v.Current[0] == AllValue }

// Request is a panel's query request.
type Request struct {
	From, To time.Time
	// Interval is the panel's interval ($__interval), which Grafana derives
	// from the range and the panel's width (max data points).
	Interval  time.Duration
	Variables map[string]Variable
	// Engine is the backend's macro parser: the pinned plugin's (MacroPro)
	// unless set.
	Engine Engine
}

// Expand returns sql as the plugin sends it to ClickHouse for r.
func Expand(sql string, r Request) (string, error) {
	sql = conditionalAll(sql, r.Variables)
	sql, err := interpolate(sql, r)
	if err != nil {
		return "", err
	}
	return macros(sql, r)
}

// conditionalAll follows CHDatasource.ts applyConditionalAll.
func conditionalAll(sql string, vars map[string]Variable) string {
	const macro = "$__conditionalAll("
	varName := regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)
	for i := strings.LastIndex(sql, macro); i >= 0; i = strings.LastIndex(sql, macro) {
		args, ok := macroArgs(sql[i+len(macro)-1:])
		if !ok || len(args) != 2 {
			return sql // the plugin gives up on the rest
		}
		phrase := args[0]
		if m := varName.FindStringSubmatch(strings.TrimSpace(args[1])); m != nil {
			name := m[1] + m[2]
			if v, known := vars[name]; known {
				if value := strings.Join(v.Current, ","); value == "" || value == AllValue {
					phrase = "1=1"
				}
			}
		}
		sql = strings.Replace(sql, macro+args[0]+","+args[1]+")", phrase, 1)
	}
	return sql
}

// macroArgs splits the arguments of a macro at the top level commas; s
// starts at the opening parenthesis (CHDatasource.ts getMacroArgs).
func macroArgs(s string) ([]string, bool) {
	var args []string
	depth, start := 0, 1
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				args = append(args, s[start:i])
				start = i + 1
			}
		}
		if depth == 0 {
			return append(args, s[start:i]), true
		}
	}
	return nil, false
}

// variableRE is Grafana's variable syntax (public/app/features/variables/
// utils.ts, variableRegex): $name, [[name:format]], ${name.field:format}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}`)

// interpolate follows Grafana's template service with the plugin's format.
func interpolate(sql string, r Request) (string, error) {
	var err error
	out := variableRE.ReplaceAllStringFunc(sql, func(m string) string {
		g := variableRE.FindStringSubmatch(m)
		name := g[1] + g[2] + g[4]
		format := g[3] + g[6]
		var values []string
		list := false
		switch name {
		case "__interval":
			values = []string{intervalText(r.Interval)}
		case "__interval_ms":
			values = []string{fmt.Sprint(r.Interval.Milliseconds())}
		case "__from":
			values = []string{fmt.Sprint(r.From.UnixMilli())}
		case "__to":
			values = []string{fmt.Sprint(r.To.UnixMilli())}
		default:
			v, ok := r.Variables[name]
			if !ok {
				return m // Grafana leaves an unknown variable as it is
			}
			values, list = v.values(), v.Multi || v.all() || len(v.Current) != 1
		}
		switch format {
		case "":
			// The plugin's format: a list quoted and joined, else as is.
			if list {
				return "'" + strings.Join(values, "','") + "'"
			}
			return values[0]
		case "singlequote":
			q := make([]string, len(values))
			for i, v := range values {
				q[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		case "raw", "csv":
			return strings.Join(values, ",")
		default:
			if err == nil {
				err = fmt.Errorf("variable %s: format %q is not emulated", name, format)
			}
			return m
		}
	})
	return out, err
}

// intervalText writes an interval as Grafana's $__interval does (1m, 30s).
func intervalText(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// macroFunc is one macro of pkg/macros/macros.go.
type macroFunc func(r Request, args []string) (string, error)

func dateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func dateTime64(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli())
}
func date(t time.Time) string { return fmt.Sprintf("toDate('%s')", t.Format("2006-01-02")) }

// rangeFilter is the plugin's filter shape: both bounds included.
func rangeFilter(conv func(time.Time) string) macroFunc {
	return func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("unexpected number of arguments: expected 1 argument, received %d", len(args))
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], conv(r.From), args[0], conv(r.To)), nil
	}
}

func dateTimeFilter(r Request, args []string) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("unexpected number of arguments: expected 2 arguments, received %d", len(args))
	}
	return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
		args[0], date(r.From), args[0], date(r.To), args[1], dateTime(r.From), args[1], dateTime(r.To)), nil
}

func timeInterval(ms bool) macroFunc {
	return func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("unexpected number of arguments: expected 1 argument, received %d", len(args))
		}
		if ms {
			return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], max(r.Interval.Milliseconds(), 1)), nil
		}
		return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], int(math.Max(r.Interval.Seconds(), 1))), nil
	}
}

// bound is a macro that takes no argument and ignores any it is given
// (the plugin's fromTime, toTime, interval_s...).
func bound(pick func(Request) time.Time, conv func(time.Time) string) macroFunc {
	return func(r Request, _ []string) (string, error) { return conv(pick(r)), nil }
}

func from(r Request) time.Time { return r.From }
func to(r Request) time.Time   { return r.To }

// boundFilter is 4.19's $__timeFrom(col) / $__timeTo(col).
func boundFilter(pick func(Request) time.Time, op string) macroFunc {
	return func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("unexpected number of arguments: expected 1 argument, received %d", len(args))
		}
		return fmt.Sprintf("%s %s %s", args[0], op, dateTime(pick(r))), nil
	}
}

// timeGroup is 4.19's $__timeGroup(col, 5m).
func timeGroup(_ Request, args []string) (string, error) {
	if len(args) != 2 {
		return "", fmt.Errorf("unexpected number of arguments: expected 2 arguments, received %d", len(args))
	}
	period := strings.Trim(strings.TrimSpace(args[1]), `'"`)
	d, err := time.ParseDuration(period)
	if err != nil || d.Round(time.Second) <= 0 {
		return "", fmt.Errorf("invalid interval %q", period)
	}
	return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", strings.TrimSpace(args[0]), int64(d.Round(time.Second).Seconds())), nil
}

// noContext is $__table and $__column: a raw SQL panel has neither, and
// macropro refuses them (4.18's sqlutil wrote an empty string).
func noContext(name string) macroFunc {
	return func(Request, []string) (string, error) {
		return "", fmt.Errorf("no %s name in query context", name)
	}
}

// macroTable is the plugin's macro set as 4.20.0 registers it
// (pkg/macros/macros.go, ClickHouseMacros): its own macros merged over the
// engine's defaults (macropro defaults.go, as sqlutil's DefaultMacros
// before it: interval, interval_ms, timeFilter, timeFrom, timeTo,
// timeGroup, table, column), timeFilter, timeFrom, timeTo and timeGroup
// overridden with ClickHouse functions. $__interval and $__interval_ms
// rarely reach the backend: Grafana's template service replaces them
// first (interpolate).
var macroTable = map[string]macroFunc{
	"fromTime":        bound(from, dateTime),
	"toTime":          bound(to, dateTime),
	"fromTime_ms":     bound(from, dateTime64),
	"toTime_ms":       bound(to, dateTime64),
	"timeFilter":      rangeFilter(dateTime),
	"timeFilter_ms":   rangeFilter(dateTime64),
	"dateFilter":      rangeFilter(date),
	"dateTimeFilter":  dateTimeFilter,
	"dt":              dateTimeFilter,
	"timeInterval":    timeInterval(false),
	"timeInterval_ms": timeInterval(true),
	"interval_s": func(r Request, _ []string) (string, error) {
		return fmt.Sprint(int(math.Max(r.Interval.Seconds(), 1))), nil
	},
	"timeFrom":  boundFilter(from, ">="),
	"timeTo":    boundFilter(to, "<="),
	"timeGroup": timeGroup,
	"table":     noContext("table"),
	"column":    noContext("column"),
	"interval": func(r Request, _ []string) (string, error) {
		return intervalText(r.Interval), nil
	},
	"interval_ms": func(r Request, _ []string) (string, error) {
		return fmt.Sprint(r.Interval.Milliseconds()), nil
	},
}

// Macros lists the macro names the plugin's backend expands.
func Macros() []string {
	var names []string
	for n := range macroTable {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// longestFirst is the order sqlutil (since grafana-plugin-sdk-go v0.233)
// and macropro try the macros in, so that $__timeFilter never takes the
// start of $__timeFilter_ms. The older engines ranged over a Go map, in
// no order; this emulation gives them the same one, and the dashboards'
// SQL must not depend on it (TestEnginesAgree).
func longestFirst() []string {
	names := Macros()
	slices.SortStableFunc(names, func(a, b string) int { return len(b) - len(a) })
	return names
}

// Engine is one way the plugin's backend has found the macros in a query
// and their arguments. The zero value is the pinned plugin's.
type Engine int

const (
	// MacroPro is grafana-clickhouse-datasource 4.19.0 and later (the
	// pinned 4.20.0, the first releases with clickhouse-go v2.47.0):
	// grafana/macropro parser.go, Interpolate and replaceAllMacro. A macro
	// takes arguments only when "(" follows its name at once; the list
	// ends at the parenthesis that balances it, quotes respected; "()" is
	// no argument. The query is scanned once per macro, longest name
	// first, and each occurrence replaced where it stands.
	MacroPro Engine = iota
	// SQLUtil is 4.0.6 to 4.18.0: sqlds v3 to v5.1 call
	// grafana-plugin-sdk-go's data/sqlutil Interpolate, whose
	// getMacroMatches (since v0.200.0) takes arguments only when "(" follows
	// the name at once, balanced, split at the top level commas ("()" is one
	// empty argument). Every occurrence's text is replaced everywhere
	// (strings.ReplaceAll).
	SQLUtil
	// Counting is the parser of grafana-plugin-sdk-go's sqlutil before
	// v0.200.0 and of sqlds v2 before its #83 (January 2023; later v2
	// releases, used up to plugin 4.0.5, end a bare macro at a space, not at
	// a comma or a line end), clickhouse-datasource issues #236 and #249:
	// from the macro's name on, a ")" met before any "(" ends a macro
	// without arguments, but a "(" anywhere before it opens the argument
	// list, which runs to the parenthesis that balances it, so
	// `$__fromTime AND x < $__toTime AND (1)` is one macro with the
	// argument "1". Arguments split at every comma.
	Counting
	// LazyRegex is sqlds v1: \$__name\b(?:\((.*?)\))?, the arguments running
	// to the first ")".
	LazyRegex
)

// Engines lists every engine, the pinned one first.
func Engines() []Engine { return []Engine{MacroPro, SQLUtil, Counting, LazyRegex} }

func (e Engine) String() string {
	switch e {
	case MacroPro:
		return "macropro (4.19+)"
	case SQLUtil:
		return "sqlutil (4.0.6-4.18)"
	case Counting:
		return "counting (sdk before v0.200, sqlds v2)"
	case LazyRegex:
		return "lazy regex (sqlds v1)"
	}
	return fmt.Sprintf("Engine(%d)", int(e))
}

// occurrence is one macro found in a query: its text and its arguments.
type occurrence struct {
	start, end int // the text is sql[start:end]
	args       []string
}

// find returns the occurrences of $__name in sql as e parses them.
func (e Engine) find(sql, name string) ([]occurrence, error) {
	re := regexp.MustCompile(`\$__` + regexp.QuoteMeta(name) + `\b`)
	var found []occurrence
	for _, m := range re.FindAllStringIndex(sql, -1) {
		o := occurrence{start: m[0], end: m[1]}
		rest := sql[m[1]:]
		switch e {
		case MacroPro:
			if strings.HasPrefix(rest, "(") {
				if n := closing(rest, true); n > 0 {
					args, err := splitArgs(rest[1:n], true)
					if err != nil {
						return nil, fmt.Errorf("$__%s: %w", name, err)
					}
					o.end, o.args = m[1]+n+1, args
				}
			}
		case SQLUtil:
			if strings.HasPrefix(rest, "(") {
				n := closing(rest, false)
				if n < 0 {
					return nil, fmt.Errorf("$__%s: failed to parse macro arguments (missing close bracket?)", name)
				}
				o.end = m[1] + n + 1
				o.args, _ = splitArgs(rest[1:n], false)
				if len(o.args) == 0 {
					o.args = []string{""}
				}
			}
		case Counting:
			o.args = []string{""}
			open := strings.IndexByte(rest, '(')
			if shut := strings.IndexByte(rest, ')'); open >= 0 && (shut < 0 || open < shut) {
				n := closing(rest[open:], false)
				if n < 0 {
					// getMacroMatches sliced out of range: the plugin panicked.
					return nil, fmt.Errorf("$__%s: unbalanced parentheses after the macro", name)
				}
				o.end = m[1] + open + n + 1
				o.args = trimAll(strings.Split(rest[open+1:open+n], ","))
			}
		case LazyRegex:
			o.args = []string{""}
			if strings.HasPrefix(rest, "(") {
				if n := strings.IndexByte(rest, ')'); n > 0 {
					o.end = m[1] + n + 1
					o.args = trimAll(strings.Split(rest[1:n], ","))
				}
			}
		}
		found = append(found, o)
	}
	return found, nil
}

// closing returns the index in s (which starts with "(") of the ")" that
// balances it, -1 when none does. quotes skips '…' and "…" literals
// (doubled quotes escape), as macropro's findClosingParen.
func closing(s string, quotes bool) int {
	depth, end := 0, -1
	walk(s, quotes, func(i int) bool {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				end = i
				return false
			}
		}
		return true
	})
	return end
}

// walk calls f with the index of each byte of s outside quoted literals
// (every byte when quotes is false) until f returns false.
func walk(s string, quotes bool, f func(i int) bool) {
	for i := 0; i < len(s); i++ {
		if quotes && (s[i] == '\'' || s[i] == '"') {
			i = endOfLiteral(s, i) - 1
			continue
		}
		if !f(i) {
			return
		}
	}
}

// endOfLiteral returns the index after the literal that starts at s[i].
func endOfLiteral(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// splitArgs splits an argument list at its top level commas, trimmed; a
// blank list is no argument.
func splitArgs(raw string, quotes bool) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var args []string
	var err error
	depth, start := 0, 0
	walk(raw, quotes, func(i int) bool {
		switch raw[i] {
		case '(':
			depth++
		case ')':
			if depth == 0 {
				err = fmt.Errorf("unexpected ')' at position %d", i)
				return false
			}
			depth--
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(raw[start:i]))
				start = i + 1
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parentheses in arguments")
	}
	return append(args, strings.TrimSpace(raw[start:])), nil
}

func trimAll(s []string) []string {
	for i := range s {
		s[i] = strings.TrimSpace(s[i])
	}
	return s
}

// macros expands the macros of sql with r's engine, one macro after the
// other, longest name first.
func macros(sql string, r Request) (string, error) {
	for _, name := range longestFirst() {
		found, err := r.Engine.find(sql, name)
		if err != nil {
			return "", err
		}
		if r.Engine == MacroPro {
			// Each occurrence replaced where it stands.
			var b strings.Builder
			last := 0
			for _, o := range found {
				res, err := macroTable[name](r, o.args)
				if err != nil {
					return "", fmt.Errorf("macro $__%s: %w", name, err)
				}
				b.WriteString(sql[last:o.start])
				b.WriteString(res)
				last = o.end
			}
			sql = b.String() + sql[last:]
			continue
		}
		// sqlutil and sqlds: every occurrence's text replaced everywhere.
		texts := make([]string, len(found))
		for i, o := range found {
			texts[i] = sql[o.start:o.end]
		}
		for i, o := range found {
			res, err := macroTable[name](r, o.args)
			if err != nil {
				return "", fmt.Errorf("macro $__%s: %w", name, err)
			}
			sql = strings.ReplaceAll(sql, texts[i], res)
		}
	}
	return sql, nil
}
