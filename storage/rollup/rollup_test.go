package rollup_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
	"sluice/storage/migrate"
	"sluice/storage/rollup"
	"sluice/storage/writer"
)

var engine *embedded.Engine

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, nil) }

func discard() *reporter.Reporter { return reporter.New(slog.New(slog.DiscardHandler)) }

// migrateRolled makes a fresh schema whose 5-minute and hourly rollups
// are rolled up, as the embedded engine's are.
func migrateRolled(t *testing.T) {
	t.Helper()
	if err := engine.Exec(t.Context(), "DROP DATABASE IF EXISTS sluice SYNC"); err != nil {
		t.Fatal(err)
	}
	m := rolledMigrator(t)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if d := m.Drift(); len(d) > 0 {
		t.Fatalf("drift after migrating: %v", d)
	}
}

func rolledMigrator(t *testing.T) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(discard(), migrate.Config{RollUpCoarseGrains: true})
	if err != nil {
		t.Fatal(err)
	}
	return m.WithQuery(func(ctx context.Context, sql string) (string, error) {
		out, err := engine.Query(ctx, sql, "TSV")
		return string(out), err
	})
}

// With rolled-up coarse grains the schema has the 1-minute rollups' views
// and the pending windows' view, and no other: no 5-minute or hourly
// view, no exporters view (the writer fills that table). A pending view
// dropped is drift, and migrating again repairs it.
func TestRolledSchema(t *testing.T) {
	migrateRolled(t)
	views := "SELECT arrayStringConcat(groupArray(name), ' ') FROM (SELECT name FROM system.tables WHERE database = 'sluice' AND engine = 'MaterializedView' ORDER BY name)"
	want := "flows_1m_mv flows_as_1m_mv flows_if_1m_mv flows_net_1m_mv rollup_pending_mv"
	if got := query(t, views); got != want {
		t.Errorf("views: %s\nwant:  %s", got, want)
	}
	if err := engine.Exec(t.Context(), "DROP VIEW sluice.rollup_pending_mv"); err != nil {
		t.Fatal(err)
	}
	drifts, err := rolledMigrator(t).Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(drifts) != 1 || !strings.HasPrefix(drifts[0].String(), "sluice.rollup_pending_mv: missing view") {
		t.Errorf("drift: %v, want the missing pending view", drifts)
	}
	m := rolledMigrator(t)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if d := m.Drift(); len(d) > 0 {
		t.Errorf("drift after the repair: %v", d)
	}
	if got := query(t, views); got != want {
		t.Errorf("views after the repair: %s\nwant:  %s", got, want)
	}
}

func query(t *testing.T, sql string) string {
	t.Helper()
	out, err := engine.Query(t.Context(), sql, "TSV")
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.TrimSpace(string(out))
}

var truncate = map[time.Duration]string{time.Minute: "toStartOfMinute", 5 * time.Minute: "toStartOfFiveMinutes", time.Hour: "toStartOfHour"}

// checkExact fails unless every rollup, of every family and grain, holds
// exactly the raw table's sums, bucket by bucket and key by key.
func checkExact(t *testing.T, when string) {
	t.Helper()
	raw := query(t, "SELECT count() FROM sluice.flows")
	for _, r := range migrate.Rollups {
		dims := strings.Join(r.Dimensions, ", ")
		fromRaw := fmt.Sprintf("SELECT %s(TimeReceived) AS t, %s, sum(Bytes * SamplingRate) AS b, sum(Packets * SamplingRate) AS p, count() AS f FROM sluice.flows GROUP BY t, %s",
			truncate[r.Interval], dims, dims)
		fromRollup := fmt.Sprintf("SELECT TimeReceived AS t, %s, sum(Bytes) AS b, sum(Packets) AS p, sum(Flows) AS f FROM %s GROUP BY t, %s",
			dims, r.QualifiedTable(), dims)
		missing := query(t, fmt.Sprintf("SELECT count() FROM (%s EXCEPT %s)", fromRaw, fromRollup))
		extra := query(t, fmt.Sprintf("SELECT count() FROM (%s EXCEPT %s)", fromRollup, fromRaw))
		flows := query(t, "SELECT sum(Flows) FROM "+r.QualifiedTable())
		if missing != "0" || extra != "0" || flows != raw {
			t.Errorf("%s: %s: %s groups of the raw table missing or different, %s groups not from it; %s flows against %s raw",
				when, r.QualifiedTable(), missing, extra, flows, raw)
		}
	}
}

