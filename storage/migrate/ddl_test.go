package migrate

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestFlowsTableGolden pins the generated DDL: a change to record.Columns or
// to the table's engine settings shows up as a diff of testdata/flows.sql.
func TestFlowsTableGolden(t *testing.T) {
	got := CreateFlowsTable(DefaultConfig()) + "\n"
	path := filepath.Join("testdata", "flows.sql")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("generated DDL differs from %s (run go test -update to accept):\n%s", path, got)
	}
}

func TestFlowsTableHasEveryColumn(t *testing.T) {
	ddl := CreateFlowsTable(DefaultConfig())
	for _, c := range record.Columns {
		if !strings.Contains(ddl, "`"+c.Name+"` "+c.Type) {
			t.Errorf("column %s %s missing from DDL", c.Name, c.Type)
		}
	}
}

func TestFlowsTableTTL(t *testing.T) {
	ddl := CreateFlowsTable(Config{TTL: 30 * 24 * time.Hour})
	if !strings.Contains(ddl, "\nTTL TimeReceived + toIntervalSecond(2592000)\n") {
		t.Errorf("TTL clause missing:\n%s", ddl)
	}
	if strings.Contains(CreateFlowsTable(Config{}), "\nTTL ") {
		t.Error("a zero TTL must not set one")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	for _, bad := range []Config{{TTL: -time.Hour}, {TTL: 1500 * time.Millisecond}, {TTL1h: -time.Second}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("config %+v: no error", bad)
		}
	}
}

// Every version is recorded after its statements; TTLs and reference data
// are applied last, on every run.
func TestStatementsRecordEachVersionThenApplyEveryRun(t *testing.T) {
	m, err := New(reporter.New(slog.New(slog.DiscardHandler)), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	stmts := m.Statements()
	everyRun := append(ApplyTTL(DefaultConfig()), ReferenceData(DefaultConfig())...)
	if len(ApplyTTL(DefaultConfig())) != 1+len(Rollups)+2 { // flows, rollups, alerts, interface_counters
		t.Fatalf("%d TTL statements, want one per table", len(ApplyTTL(DefaultConfig())))
	}
	tail := stmts[len(stmts)-len(everyRun):]
	for i := range everyRun {
		if tail[i] != everyRun[i] {
			t.Errorf("statement %d from the end differs:\n%.200s\nwant\n%.200s", len(everyRun)-i, tail[i], everyRun[i])
		}
	}
	last := stmts[len(stmts)-len(everyRun)-1]
	want := fmt.Sprintf("insert_deduplication_token = 'sluice-schema-version-%d'", LatestVersion())
	if !strings.HasPrefix(last, "INSERT INTO "+MigrationsTable) || !strings.Contains(last, want) {
		t.Errorf("the last version is not recorded after its statements: %.200s", last)
	}
}

func TestRollupDDL(t *testing.T) {
	cfg := DefaultConfig()
	for _, r := range Rollups {
		ddl := CreateRollupTable(r, cfg)
		for _, want := range append(append([]string{"`TimeReceived` DateTime"}, r.Dimensions...), RollupCounters...) {
			if !strings.Contains(ddl, strings.TrimPrefix(want, "`")) {
				t.Errorf("%s: %s missing:\n%s", r.Table, want, ddl)
			}
		}
		if !strings.Contains(ddl, fmt.Sprintf("TTL TimeReceived + toIntervalSecond(%d)", int64(r.TTL(cfg).Seconds()))) {
			t.Errorf("%s: TTL missing:\n%s", r.Table, ddl)
		}
		if !strings.Contains(ddl, "\nORDER BY (TimeReceived, "+strings.Join(r.Dimensions, ", ")+")\n") {
			t.Errorf("%s: the sort key must be the bucket and every dimension, or the SummingMergeTree sums rows apart:\n%s", r.Table, ddl)
		}
		if !strings.Contains(ddl, "non_replicated_deduplication_window") {
			t.Errorf("%s: a replayed batch reaches the view again: the rollup needs a deduplication window", r.Table)
		}
	}
}

// TestClusterDDLGolden pins the schema of cluster mode, which the embedded
// engine cannot create (storage/embedded's tests parse every statement).
func TestClusterDDLGolden(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster = "sluice_cluster"
	m, err := New(reporter.New(slog.New(slog.DiscardHandler)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, stmt := range m.Statements() {
		if strings.HasPrefix(stmt, "INSERT INTO sluice.protocols") || strings.HasPrefix(stmt, "INSERT INTO sluice.services") ||
			strings.HasPrefix(stmt, "INSERT INTO sluice.icmp_types") || strings.HasPrefix(stmt, "INSERT INTO sluice.asn_names") {
			stmt = stmt[:strings.Index(stmt, " VALUES ")] + " VALUES ..." // the data is the single-node data
		}
		b.WriteString(stmt + ";\n\n")
	}
	got := b.String()
	for _, want := range []string{
		"CREATE DATABASE IF NOT EXISTS sluice ON CLUSTER `sluice_cluster`",
		"CREATE TABLE IF NOT EXISTS sluice.flows_local ON CLUSTER `sluice_cluster`",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/sluice/flows_local', '{replica}')",
		"CREATE TABLE IF NOT EXISTS sluice.flows ON CLUSTER `sluice_cluster` AS sluice.flows_local ENGINE = Distributed(`sluice_cluster`, sluice, flows_local, cityHash64(ExporterAddress))",
		"ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/sluice/flows_1m_local', '{replica}', (Bytes, Packets, Flows))",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1m_mv ON CLUSTER `sluice_cluster` TO sluice.flows_1m_local AS SELECT",
		"FROM sluice.flows_local GROUP BY",
		"ALTER TABLE sluice.flows_local ON CLUSTER `sluice_cluster` ADD INDEX IF NOT EXISTS idx_SrcAddr",
		"ReplicatedMergeTree('/clickhouse/tables/all/sluice/protocols', '{replica}')",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("cluster DDL lacks %q", want)
		}
	}
	path := filepath.Join("testdata", "cluster.sql")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("cluster DDL differs from %s (go test -update to accept)", path)
	}
}
