package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	sdk "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"gopkg.in/yaml.v3"

	"sluice/dashboards/plugin"
	"sluice/internal/testenv"
)

// loadAll reads every committed dashboard.
func loadAll(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(Dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	if len(out) == 0 {
		t.Fatal("no dashboard in dashboards/json")
	}
	return out
}

// TestGeneratedUpToDate fails while the committed JSON is not what the
// definitions and the query library generate.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := Render()
	if err != nil {
		t.Fatal(err)
	}
	got := loadAll(t)
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("dashboards/json/%s is stale: run go generate ./dashboards and commit the result", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("dashboards/json/%s is no longer generated: run go generate ./dashboards", name)
		}
	}
}

// provisionedUIDs reads the data sources' uids and types from the
// provisioning file Grafana mounts.
func provisionedUIDs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("provisioning", "datasources", "sluice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	uids := map[string]string{}
	for _, d := range f.Datasources {
		uids[d.UID] = d.Type
	}
	if f.APIVersion != 1 || uids[ClickHouseUID] != ClickHouseType || uids[PrometheusUID] != PrometheusType {
		t.Fatalf("provisioning/datasources/sluice.yaml: apiVersion %d, data sources %v", f.APIVersion, uids)
	}
	return uids
}

// builtins are the variables Grafana itself defines.
var builtins = []string{"__interval", "__interval_ms", "__rate_interval", "__range", "__from", "__to", "__data", "__field", "__series", "__value", "__all", "__dashboard", "__org", "__user", "__timeFilter"}

// variableRef finds variable references: $name, ${name...}, [[name]].
var variableRef = regexp.MustCompile(`\$\{(\w+)|\$(\w+)|\[\[(\w+)`)

// TestSchema validates every dashboard against Grafana's published
// dashboard schema, as the Grafana Foundation SDK v0.0.22 types it (strict:
// unknown fields, wrong types and missing required fields fail), and
// checks what the schema cannot: unique panel ids, every data source a
// provisioned one, every variable used defined.
func TestSchema(t *testing.T) {
	uids := provisionedUIDs(t)
	for name, b := range loadAll(t) {
		t.Run(name, func(t *testing.T) {
			var d sdk.Dashboard
			if err := sdkError(d.UnmarshalJSONStrict(b)); err != nil {
				t.Fatalf("Grafana's dashboard schema (foundation SDK v0.0.22): %v", err)
			}
			if err := sdkError(d.Validate()); err != nil {
				t.Fatalf("Grafana's dashboard schema: %v", err)
			}
			if d.SchemaVersion != SchemaVersion || sdk.NewDashboard().SchemaVersion != SchemaVersion {
				t.Errorf("schemaVersion %d, the SDK's %d, want %d", d.SchemaVersion, sdk.NewDashboard().SchemaVersion, SchemaVersion)
			}
			if d.Uid == nil || *d.Uid+".json" != name {
				t.Errorf("uid %v does not name the file", d.Uid)
			}

			var raw Dashboard
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			defined := map[string]bool{}
			for _, v := range raw.Templating.List {
				if defined[v.Name] {
					t.Errorf("variable %s defined twice", v.Name)
				}
				defined[v.Name] = true
			}
			checkRef := func(where string, ref *DataSourceRef) {
				if ref == nil {
					t.Errorf("%s: no data source", where)
				} else if typ, ok := uids[ref.UID]; !ok || typ != ref.Type {
					t.Errorf("%s: data source %+v is not provisioned (%v)", where, *ref, uids)
				}
			}
			checkVars := func(where, text string) {
				for _, m := range variableRef.FindAllStringSubmatch(text, -1) {
					v := m[1] + m[2] + m[3]
					if !defined[v] && !slices.Contains(builtins, v) && !strings.HasPrefix(v, "__") {
						t.Errorf("%s uses $%s, which the dashboard does not define", where, v)
					}
					if strings.HasPrefix(v, "__") && !slices.Contains(builtins, v) && !isMacro(v) {
						t.Errorf("%s uses %s, neither a Grafana variable nor a plugin macro", where, v)
					}
				}
			}
			for _, v := range raw.Templating.List {
				if v.Type == "query" {
					checkRef("variable "+v.Name, v.Datasource)
					q, _ := v.Query.(map[string]any)
					sql, _ := q["rawSql"].(string)
					checkVars("variable "+v.Name, sql)
					checkMacroArgs(t, "variable "+v.Name, sql)
				}
			}
			ids := map[int]bool{}
			for _, p := range raw.Panels {
				where := "panel " + p.Title
				if p.ID <= 0 || ids[p.ID] {
					t.Errorf("%s: id %d not unique", where, p.ID)
				}
				ids[p.ID] = true
				checkRef(where, p.Datasource)
				if len(p.Targets) == 0 {
					t.Errorf("%s: no query", where)
				}
				for _, tg := range p.Targets {
					checkRef(where+" "+tg.RefID, tg.Datasource)
					checkVars(where, tg.RawSQL+tg.Expr)
					checkMacroArgs(t, where, tg.RawSQL)
					if (tg.RawSQL == "") == (tg.Expr == "") {
						t.Errorf("%s: a target has SQL %q and PromQL %q", where, tg.RawSQL, tg.Expr)
					}
				}
				for _, l := range p.FieldConfig.Defaults.Links {
					checkVars(where+" link", l.URL)
				}
			}
		})
	}
}

