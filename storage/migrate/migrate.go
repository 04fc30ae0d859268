package migrate

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"sluice/internal/reporter"
	"sluice/storage/clickhouse"
)

// ExecFunc runs one SQL statement that returns no rows. The embedded engine's
// Exec and a server connection's Exec both fit.
type ExecFunc func(ctx context.Context, sql string) error

// migration is one schema version: statements that are each idempotent, so
// that a run interrupted half-way can simply be run again.
type migration struct {
	version     uint32
	description string
	statements  func(Config) []string
}

// migrations lists every schema version in order. Never edit an applied
// version: add a new one (ALTER ... IF NOT EXISTS) instead.
var migrations = []migration{
	{
		version:     1,
		description: "create flows table",
		statements:  flowsTableStatements,
	},
	{
		version:     2,
		description: "create 1m, 5m and 1h rollups",
		statements:  createRollups(wideRollups),
	},
	{
		version:     3,
		description: "add skip indexes on addresses, AS numbers and ports",
		statements:  addSkipIndexes,
	},
	{
		version:     4,
		description: "create reference tables and dictionaries: protocols, services, ICMP types",
		statements:  createReferenceTables(referenceTables...),
	},
	{
		version:     5,
		description: "add MPLS label, VRF and NAT columns",
		statements:  addFlowColumns(mplsVRFNATColumns...),
	},
	{
		version:     6,
		description: "add enrichment columns: exporter, network, GeoIP, interface, threat feeds, service, direction, Community ID",
		statements:  addFlowColumns(enrichmentColumns...),
	},
	// 8 is the interface counters.
	{
		version:     7,
		description: "create AS, interface and network rollups, the exporters and alerts tables, AS names",
		statements: func(cfg Config) []string {
			return slices.Concat(
				createRollups(asRollups)(cfg),
				createRollups(interfaceRollups)(cfg),
				createRollups(networkRollups)(cfg),
				createExportersTable(cfg),
				createAlertsTable(cfg),
				createReferenceTables(asnNamesTable)(cfg))
		},
	},
	{
		version:     8, // provisional: 7 is taken by work merged separately
		description: "create interface_counters table (sFlow counter samples)",
		statements:  countersTableStatements,
	},
	{
		version:     9,
		description: "add firewall event columns (Cisco ASA NSEL): event, extended event, ingress and egress ACL",
		statements:  addFlowColumns(firewallColumns...),
	},
	{
		version:     10,
		description: "add the alert life columns: alert ID, state, summary, first and last seen, threat feeds",
		statements:  addAlertColumns("AlertID", "State", "Summary", "FirstSeen", "LastSeen", "ThreatFeeds"),
	},
	{
		version:     11,
		description: "fill the exporters table from the writer: drop its views",
		statements:  version11,
	},
	{
		version:     12,
		description: "write the flows table's insert-sized parts compact",
		statements:  version12,
	},
	{
		version:     13,
		description: "store the flows table's times with plain LZ4",
		statements:  version13,
	},
}

// LatestVersion is the schema version Migrate brings the database to.
func LatestVersion() uint32 { return migrations[len(migrations)-1].version }

// Versions lists the schema versions in order. Numbers can be missing
// while versions developed apart are merged.
func Versions() []uint32 {
	v := make([]uint32, len(migrations))
	for i, mg := range migrations {
		v[i] = mg.version
	}
	return v
}

// QueryFunc runs a query and returns its TSV output.
type QueryFunc func(ctx context.Context, sql string) (string, error)

// Migrator creates and upgrades the schema.
type Migrator struct {
	cfg              Config
	logger           *slog.Logger
	query            QueryFunc
	allowDestructive bool
	left             []Drift
}

// WithAllowDestructive lets Migrate repair drift by rewriting or dropping
// data: change a column's type back, drop a column no version defines.
// Off by default (`sluice migrate --allow-destructive` turns it on).
func (m *Migrator) WithAllowDestructive(allow bool) *Migrator {
	m.allowDestructive = allow
	return m
}

// Drift lists the differences from the desired schema that the last
// Migrate left (nil when there were none, or without WithQuery).
func (m *Migrator) Drift() []Drift { return m.left }

// migrating serializes the migrations of a process. On the embedded engine
// several starts at once are goroutines of one process (a chDB data
// directory has one process), and two interleaved runs could load the
// reference data twice (each truncates, then inserts).
var migrating sync.Mutex

