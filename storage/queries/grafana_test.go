package queries

import (
	"regexp"
	"strings"
	"testing"

	"sluice/storage/migrate"
)

// TestGrafana renders every library query for a panel: no placeholder is
// left, the branches are the coarsest table of each grain that holds the
// columns (the panel's filters' included) then the raw table, and the
// filters are the plugin's $__conditionalAll. Running the SQL is
// TestDashboardPanels' part (cmd/sluice).
func TestGrafana(t *testing.T) {
	placeholder := regexp.MustCompile(`\{[a-z]+\}`)
	table := regexp.MustCompile(`FROM (sluice\.\w+) WHERE`)
	for _, q := range Library {
		sql, err := Grafana(q, Panel{Limit: 5}, migrate.DefaultConfig())
		if len(q.Needs) > 0 {
			if err == nil {
				t.Errorf("%s needs --param %v, yet renders for a panel", q.Name, q.Needs)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		if m := placeholder.FindString(sql); m != "" {
			t.Errorf("%s: placeholder %s left in %s", q.Name, m, sql)
		}
		if !strings.HasPrefix(sql, "-- sluice query "+q.Name+" --param limit=5 ") {
			t.Errorf("%s: first line %q", q.Name, strings.SplitN(sql, "\n", 2)[0])
		}
		if q.Direct {
			continue // one statement over the tables it names
		}
		var tables []string
		for _, part := range strings.Split(sql, "\nUNION ALL\n") {
			tables = append(tables, table.FindStringSubmatch(part)[1])
		}
		if tables[len(tables)-1] != migrate.FlowsTable {
			t.Errorf("%s: last branch reads %s, not the raw table", q.Name, tables[len(tables)-1])
		}
	}
	q, _ := Lookup("top-protocols")
	plain, _ := Grafana(q, Panel{}, migrate.DefaultConfig())
	filtered, _ := Grafana(q, Panel{Filters: []Filter{{Variable: "exporter", Columns: []string{"ExporterAddress"}}}}, migrate.DefaultConfig())
	if !strings.Contains(plain, "FROM sluice.flows_as_1h ") || strings.Contains(plain, "conditionalAll") {
		t.Errorf("top-protocols reads the AS rollups without filter:\n%s", plain)
	}
	if strings.Contains(filtered, "flows_as_") || !strings.Contains(filtered, "FROM sluice.flows_1h ") ||
		!strings.Contains(filtered, "$__conditionalAll(toString(ExporterAddress) IN (${exporter:singlequote}), $exporter)") {
		t.Errorf("top-protocols with an exporter filter reads the wide rollups, filtered:\n%s", filtered)
	}
	two, _ := Grafana(q, Panel{Filters: []Filter{{Variable: "site", Columns: []string{"SrcNetSite", "DstNetSite"}}}}, migrate.DefaultConfig())
	if !strings.Contains(two, "$__conditionalAll((toString(SrcNetSite) IN (${site:singlequote}) OR toString(DstNetSite) IN (${site:singlequote})), $site)") {
		t.Errorf("a filter on two columns is not one parenthesised OR:\n%s", two)
	}
}