// sdkError returns err, or nil for the SDK's empty cog.BuildErrors (it
// returns its error list typed even when the list is empty).
func sdkError(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// isMacro tells a plugin macro ($__timeFilter) from a misspelt variable.
func isMacro(name string) bool {
	return name == "__conditionalAll" || slices.Contains(plugin.Macros(), strings.TrimPrefix(name, "__"))
}

// checkMacroArgs: every backend macro is written with its argument list,
// "()" when it takes none, and no argument holds a parenthesis. A bare
// $__fromTime followed later by "(" is a macro with arguments to the
// parenthesis-counting parser (plugin.Counting), and the lazy regex
// (plugin.LazyRegex) ends an argument at its first ")".
func checkMacroArgs(t *testing.T, where, sql string) {
	t.Helper()
	for _, name := range plugin.Macros() {
		for _, m := range regexp.MustCompile(`\$__`+name+`\b(\(([^)]*)\))?`).FindAllStringSubmatch(sql, -1) {
			if m[1] == "" {
				t.Errorf("%s: $__%s without its parentheses: write $__%s()", where, name, name)
			}
			if strings.Contains(m[2], "(") {
				t.Errorf("%s: $__%s(%s): an argument with parentheses", where, name, m[2])
			}
		}
	}
}

// TestEnginesAgree: every query of every dashboard (panels and variables)
// expands to the same SQL under every macro engine the ClickHouse plugin
// has had, with every variable on All and with one value selected (the
// $__conditionalAll conditions then add parentheses after the macros), so
// no dashboard depends on the plugin's version.
func TestEnginesAgree(t *testing.T) {
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	checked := 0
	for name, b := range loadAll(t) {
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var queries []string
		for _, v := range d.Templating.List {
			if q, ok := v.Query.(map[string]any); ok {
				if sql, _ := q["rawSql"].(string); sql != "" {
					queries = append(queries, sql)
				}
			}
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL != "" {
					queries = append(queries, tg.RawSQL)
				}
			}
		}
		for _, selected := range [][]string{{plugin.AllValue}, {"10.0.0.1"}} {
			vars := map[string]plugin.Variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = plugin.Variable{Options: []string{"10.0.0.1", "10.0.0.2"}, Current: selected, Multi: v.Multi}
			}
			for _, sql := range queries {
				for _, line := range strings.Split(sql, "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "--") && strings.Contains(line, "$__") {
						t.Errorf("%s: a macro in a comment (macropro strips comments first): %s", name, line)
					}
				}
				var want string
				for _, e := range plugin.Engines() {
					got, err := plugin.Expand(sql, plugin.Request{From: from, To: from.Add(time.Hour), Interval: time.Minute, Variables: vars, Engine: e})
					switch {
					case err != nil:
						t.Errorf("%s %v: %v\n%s", name, e, err, sql)
					case e == plugin.MacroPro:
						want = got
						if strings.Contains(got, "$__") {
							t.Errorf("%s: a macro is left after expansion:\n%s", name, got)
						}
					case got != want:
						t.Errorf("%s: %v expands\n%s\nto\n%s\nand %v to\n%s", name, e, sql, got, plugin.MacroPro, want)
					}
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no query checked")
	}
	t.Logf("%d expansions agree under %d engines", checked, len(plugin.Engines()))
}

// TestPrometheusMetrics: every metric a health panel reads is one sluice
// exports: in the golden lists of cmd/sluice/testdata/metrics, or declared
// in a metrics.go (a labelled counter appears after its first event).
func TestPrometheusMetrics(t *testing.T) {
	root := testenv.RepoRoot(t)
	golden := map[string]bool{}
	lists, _ := filepath.Glob(filepath.Join(root, "cmd", "sluice", "testdata", "metrics", "*.txt"))
	for _, f := range lists {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if name, _, ok := strings.Cut(line, " "); ok {
				golden[name] = true
			}
		}
	}
	if len(golden) == 0 {
		t.Fatal("no golden metric list in cmd/sluice/testdata/metrics")
	}
	declared := func(name string) bool {
		var found bool
		_ = filepath.WalkDir(root, func(path string, e os.DirEntry, err error) error {
			if err != nil || found || e.IsDir() || e.Name() != "metrics.go" {
				return err
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			prefix := "sluice_" + strings.ReplaceAll(rel, string(filepath.Separator), "_") + "_"
			if suffix, ok := strings.CutPrefix(name, prefix); ok {
				b, _ := os.ReadFile(path)
				found = bytes.Contains(b, []byte(`"`+suffix+`"`))
			}
			return nil
		})
		return found
	}
	metric := regexp.MustCompile(`\bsluice_\w+`)
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range all {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				for _, m := range metric.FindAllString(tg.Expr, -1) {
					n++
					base := strings.TrimSuffix(m, "_bucket")
					if !golden[base] && !declared(base) {
						t.Errorf("%s, panel %q: %s is not a metric sluice exports", d.UID, p.Title, m)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no panel reads a sluice metric")
	}
}

// TestSchemaRejects shows the schema check has teeth: a dashboard with an
// unknown field, in the dashboard or in a panel, or a field of the wrong
// type, fails it.
func TestSchemaRejects(t *testing.T) {
	b := loadAll(t)["sluice-overview.json"]
	for name, mutate := range map[string]func(map[string]any){
		"unknown dashboard field": func(d map[string]any) { d["bogus"] = 1 },
		"unknown panel field":     func(d map[string]any) { d["panels"].([]any)[0].(map[string]any)["bogus"] = 1 },
		"wrong type":              func(d map[string]any) { d["schemaVersion"] = "42" },
		"panel without type":      func(d map[string]any) { delete(d["panels"].([]any)[0].(map[string]any), "type") },
		"wrong gridPos type":      func(d map[string]any) { d["panels"].([]any)[0].(map[string]any)["gridPos"] = "top" },
	} {
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		mutate(d)
		bad, _ := json.Marshal(d)
		var sd sdk.Dashboard
		if sdkError(sd.UnmarshalJSONStrict(bad)) == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}
