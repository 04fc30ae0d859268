package queries

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sluice/storage/migrate"
)

// Filter is a Grafana dashboard variable that restricts a panel's rows:
// rows whose Columns (any of them) hold one of the variable's values. With
// "All" selected the plugin removes the condition ($__conditionalAll).
type Filter struct {
	// Variable is the dashboard variable's name.
	Variable string
	// Columns are the flow columns compared with its values: a flow
	// passes when any of them matches (SrcNetSite or DstNetSite).
	Columns []string
}

// condition is the filter's SQL, for Grafana's ClickHouse plugin.
// ${var:singlequote} quotes every value, one or several (Grafana's
// singlequote format); the columns are compared as strings, so an
// address reads as ClickHouse prints it (::ffff:192.0.2.1).
func (f Filter) condition() string {
	var ors []string
	for _, c := range f.Columns {
		ors = append(ors, "toString("+c+") IN (${"+f.Variable+":singlequote})")
	}
	cond := strings.Join(ors, " OR ")
	if len(ors) > 1 {
		cond = "(" + cond + ")"
	}
	return "$__conditionalAll(" + cond + ", $" + f.Variable + ")"
}

// Panel says how a query is asked from a Grafana panel.
type Panel struct {
	// Limit is as Params.Limit.
	Limit int
	// Filters are the dashboard variables the panel honours. Their
	// columns, like the query's, decide which tables can answer.
	Filters []Filter
	// Baseline is as Params.Baseline.
	Baseline time.Duration
}

// Grafana writes q for a panel of Grafana's ClickHouse plugin
// (grafana-clickhouse-datasource 4.x): the range is the dashboard's
// ($__fromTime(), $__toTime()), a series' step follows the panel's interval
// ($__interval_s()), and the filters are dashboard variables.
//
// The table is picked as Build picks it with Params.Align, but in SQL,
// when Grafana runs the query: the result is a UNION ALL of one branch per
// candidate table (the first source of each grain that holds the columns,
// coarsest first, then the raw table), and each branch's WHERE holds only
// when its table is the first that answers the dashboard's range. The
// other branches' conditions are constant and false, so ClickHouse reads
// nothing from their tables. For the same range and a step equal to
// Built.Step, the panel's rows are those of Build's SQL.
func Grafana(q Query, p Panel, cfg migrate.Config) (string, error) {
	if p.Limit < 0 {
		return "", fmt.Errorf("query %s: limit must be positive, got %d", q.Name, p.Limit)
	}
	if p.Limit == 0 && len(q.SeriesKeys) == 0 {
		p.Limit = 10
	}
	if q.Direct {
		return grafanaDirect(q, p)
	}
	if p.Baseline == 0 {
		p.Baseline = 7 * 24 * time.Hour
	}
	needed := slices.Clone(q.Columns)
	var filters []string
	for _, f := range p.Filters {
		needed = append(needed, f.Columns...)
		filters = append(filters, f.condition())
	}
	// The candidates: the first source of each grain that has the columns.
	var branches []source
	for _, s := range sources(cfg) {
		if s.grain > 0 && !containsAll(s.columns, needed) {
			continue
		}
		if len(branches) > 0 && branches[len(branches)-1].grain == s.grain {
			continue
		}
		branches = append(branches, s)
	}
	from, to := "toUInt32($__fromTime())", "toUInt32($__toTime())"
	var usable []string // per branch, when its table can answer
	var parts []string
	for _, s := range branches {
		g := int64(s.grain / time.Second)
		bFrom, bTo := from, to
		cond := "1"
		if g > 0 {
			gs := strconv.FormatInt(g, 10)
			bFrom = "intDiv(" + from + ", " + gs + ") * " + gs
			bTo = "intDiv(" + to + " + " + strconv.FormatInt(g-1, 10) + ", " + gs + ") * " + gs
			fine := "(" + to + " - " + from + " >= " + strconv.FormatInt(g*minSeriesPoints, 10) + ")"
			aligned := "(" + from + " % " + gs + " = 0 AND " + to + " % " + gs + " = 0)"
			cond = "(" + aligned + " OR " + fine + ")"
			if q.TimeSeries {
				cond = fine
			}
		}
		if s.ttl > 0 {
			age := int64(s.ttl / time.Second)
			if q.Name == "new-destinations" {
				age -= int64(p.Baseline / time.Second)
			}
			cond += " AND toUInt32(now()) - " + bFrom + " <= " + strconv.FormatInt(age, 10)
		}
		// The branch answers when it can and no coarser one could.
		when := cond
		for _, u := range usable {
			when += " AND NOT (" + u + ")"
		}
		if s.grain == 0 {
			// The raw table answers whatever the coarser ones cannot.
			when = "1"
			for _, u := range usable {
				when += " AND NOT (" + u + ")"
			}
		}
		usable = append(usable, cond)
		where := "TimeReceived >= toDateTime(" + bFrom + ") AND TimeReceived < toDateTime(" + bTo + ") AND (" + when + ")"
		if g == 0 {
			where = "TimeReceived >= $__fromTime() AND TimeReceived < $__toTime() AND (" + when + ")"
		}
		for _, f := range filters {
			where += " AND " + f
		}
		bucket, step := "$__timeInterval(TimeReceived)", "$__interval_s()"
		if g > 0 {
			gs := strconv.FormatInt(g, 10)
			step = "greatest(" + gs + ", intDiv($__interval_s(), " + gs + ") * " + gs + ")"
			bucket = "toStartOfInterval(TimeReceived, toIntervalSecond(" + step + "))"
		}
		baseline := "TimeReceived >= toDateTime(" + bFrom + " - " + strconv.FormatInt(int64(p.Baseline/time.Second), 10) +
			") AND TimeReceived < toDateTime(" + bFrom + ")"
		for _, f := range filters {
			baseline += " AND " + f
		}
		if len(q.SeriesKeys) > 0 && p.Limit > 0 {
			where += topSeries(q.SeriesKeys, s, where, p.Limit)
		}
		sql := fill(q.SQL, s, placeholders{
			where: where, baseline: baseline, bucket: bucket, step: "(" + step + ")",
			seconds: "(" + bTo + " - " + bFrom + ")", limit: p.Limit,
		})
		parts = append(parts, "SELECT * FROM ("+sql+")")
	}
	cli := "sluice query " + q.Name
	if p.Limit > 0 {
		cli += " --param limit=" + strconv.Itoa(p.Limit)
	}
	return "-- " + cli + " (storage/queries): each branch reads one table, the coarsest that answers the range\n" +
		strings.Join(parts, "\nUNION ALL\n"), nil
}

