package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/dashboards"
	"sluice/dashboards/plugin"
	"sluice/internal/testenv"
	"sluice/storage/migrate"
	"sluice/storage/queries"
)

// panelResult is what deploy/dev/clients/chgo/panels prints per statement.
type panelResult struct {
	ID      string     `json:"id"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Error   string     `json:"error"`
}

type statement struct {
	ID  string `json:"id"`
	SQL string `json:"sql"`
}

// runStatements runs statements through `sluice run`'s ClickHouse HTTP
// interface with clickhouse-go v2.47.0, the version Grafana's ClickHouse
// plugin pins (deploy/dev/clients/chgo/panels), as the read-only user the
// provisioned data source uses.
func runStatements(t *testing.T, chAddr string, stmts []statement) map[string]panelResult {
	t.Helper()
	file := filepath.Join(t.TempDir(), "statements.json")
	b, err := json.Marshal(stmts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.RepoRoot(t), "deploy", "dev", "clients", "chgo")
	out := runClient(t, dir, "go", "run", "./panels", chAddr, migrate.AnalystUser, file)
	results := map[string]panelResult{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r panelResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("panels client: %v: %q", err, line)
		}
		results[r.ID] = r
	}
	if len(results) != len(stmts) {
		t.Fatalf("panels client answered %d statements of %d", len(results), len(stmts))
	}
	return results
}

// libraryComment is the first line queries.Grafana writes: the CLI command
// that answers the same.
var libraryComment = regexp.MustCompile(`^-- sluice query (\S+)(?: --param limit=(\d+))?`)

// dashRange is a dashboard time range, ending now.
type dashRange struct {
	name string
	span time.Duration
}

// combo is a selection of the dashboard's variables.
type combo struct {
	name     string
	values   map[string][]string // variable → selection (plugin.AllValue for All)
	exporter netip.Addr          // the one exporter selected, for `sluice query --param exporter`
}

// TestDashboardPanels loads every generated dashboard, expands every
// panel's SQL as Grafana's ClickHouse plugin does (dashboards/plugin) for
// the last 15 minutes, 24 hours and 30 days and several selections of the
// variables, and runs it through `sluice run`'s ClickHouse HTTP interface
// with clickhouse-go v2.47 over the demo's traffic. No panel errs; a panel
// of a library query returns the rows `sluice query` returns for the same
// range (a time series at the library's step, row for row); a panel the
// demo feeds returns rows.
func TestDashboardPanels(t *testing.T) {
	in, chAddr, totals := runFedByDemo(t)
	cfg := migrate.DefaultConfig()
	all, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	// The committed JSON is what runs in Grafana (TestGeneratedUpToDate
	// keeps it equal to All()).
	var boards []dashboards.Dashboard
	for _, d := range all {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "dashboards", dashboards.Dir, d.UID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var board dashboards.Dashboard
		if err := json.Unmarshal(b, &board); err != nil {
			t.Fatal(err)
		}
		boards = append(boards, board)
	}
	now := time.Now().Truncate(time.Second)
	ranges := []dashRange{{"15m", 15 * time.Minute}, {"24h", 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

	// First the variables' own queries, which give their options.
	var stmts []statement
	for _, b := range boards {
		for _, v := range b.Templating.List {
			if v.Type != "query" {
				continue
			}
			sql := v.Query.(map[string]any)["rawSql"].(string)
			for _, r := range ranges {
				x, err := plugin.Expand(sql, plugin.Request{From: now.Add(-r.span), To: now, Interval: time.Minute, Variables: allSelected(b, nil)})
				if err != nil {
					t.Fatal(err)
				}
				stmts = append(stmts, statement{ID: b.UID + "/" + v.Name + "/" + r.name, SQL: x})
			}
		}
	}
	varResults := runStatements(t, chAddr, stmts)
	options := map[string][]string{} // uid/variable/range → values
	for id, r := range varResults {
		if r.Error != "" {
			t.Errorf("variable %s: %s", id, r.Error)
		}
		for _, row := range r.Rows {
			options[id] = append(options[id], row[0])
		}
	}
	if len(options["sluice-overview/exporter/15m"]) == 0 {
		t.Fatalf("the exporter variable lists no exporter over the last 15 minutes: %+v", varResults["sluice-overview/exporter/15m"])
	}
	// A source of the demo, for the evidence flows' $src.
	src := strings.TrimSpace(in.sql("SELECT toString(SrcAddr) FROM flows GROUP BY SrcAddr ORDER BY count() DESC, SrcAddr LIMIT 1", "TSV"))

	// Then every panel, for every range and selection, and beside each
	// library panel the library's own SQL for the same range.
	type check struct {
		board, panel, rng, combo string
		query                    queries.Query
		built                    queries.Built
		compare                  bool // rows must equal the library's
		step                     bool // run at the library's step
	}
	checks := map[string]check{}
	ran := map[string]bool{} // the selections run
	stmts = nil
	add := func(id, sql string, c check) {
		stmts = append(stmts, statement{ID: id, SQL: sql})
		checks[id] = c
	}
	for _, b := range boards {
		for _, r := range ranges {
			from := now.Add(-r.span)
			for _, c := range combos(b, options, r.name, src) {
				ran[c.name] = true
				vars := allSelected(b, options)
				for name, sel := range c.values {
					v := vars[name]
					v.Current = sel
					vars[name] = v
				}
				for _, p := range b.Panels {
					for _, tg := range p.Targets {
						if tg.RawSQL == "" {
							continue // Prometheus
						}
						base := fmt.Sprintf("%s/%d/%s/%s", b.UID, p.ID, r.name, c.name)
						c0 := check{board: b.UID, panel: p.Title, rng: r.name, combo: c.name}
						// The interval Grafana would give a panel about 1000 points wide.
						interval := max(time.Second, (r.span / 1000).Truncate(time.Second))
						req := plugin.Request{From: from, To: now, Interval: interval, Variables: vars}
						m := libraryComment.FindStringSubmatch(tg.RawSQL)
						if m != nil {
							q, _ := queries.Lookup(m[1])
							limit, _ := strconv.Atoi(m[2])
							params := queries.Params{From: from, To: now, Limit: limit, Align: true, Exporter: c.exporter}
							if !honours(tg.RawSQL, "exporter") {
								params.Exporter = netip.Addr{}
							}
							comparable := c.name == "all" || c.name == "exporter"
							built, err := queries.Build(q, params, cfg, now)
							if err != nil && strings.Contains(err.Error(), "retention") {
								// `sluice query` refuses a range the raw table no
								// longer holds in full; the panel reads what is left,
								// as the library does with no retention.
								noTTL := cfg
								noTTL.TTL = 0
								built, err = queries.Build(q, params, noTTL, now)
							}
							if err != nil {
								t.Fatalf("%s: %v", base, err)
							}
							c0.query, c0.built, c0.compare = q, built, comparable
							if comparable {
								add(base+"/library", built.SQL, check{})
							}
							if q.TimeSeries && comparable {
								// At the library's step, row for row.
								stepReq := req
								stepReq.Interval = built.Step
								x, err := plugin.Expand(tg.RawSQL, stepReq)
								if err != nil {
									t.Fatal(err)
								}
								cs := c0
								cs.step = true
								add(base+"/step", x, cs)
							}
						}
						x, err := plugin.Expand(tg.RawSQL, req)
						if err != nil {
							t.Fatalf("%s: %v", base, err)
						}
						add(base, x, c0)
					}
				}
			}
		}
	}
	start := time.Now()
	results := runStatements(t, chAddr, stmts)
	elapsed := time.Since(start)

	fed := map[string]bool{} // panels that returned rows in some run
	panels := map[string]bool{}
	compared := 0
	for id, c := range checks {
		if c.board == "" {
			continue // a library statement
		}
		r := results[id]
		key := c.board + " / " + c.panel
		panels[key] = true
		if r.Error != "" {
			t.Errorf("%s (%s, %s): %s", key, c.rng, c.combo, r.Error)
			continue
		}
		if len(r.Rows) > 0 {
			fed[key] = true
		}
		if !c.compare {
			continue
		}
		base := strings.TrimSuffix(id, "/step")
		lib := results[base+"/library"]
		if lib.Error != "" {
			t.Errorf("%s: sluice query %s (%s, %s): %s", key, c.query.Name, c.rng, c.combo, lib.Error)
			continue
		}
		if c.query.TimeSeries && !c.step {
			continue // at Grafana's own step: no error, rows (checked above)
		}
		// Row for row (hidden columns included): the panel's rows are
		// the library's.
		if !slices.EqualFunc(r.Rows, lib.Rows, slices.Equal) {
			t.Errorf("%s (%s, %s): panel rows differ from sluice query %s (%s):\npanel:   %v\nlibrary: %v",
				key, c.rng, c.combo, c.query.Name, c.built.Table, head(r.Rows), head(lib.Rows))
		} else if len(lib.Rows) > 0 {
			compared++
		}
	}
	for key := range panels {
		if !fed[key] {
			t.Logf("not fed by the demo: %s", key)
		}
	}
	// What the demo feeds: every panel over the raw flows, the rollups
	// and the sFlow counters; not the alerts, threat-feed, site and tenant
	// panels, which need detections, feeds and networks configured (they
	// run all the same, with no error).
	notFed := []string{"Alerts", "Alerts by severity", "Threat-intel hits by feed", "Threat-intel hits: addresses",
		"Traffic matrix between sites", "Traffic matrix between tenants"}
	for key := range panels {
		title := key[strings.Index(key, " / ")+3:]
		if !fed[key] && !slices.Contains(notFed, title) {
			t.Errorf("%s returned no rows in any range, though the demo feeds it", key)
		}
	}
	if compared == 0 {
		t.Fatal("no panel compared with sluice query")
	}
	t.Logf("%d dashboards, %d panels (%d fed by the demo's %d flows), selections %v, %d statements in %s through clickhouse-go v2.47; %d results equal to sluice query's",
		len(boards), len(panels), len(fed), totals.Flows, slices.Sorted(maps.Keys(ran)), len(stmts), elapsed.Round(time.Millisecond), compared)
	testenv.Ran(t, "clickhouse-go v2.47.0 (HTTP), Grafana ClickHouse plugin 4.x expansion")
	in.stop()
}

func head(rows [][]string) [][]string { return rows[:min(len(rows), 5)] }

// honours tells whether a panel's SQL filters on a variable.
func honours(sql, variable string) bool { return strings.Contains(sql, ", $"+variable+")") }

// allSelected is every variable of b with All selected (a textbox empty),
// its options those the variable's query listed over the range.
func allSelected(b dashboards.Dashboard, options map[string][]string) map[string]plugin.Variable {
	vars := map[string]plugin.Variable{}
	for _, v := range b.Templating.List {
		pv := plugin.Variable{Current: []string{plugin.AllValue}, Multi: v.Multi}
		switch v.Type {
		case "custom":
			for _, o := range v.Options {
				if o.Value != plugin.AllValue {
					pv.Options = append(pv.Options, o.Value)
				}
			}
		case "textbox":
			pv.Current = []string{""}
		case "query":
			pv.Options = options[b.UID+"/"+v.Name+"/15m"]
		}
		vars[v.Name] = pv
	}
	return vars
}

// combos are the selections each dashboard runs with: everything All; one
// exporter; two exporters; one direction; a source in $src.
func combos(b dashboards.Dashboard, options map[string][]string, rng, src string) []combo {
	out := []combo{{name: "all"}}
	has := func(name string) bool {
		return slices.ContainsFunc(b.Templating.List, func(v dashboards.Variable) bool { return v.Name == name })
	}
	if has("exporter") {
		exporters := options[b.UID+"/exporter/"+rng]
		if len(exporters) > 0 {
			c := combo{name: "exporter", values: map[string][]string{"exporter": exporters[:1]}}
			c.exporter, _ = netip.ParseAddr(exporters[0])
			c.exporter = c.exporter.Unmap()
			out = append(out, c)
		}
		if len(exporters) > 1 {
			out = append(out, combo{name: "exporters", values: map[string][]string{"exporter": exporters[:2]}})
		}
	}
	if has("direction") {
		out = append(out, combo{name: "direction", values: map[string][]string{"direction": {"unknown"}}})
	}
	if has("interface") && len(options[b.UID+"/interface/"+rng]) > 0 {
		out = append(out, combo{name: "interface", values: map[string][]string{"interface": options[b.UID+"/interface/"+rng][:1]}})
	}
	if has("src") {
		out = append(out, combo{name: "src", values: map[string][]string{"src": {src}}})
	}
	return out
}