// coarseRows counts the rows stored in the 5-minute and hourly rollups,
// merged or not: a pass with nothing to add must not add any.
func coarseRows(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, ru := range migrate.RollUps() {
		parts = append(parts, "(SELECT count() FROM "+ru.Coarse.QualifiedTable()+")")
	}
	return query(t, "SELECT "+strings.Join(parts, " + "))
}

func newWriter(t *testing.T) *writer.Writer {
	t.Helper()
	w, err := writer.New(discard(), writer.DefaultConfig(), writer.Dependencies{Inserter: engine})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newRoller(t *testing.T, dir string) *rollup.Roller {
	t.Helper()
	r, err := rollup.New(discard(), rollup.DefaultConfig(), rollup.Dependencies{Store: engine, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The 5-minute and hourly rollups, rolled up from the 1-minute ones off
// the insert path, hold exactly the raw table's sums: after batches over
// several windows and hours, after late flows land in windows already
// rolled up, after a batch is replayed under its token, after passes with
// nothing new (which add no row), and after the roller restarts from its
// saved cursor and is stopped (its last pass rolls up the last inserts).
func TestRolledUpRollupsEqualRaw(t *testing.T) {
	migrateRolled(t)
	w := newWriter(t)
	dir := t.TempDir()
	write := func(seed uint64, token string) {
		t.Helper()
		// Demo-shaped: 64 exporters, a few AS numbers with a heavy head,
		// half a minute starting seed minutes after 10:00:50.
		if err := w.Write(t.Context(), clickhouse.GenerateDemoShapedFlows(5_000, seed), token); err != nil {
			t.Fatal(err)
		}
	}
	for seed := range uint64(12) {
		write(seed, fmt.Sprint("batch-", seed))
	}
	r := newRoller(t, dir)
	if err := r.Roll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, "after the first pass")

	before := coarseRows(t)
	if err := r.Roll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if after := coarseRows(t); after != before {
		t.Errorf("a pass with nothing new added rows to the coarse rollups: %s, then %s", before, after)
	}

	// Late flows for windows rolled up already, a replay (stored once),
	// new windows, and an hour later.
	write(3, "late-3")
	write(5, "batch-5")
	write(20, "batch-20")
	write(75, "batch-75")
	if err := r.Roll(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkExact(t, "after late flows, a replay and new windows")

	// A new roller starts from the saved cursor; its last pass, at Stop,
	// rolls up what was inserted after its last periodic pass.
	r = newRoller(t, dir)
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	write(4, "late-4")
	write(140, "batch-140")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	checkExact(t, "after a restart and a stop")
	if n := query(t, "SELECT count() FROM sluice.flows"); n != fmt.Sprint(17*5_000) {
		t.Fatalf("raw table: %s rows, want %d (the replay stored once)", n, 17*5_000)
	}
}

// Records of a single flow keep the test readable where GenerateDemoShapedFlows
// would hide a wrong sum in thousands of rows.
func TestRollUpAddsOnlyTheDelta(t *testing.T) {
	migrateRolled(t)
	w := newWriter(t)
	r := newRoller(t, "")
	at := time.Date(2026, 12, 7, 10, 3, 0, 0, time.UTC)
	flow := func(bytes uint64, min int) []record.Flow {
		f := clickhouse.GenerateFlows(1, 1)
		f[0].TimeReceived = at.Add(time.Duration(min) * time.Minute).UnixNano()
		f[0].Bytes, f[0].Packets, f[0].SamplingRate = bytes, 1, 1
		return f
	}
	sum5m := func() string {
		return query(t, "SELECT toString(TimeReceived), sum(Bytes), sum(Flows) FROM sluice.flows_as_5m GROUP BY TimeReceived ORDER BY TimeReceived")
	}
	for i, step := range []struct {
		bytes uint64
		min   int
		want  string
	}{
		{100, 0, "2026-12-07 10:00:00\t100\t1"},
		{20, 1, "2026-12-07 10:00:00\t120\t2"},
		{3, 3, "2026-12-07 10:00:00\t120\t2\n2026-12-07 10:05:00\t3\t1"},
		{4, -1, "2026-12-07 10:00:00\t124\t3\n2026-12-07 10:05:00\t3\t1"}, // late
	} {
		if err := w.Write(t.Context(), flow(step.bytes, step.min), fmt.Sprint("one-", i)); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a second pass adds nothing
			if err := r.Roll(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if got := sum5m(); got != step.want {
			t.Errorf("step %d: flows_as_5m is\n%s\nwant\n%s", i, got, step.want)
		}
	}
	if got := query(t, "SELECT sum(Bytes), sum(Flows) FROM sluice.flows_as_1h"); got != "127\t4" {
		t.Errorf("flows_as_1h: %s, want 127 bytes in 4 flows", got)
	}
}
