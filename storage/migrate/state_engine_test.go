package migrate_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/embedded"
	"sluice/storage/embedded/embeddedtest"
	"sluice/storage/migrate"
)

// engine is the test process's one embedded ClickHouse engine: these tests
// run the migrations and the desired-state comparison on the real engine.
var engine *embedded.Engine

func TestMain(m *testing.M) { embeddedtest.Main(m, &engine, nil) }

func queryTSV(ctx context.Context, sql string) (string, error) {
	out, err := engine.Query(ctx, sql, "TSV")
	return string(out), err
}

func newMigrator(t *testing.T) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(reporter.New(slog.New(slog.NewTextHandler(t.Output(), nil))), migrate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return m.WithQuery(queryTSV)
}

func exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, stmt := range stmts {
		if err := engine.Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func query(t *testing.T, sql string) string {
	t.Helper()
	out, err := engine.Query(t.Context(), sql, "TSVRaw")
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return string(out)
}

// freshSchema drops sluice's database and migrates from nothing, with a
// few flows in it.
func freshSchema(t *testing.T) {
	t.Helper()
	exec(t, "DROP DATABASE IF EXISTS sluice SYNC")
	m := newMigrator(t)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if d := m.Drift(); len(d) != 0 {
		t.Fatalf("drift left on a new schema: %v", d)
	}
	exec(t, "INSERT INTO sluice.flows (TimeReceived, ExporterAddress, SrcAS, DstPortNAT, Bytes, Packets, SamplingRate) "+
		"SELECT toDateTime('2026-11-20 10:00:00') + number, toIPv6('::ffff:192.0.2.1'), 64500 + number % 3, 443, 100, 1, 10 FROM numbers(1000)")
}

func check(t *testing.T) []string {
	t.Helper()
	drifts, err := newMigrator(t).Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range drifts {
		out = append(out, d.String())
	}
	return out
}

// A new schema has no drift: the desired state is what the migrations make.
func TestNewSchemaHasNoDrift(t *testing.T) {
	freshSchema(t)
	if d := check(t); len(d) != 0 {
		t.Errorf("drift on a new schema:\n%s", strings.Join(d, "\n"))
	}
}

// What an operator (or a lost upgrade step) removed is reported by Check,
// then recreated by Migrate, without losing the flows: a column, a rollup's
// view, a rollup table, a dictionary, a skip index, the alerts table.
func TestMigrateRepairsWhatIsMissing(t *testing.T) {
	freshSchema(t)
	exec(t,
		"ALTER TABLE sluice.flows DROP COLUMN DstPortNAT",
		"DROP VIEW sluice.flows_5m_mv",
		"DROP VIEW sluice.flows_as_1h_mv", "DROP TABLE sluice.flows_as_1h",
		"DROP DICTIONARY sluice.services_dict",
		"ALTER TABLE sluice.flows DROP INDEX idx_DstPort",
		"DROP TABLE sluice.alerts",
		"ALTER TABLE sluice.interface_counters DROP COLUMN IfOutErrors")
	want := []string{
		"sluice.flows column DstPortNAT: missing column (want UInt16, have none); existing rows read the column's default",
		"sluice.flows column idx_DstPort: missing skip index (want bloom_filter(0.01), have none); parts written before the repair have no index",
		"sluice.flows_as_1h: missing table",
		"sluice.alerts: missing table",
		"sluice.interface_counters column IfOutErrors: missing column (want UInt64, have none); existing rows read the column's default",
		"sluice.flows_5m_mv: missing view; the flows inserted while it was missing are not in sluice.flows_5m",
		"sluice.flows_as_1h_mv: missing view; the flows inserted while it was missing are not in sluice.flows_as_1h",
		"sluice.services_dict: missing dictionary",
	}
	got := check(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The versions are all recorded: only the comparison can see this.
	m := newMigrator(t)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if d := m.Drift(); len(d) != 0 {
		t.Errorf("drift left after the repair: %v", d)
	}
	if d := check(t); len(d) != 0 {
		t.Errorf("drift after the repair:\n%s", strings.Join(d, "\n"))
	}
	var cols strings.Builder
	for _, c := range record.Columns {
		fmt.Fprintf(&cols, "%s %s\n", c.Name, c.Type)
	}
	if got := query(t, "SELECT name || ' ' || type FROM system.columns WHERE database = 'sluice' AND table = 'flows' ORDER BY position"); got != cols.String() {
		t.Errorf("flows columns after the repair (order matters to a new table's twin):\n%s", got)
	}
	// The rows are kept; the re-added column reads its default; the
	// recreated rollup was backfilled; the views feed again.
	if got := query(t, "SELECT count(), sum(Bytes), sum(DstPortNAT) FROM sluice.flows"); got != "1000\t100000\t0\n" {
		t.Errorf("flows after the repair: %q", got)
	}
	if got := query(t, "SELECT sum(Flows), sum(Bytes) FROM sluice.flows_as_1h"); got != "1000\t1000000\n" {
		t.Errorf("recreated rollup after its backfill: %q", got)
	}
	exec(t, "INSERT INTO sluice.flows (TimeReceived, Bytes, Packets, SamplingRate, OutIfIndex, OutIfName) VALUES ('2026-11-20 12:00:00', 7, 1, 1, 77, 'ae7')")
	for _, table := range []string{"sluice.flows_5m", "sluice.flows_as_1h"} {
		if got := query(t, "SELECT sum(Bytes) FROM "+table+" WHERE TimeReceived >= '2026-11-20 12:00:00'"); got != "7\n" {
			t.Errorf("%s is not fed by its recreated view: %q", table, got)
		}
	}
	if got := query(t, "SELECT dictGet('sluice.services_dict', 'Name', (toUInt8(6), toUInt16(443)))"); got != "https\n" {
		t.Errorf("recreated services dictionary answers %q", got)
	}
	if got := query(t, "SELECT count() FROM system.data_skipping_indices WHERE database = 'sluice' AND table = 'flows' AND name = 'idx_DstPort'"); got != "1\n" {
		t.Error("skip index not recreated")
	}
}

// A column whose type was changed by hand, and a column no version defines,
// are reported, by table and column, and left alone: repairing them rewrites
// or drops data. --allow-destructive (WithAllowDestructive) repairs them.
func TestMigrateReportsDestructiveDrift(t *testing.T) {
	freshSchema(t)
	exec(t,
		"ALTER TABLE sluice.flows MODIFY COLUMN DstPortNAT UInt32",
		"ALTER TABLE sluice.flows_1h ADD COLUMN Note String",
		"ALTER TABLE sluice.flows MODIFY COLUMN TimeFlowEnd REMOVE CODEC",
		"ALTER TABLE sluice.flows MODIFY SETTING min_rows_for_wide_part = 5000")
	want := []string{
		"sluice.flows column TimeFlowEnd: codec differs (want CODEC(LZ4), have none)",
		"sluice.flows setting min_rows_for_wide_part: value differs (want 100000, have 5000)",
		"sluice.flows column DstPortNAT: type differs (want UInt16, have UInt32)",
		"sluice.flows_1h column Note: extra column (want none, have String)",
	}
	got := check(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("drift:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m := newMigrator(t)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range m.Drift() {
		left = append(left, d.String())
		if !d.Destructive {
			t.Errorf("a safe drift was left: %s", d)
		}
	}
	if len(left) != 2 {
		t.Errorf("drift left: %v, want the type and the extra column", left)
	}
	if got := query(t, "SELECT type FROM system.columns WHERE database = 'sluice' AND table = 'flows' AND name = 'DstPortNAT'"); got != "UInt32\n" {
		t.Errorf("the changed type was altered without the flag: %q", got)
	}
	if got := query(t, "SELECT compression_codec FROM system.columns WHERE database = 'sluice' AND table = 'flows' AND name = 'TimeFlowEnd'"); got != "CODEC(LZ4)\n" {
		t.Errorf("codec not repaired: %q", got)
	}
	if got := query(t, "SELECT extract(engine_full, 'min_rows_for_wide_part = \\d+') FROM system.tables WHERE database = 'sluice' AND name = 'flows'"); got != "min_rows_for_wide_part = 100000\n" {
		t.Errorf("setting not repaired: %q", got)
	}
	if got := query(t, "SELECT count(), sum(DstPortNAT) FROM sluice.flows"); got != "1000\t443000\n" {
		t.Errorf("flows: %q", got)
	}

	m = newMigrator(t).WithAllowDestructive(true)
	if err := m.Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	if d := check(t); len(d) != 0 {
		t.Errorf("drift after a destructive repair:\n%s", strings.Join(d, "\n"))
	}
	if got := query(t, "SELECT count(), sum(DstPortNAT) FROM sluice.flows"); got != "1000\t443000\n" {
		t.Errorf("flows after converting the column back: %q", got)
	}
}

// Several instances starting at once (here, goroutines of one process: an
// embedded engine's data directory has one process) all succeed, and leave
// one schema, the reference data once, each version recorded once.
func TestConcurrentMigrations(t *testing.T) {
	exec(t, "DROP DATABASE IF EXISTS sluice SYNC")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{})
			if err == nil {
				err = m.WithQuery(queryTSV).Migrate(t.Context(), engine.Exec)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if d := check(t); len(d) != 0 {
		t.Errorf("drift:\n%s", strings.Join(d, "\n"))
	}
	if got := query(t, "SELECT (SELECT count() FROM sluice.protocols WHERE Proto = 6), (SELECT count() FROM sluice.asn_names WHERE ASN = 13335), "+
		"(SELECT count() = uniqExact(version) FROM sluice.schema_migrations)"); got != "1\t1\t1\n" {
		t.Errorf("reference data or versions duplicated: %q", got)
	}
}

// The shipped AS names load into their dictionary.
func TestASNames(t *testing.T) {
	freshSchema(t)
	got := query(t, "SELECT dictGet('sluice.asn_names_dict', 'Name', toUInt64(13335)), dictGetOrDefault('sluice.asn_names_dict', 'Name', toUInt64(64512), '?'), count() > 80000 FROM sluice.asn_names")
	if got != "Cloudflare, Inc.\t?\t1\n" {
		t.Errorf("AS names: %q", got)
	}
}

// An alert raised again under its dedup key replaces the earlier one (the
// latest Time wins); other keys and detections stay apart; the alerts
// table has its configured TTL.
func TestAlertsTable(t *testing.T) {
	freshSchema(t)
	m, err := migrate.New(reporter.New(slog.New(slog.DiscardHandler)), migrate.Config{TTLAlerts: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WithQuery(queryTSV).Migrate(t.Context(), engine.Exec); err != nil {
		t.Fatal(err)
	}
	exec(t, "INSERT INTO sluice.alerts (Time, Detection, Severity, ExporterAddress, SrcAddr, DstAddr, DstPort, Proto, Bytes, Packets, Flows, Details, DedupKey) VALUES "+
		"(now() - 60, 'port-scan', 'medium', toIPv6('::ffff:192.0.2.1'), toIPv6('::ffff:10.0.0.1'), toIPv6('::'), 0, 6, 4000, 100, 100, '{\"ports\":100}', '10.0.0.1'), "+
		"(now() - 60, 'syn-flood', 'high', toIPv6('::ffff:192.0.2.1'), toIPv6('::'), toIPv6('::ffff:203.0.113.9'), 443, 6, 9000, 150, 3, '', '203.0.113.9')",
		"INSERT INTO sluice.alerts (Time, Detection, Severity, SrcAddr, Proto, Bytes, Packets, Flows, DedupKey) VALUES "+
			"(now(), 'port-scan', 'high', toIPv6('::ffff:10.0.0.1'), 6, 8000, 200, 200, '10.0.0.1')")
	got := query(t, "SELECT Detection, Severity, Bytes, Flows, DedupKey FROM sluice.alerts FINAL ORDER BY Detection")
	if want := "port-scan\thigh\t8000\t200\t10.0.0.1\nsyn-flood\thigh\t9000\t3\t203.0.113.9\n"; got != want {
		t.Errorf("alerts:\n%s\nwant:\n%s", got, want)
	}
	if got := query(t, "SELECT engine_full LIKE '%TTL Time + toIntervalSecond(2592000)%' FROM system.tables WHERE database = 'sluice' AND name = 'alerts'"); got != "1\n" {
		t.Errorf("alerts TTL not applied: %q", got)
	}
}
