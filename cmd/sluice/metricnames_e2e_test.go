package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// metricFamilies returns "name type" for every sluice_ family the process
// exposes on /metrics, sorted.
func (p *process) metricFamilies() []string {
	p.t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok && strings.HasPrefix(rest, "sluice_") {
			out = append(out, rest)
		}
	}
	if err := sc.Err(); err != nil {
		p.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestRunMetricNames pins the names and types of the metrics `sluice run`
// exposes once ready: dashboards, alerts and README refer to them, so a
// refactoring of how components register metrics must leave them as they
// are. Rewrite testdata/metrics/*.txt with -update when a change is meant.
func TestRunMetricNames(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())
	checkMetricNames(t, "run", in.process)
	// The Go heap is bounded by the computed budget, the proportional
	// collector off (GOGC off reads as 2^64 - 1), unless this environment
	// sets the collector.
	if env := goGCEnvironment(); env != "" {
		t.Logf("the Go heap budget is not checked: %s is set", env)
	} else if limit, gogc := in.metric("go_gc_gomemlimit_bytes"), in.metric("go_gc_gogc_percent"); limit < minGoMemoryLimit || limit >= 1<<62 || gogc < 1<<63 {
		t.Errorf("sluice run's Go heap: limit %g bytes, GOGC %g; want the computed budget and the proportional collector off", limit, gogc)
	}
	in.stop()
}

// checkMetricNames compares the families p exposes with
// testdata/metrics/<name>.txt.
func checkMetricNames(t *testing.T, name string, p *process) {
	t.Helper()
	got := strings.Join(p.metricFamilies(), "\n") + "\n"
	golden := filepath.Join("testdata", "metrics", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("metric families of `sluice %s` changed:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestKafkaMetricNames does the same for `sluice pipeline` and `sluice
// collect` on the shared broker.
func TestKafkaMetricNames(t *testing.T) {
	_, _, pipe, coll, _ := startPipelineAndCollector(t, 5)
	checkMetricNames(t, "pipeline", pipe)
	checkMetricNames(t, "collect", coll)
	coll.term()
	pipe.term()
}
