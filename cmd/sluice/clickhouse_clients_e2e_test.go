package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// TestClickHouseClients runs `sluice run` fed by `sluice demo` and reads it
// with the ClickHouse clients analysts and Grafana use, each from
// deploy/dev/clients, installed by `deploy/dev/deps.sh clients` (make test):
// Python's clickhouse-connect (query and query_df), ClickHouse's JDBC driver
// as DBeaver uses it, and clickhouse-go/v2 at the version Grafana's plugin
// pins beside the project's own. What each reads equals what sluice's own
// query library or SQL endpoint answers.
func TestClickHouseClients(t *testing.T) {
	in, chAddr, totals := runFedByDemo(t)
	root := testenv.RepoRoot(t)
	clients := filepath.Join(root, "deploy", "dev", "clients")
	version := strings.TrimSpace(in.sql("SELECT version()", "TSV"))

	t.Run("python-clickhouse-connect", func(t *testing.T) {
		python := installedClient(t, root, "python", "the Python ClickHouse client's virtualenv,")
		out := runClient(t, "", python, filepath.Join(clients, "python", "top_talkers.py"),
			"127.0.0.1", chAddr[strings.LastIndexByte(chAddr, ':')+1:], "10")
		var qErr bytes.Buffer
		var query bytes.Buffer
		if err := dispatch(context.Background(), []string{"query", "top-sources", "--since", "1h", "--param", "limit=10",
			"--addr", "http://" + in.http, "--format", "tsv"}, &query, &qErr); err != nil {
			t.Fatalf("sluice query top-sources: %v\n%s", err, qErr.String())
		}
		want := strings.Split(strings.TrimSpace(query.String()), "\n")[1:] // after the header
		got := linesByKind(out)
		if v := got["version"]; len(v) != 1 || v[0] != version {
			t.Errorf("clickhouse-connect's server_version %q, SELECT version() %q", v, version)
		}
		for _, method := range []string{"query", "query_df"} {
			if len(want) == 0 || strings.Join(got[method], "\n") != strings.Join(want, "\n") {
				t.Errorf("clickhouse-connect %s:\n%s\nsluice query top-sources:\n%s", method,
					strings.Join(got[method], "\n"), strings.Join(want, "\n"))
			}
		}
		testenv.Ran(t, "clickhouse-connect 1.12.0 (Python, query and query_df)")
	})

	t.Run("jdbc", func(t *testing.T) {
		dir := installedClient(t, root, "jdbc", "the JDBC client, com.clickhouse:jdbc-v2,")
		const query = "SELECT SrcAddr, FlowType, sum(Bytes * SamplingRate) AS Bytes, count() AS Flows FROM flows " +
			"GROUP BY SrcAddr, FlowType ORDER BY Bytes DESC, SrcAddr, FlowType LIMIT 10"
		out := runClient(t, "", "java", "-cp", filepath.Join(dir, "classes")+":"+filepath.Join(dir, "lib", "*"),
			"SluiceJDBC", "jdbc:clickhouse://"+chAddr+"/sluice", query)
		got := linesByKind(out)
		if v := got["version"]; len(v) != 1 || v[0] != version {
			t.Errorf("JDBC getDatabaseProductVersion %q, SELECT version() %q", v, version)
		}
		if tables := got["table"]; len(tables) != 1 || tables[0] != "sluice.flows" {
			t.Errorf("JDBC getTables(sluice, flows): %q", tables)
		}
		// The driver gives an IPv4-mapped IPv6 address as the IPv4 address
		// it maps (java.net.Inet4Address).
		tsv := mappedIPv4.ReplaceAllString(in.sql(query, "TSVWithNames"), "$1")
		want := strings.Split(strings.TrimSpace(tsv), "\n")
		if len(want) < 2 || strings.Join(got["columns"], "") != want[0] ||
			strings.Join(got["row"], "\n") != strings.Join(want[1:], "\n") {
			t.Errorf("JDBC:\n%s\n%s\nSQL endpoint:\n%s", strings.Join(got["columns"], ""),
				strings.Join(got["row"], "\n"), strings.Join(want, "\n"))
		}
		testenv.Ran(t, "jdbc-v2 0.10.0 (JDBC, as DBeaver)")
	})

	t.Run("clickhouse-go", func(t *testing.T) {
		// The client of deploy/dev/clients/chgo, pinned to v2.47.0 (Grafana's
		// plugin), and the same program re-pinned to the project's version.
		project := projectClickHouseGo(t, root)
		old := runClient(t, filepath.Join(clients, "chgo"), "go", "run", ".", chAddr)
		repinned := t.TempDir()
		for _, name := range []string{"go.mod", "go.sum", "main.go"} {
			b, err := os.ReadFile(filepath.Join(clients, "chgo", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repinned, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runClient(t, repinned, "go", "mod", "edit", "-require=github.com/ClickHouse/clickhouse-go/v2@"+project)
		cur := runClient(t, repinned, "go", "run", ".", chAddr)

		o, c := linesByKind(old), linesByKind(cur)
		if v := o["version"]; len(v) != 1 || v[0] != version {
			t.Errorf("v2.47 SELECT version() %q, SQL endpoint %q", v, version)
		}
		if n := len(c["row"]); n == 0 || n != len(o["row"]) {
			t.Errorf("rows of flows: v2.47 %d, %s %d", len(o["row"]), project, n)
		}
		// Every line but the errors, which the two versions type apart.
		for _, kind := range []string{"ping", "version", "columns", "row", "tcp flows"} {
			if a, b := strings.Join(o[kind], "\n"), strings.Join(c[kind], "\n"); a != b || a == "" {
				t.Errorf("%s: v2.47:\n%s\n%s:\n%s", kind, a, project, b)
			}
		}
		if want := strings.TrimSpace(in.sql("SELECT count() FROM flows WHERE Proto = 6", "TSV")); strings.Join(c["tcp flows"], "") != want {
			t.Errorf("count with a server-side parameter: %q, SQL endpoint %s", c["tcp flows"], want)
		}
		// v2.47 returns an HTTP error as text (ClickHouse's code in it);
		// from v2.48 on it is a *clickhouse.Exception with the code.
		wantOld := []string{"SELECT no_such_column FROM flows\terror text\t47", "DROP TABLE flows\terror text\t164"}
		wantCur := []string{"SELECT no_such_column FROM flows\t*clickhouse.Exception\t47", "DROP TABLE flows\t*clickhouse.Exception\t164"}
		if strings.Join(o["exception"], "\n") != strings.Join(wantOld, "\n") {
			t.Errorf("v2.47 errors: %q, want %q", o["exception"], wantOld)
		}
		if strings.Join(c["exception"], "\n") != strings.Join(wantCur, "\n") {
			t.Errorf("%s errors: %q, want %q", project, c["exception"], wantCur)
		}
		testenv.Ran(t, "clickhouse-go v2.47.0 and "+project+" (HTTP)")
	})

	if got := in.count(""); got != totals.Flows {
		t.Fatalf("after the clients (and their refused DROP TABLE): %d flows, the demo sent %d", got, totals.Flows)
	}
	in.stop()
}

// mappedIPv4 is an IPv4-mapped IPv6 address as ClickHouse prints it.
var mappedIPv4 = regexp.MustCompile(`::ffff:(\d+\.\d+\.\d+\.\d+)`)

// installedClient asks deploy/dev/deps.sh where the client KIND is installed,
// without installing it: a missing one skips the test, or fails it in CI.
func installedClient(t *testing.T, root, kind, what string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root, "deploy", "dev", "deps.sh"), kind, "--installed")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		testenv.Missing(t, what+" made by deploy/dev/deps.sh "+kind)
	}
	if err != nil {
		t.Fatalf("deploy/dev/deps.sh %s --installed: %v\n%s", kind, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// runClient runs a client program in dir (or here), for at most 5 minutes
// (clickhouse-go's first build is the long part), and returns its output.
func runClient(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// The go tool fetches the client's modules if deps.sh has not, and
	// updates the re-pinned copy's go.sum; no VCS stamp (a checkout git
	// refuses would fail the build).
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// linesByKind groups a client's tab-separated lines by their first field,
// the rest of each line kept.
func linesByKind(out string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		kind, rest, _ := strings.Cut(line, "\t")
		m[kind] = append(m[kind], rest)
	}
	return m
}

// projectClickHouseGo is the clickhouse-go/v2 version go.mod requires.
func projectClickHouseGo(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/ClickHouse/clickhouse-go/v2 (v\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod requires no github.com/ClickHouse/clickhouse-go/v2")
	}
	return string(m[1])
}