// placeholders are the values of a query's placeholders besides the
// table's own ({table} and the counters).
type placeholders struct {
	where, baseline, bucket, step, seconds string
	limit                                  int
}

// fill replaces q's placeholders for a table.
func fill(sql string, s source, p placeholders) string {
	return strings.NewReplacer(
		"{table}", s.table,
		"{where}", p.where,
		"{baseline}", p.baseline,
		"{bytes}", s.bytes,
		"{packets}", s.packets,
		"{flows}", s.flows,
		"{bucket}", p.bucket,
		"{step}", p.step,
		"{seconds}", p.seconds,
		"{limit}", strconv.Itoa(p.limit),
	).Replace(sql)
}

// grafanaDirect writes a Direct query (the security queries, which name
// their tables and judge flows by their own time) for a panel: the range
// is the dashboard's, as Build's {flowtime} and {alerttime} take it. A
// query that needs a parameter (an alert ID, an address) is not a panel's.
func grafanaDirect(q Query, p Panel) (string, error) {
	if len(q.Needs) > 0 {
		return "", fmt.Errorf("query %s needs --param %s: not a panel query", q.Name, strings.Join(q.Needs, ", "))
	}
	if len(p.Filters) > 0 {
		return "", fmt.Errorf("query %s reads its own tables: it takes no dashboard filter", q.Name)
	}
	sql := strings.NewReplacer(
		"{flowtime}", "TimeFlowStart >= $__fromTime() AND TimeFlowStart < $__toTime() AND TimeReceived >= $__fromTime() - 3600",
		"{alerttime}", "LastSeen >= $__fromTime() AND FirstSeen < $__toTime()",
		"{limit}", strconv.Itoa(p.Limit),
	).Replace(q.SQL)
	return "-- sluice query " + q.Name + " --param limit=" + strconv.Itoa(p.Limit) + " (storage/queries)\n" + sql, nil
}
