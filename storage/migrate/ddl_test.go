package migrate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if strings.Contains(CreateFlowsTable(DefaultConfig()), "\nTTL ") {
		t.Error("default config must not set a TTL")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	for _, bad := range []Config{{TTL: -time.Hour}, {TTL: 1500 * time.Millisecond}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("config %+v: no error", bad)
		}
	}
}

func TestStatementsEndWithVersionRecord(t *testing.T) {
	m, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stmts := m.Statements()
	last := stmts[len(stmts)-1]
	if !strings.HasPrefix(last, "INSERT INTO "+MigrationsTable) || !strings.Contains(last, "insert_deduplication_token = 'sluice-schema-version-1'") {
		t.Errorf("last statement does not record version 1: %s", last)
	}
}
