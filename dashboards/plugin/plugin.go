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
//  2. In the plugin's backend, sqlds interpolates the macros of
//     grafana/clickhouse-datasource pkg/macros/macros.go: each macro is
//     found with the regular expression \$__name\b(?:\((.*?)\))? (sqlds,
//     macros.go), its arguments split at commas and trimmed.
//
// Expand follows both; unknown variables and macros are left as they are,
// as Grafana leaves them.
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

func bound(pick func(Request) time.Time, conv func(time.Time) string) macroFunc {
	return func(r Request, _ []string) (string, error) { return conv(pick(r)), nil }
}

func from(r Request) time.Time { return r.From }
func to(r Request) time.Time   { return r.To }

// macroTable is the plugin's macro map (pkg/macros/macros.go, Macros).
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

// macros follows sqlds' interpolate with the plugin's macros. \b after the
// name keeps $__timeFilter from matching $__timeFilter_ms, so the order the
// macros are tried in does not matter.
func macros(sql string, r Request) (string, error) {
	for _, name := range Macros() {
		re := regexp.MustCompile(`\$__` + name + `\b(?:\((.*?)\))?`)
		for _, m := range re.FindAllStringSubmatch(sql, -1) {
			var args []string
			for _, a := range strings.Split(m[1], ",") {
				args = append(args, strings.TrimSpace(a))
			}
			res, err := macroTable[name](r, args)
			if err != nil {
				return "", fmt.Errorf("macro $__%s: %w", name, err)
			}
			sql = strings.ReplaceAll(sql, m[0], res)
		}
	}
	return sql, nil
}