// WithQuery lets Migrate read which versions are applied and run only the
// newer ones. Without it every version runs again (each is idempotent),
// and so does a rollup's backfill, which is only safe while the rollup is
// empty.
func (m *Migrator) WithQuery(q QueryFunc) *Migrator {
	m.query = q
	return m
}

// applied returns the highest recorded version, 0 when none (or when the
// migrator cannot query).
func (m *Migrator) applied(ctx context.Context) (uint32, error) {
	if m.query == nil {
		return 0, nil
	}
	out, err := m.query(ctx, "SELECT max(version) FROM "+MigrationsTable)
	if err != nil {
		return 0, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(out), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("migrate: read applied versions: %q: %w", out, err)
	}
	return uint32(v), nil
}

// New returns a migrator; it runs nothing.
func New(r *reporter.Reporter, cfg Config) (*Migrator, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return &Migrator{cfg: cfg, logger: r.Logger}, nil
}

// Statements returns every statement Migrate runs, in order.
func (m *Migrator) Statements() []string {
	stmts := []string{CreateDatabase(m.cfg), createMigrationsTable(m.cfg)}
	for _, mg := range migrations {
		stmts = append(stmts, mg.statements(m.cfg)...)
		stmts = append(stmts, recordVersion(mg))
	}
	return append(append(stmts, ApplyTTL(m.cfg)...), ReferenceData(m.cfg)...)
}

// Migrate brings the schema to LatestVersion. Every statement is idempotent,
// so running it again changes nothing and returns no error; it needs no
// query results, so any engine that can execute SQL can run it.
//
// With WithQuery, it then compares the database with the desired schema
// (Check) and repairs what is additive and safe; the drift it cannot
// repair is logged as errors and returned by Drift.
func (m *Migrator) Migrate(ctx context.Context, exec ExecFunc) error {
	migrating.Lock()
	defer migrating.Unlock()
	exec = tolerateCreateRace(exec)
	for _, stmt := range []string{CreateDatabase(m.cfg), createMigrationsTable(m.cfg)} {
		if err := exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: bootstrap: %w", err)
		}
	}
	applied, err := m.applied(ctx)
	if err != nil {
		return err
	}
	for _, mg := range migrations {
		if mg.version <= applied {
			continue
		}
		m.logger.Info("applying schema version", "version", mg.version, "description", mg.description)
		for _, stmt := range mg.statements(m.cfg) {
			if err := exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate: version %d (%s): %w", mg.version, mg.description, err)
			}
		}
		if err := exec(ctx, recordVersion(mg)); err != nil {
			return fmt.Errorf("migrate: record version %d: %w", mg.version, err)
		}
	}
	m.left = nil
	if m.query != nil {
		drifts, err := m.Check(ctx)
		if err != nil {
			return err
		}
		if m.left, err = m.repair(ctx, exec, drifts); err != nil {
			return err
		}
		for _, d := range m.left {
			m.logger.Error("schema drift not repaired (sluice migrate --check lists it; --allow-destructive repairs it)", "drift", d.String())
		}
	}
	for _, stmt := range ApplyTTL(m.cfg) {
		if err := exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: apply TTL: %w", err)
		}
	}
	for _, stmt := range ReferenceData(m.cfg) {
		if err := exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: load reference data: %w", err)
		}
	}
	m.logger.Info("schema migrated", "version", LatestVersion())
	return nil
}

// tolerateCreateRace makes a CREATE ... IF NOT EXISTS that lost a race
// succeed: on a server, two instances starting at once can both find a
// table missing, and the second CREATE then fails with "already exists"
// (TABLE_ALREADY_EXISTS, DICTIONARY_ALREADY_EXISTS) although the statement
// asked for exactly that state.
func tolerateCreateRace(exec ExecFunc) ExecFunc {
	return func(ctx context.Context, stmt string) error {
		err := exec(ctx, stmt)
		if err != nil && strings.HasPrefix(stmt, "CREATE ") && strings.Contains(stmt, " IF NOT EXISTS ") &&
			strings.Contains(err.Error(), "already exists") {
			return nil
		}
		return err
	}
}

// recordVersion returns the insert recording a version. Its deduplication
// token makes a second run insert nothing; async_insert is off because
// asynchronous inserts deduplicate differently (and chDB enables them).
func recordVersion(mg migration) string {
	token := fmt.Sprintf("sluice-schema-version-%d", mg.version)
	return fmt.Sprintf("INSERT INTO %s (version, description) SETTINGS insert_deduplication_token = %s, async_insert = 0 VALUES (%d, %s)",
		MigrationsTable, clickhouse.QuoteString(token), mg.version, clickhouse.QuoteString(mg.description))
}
