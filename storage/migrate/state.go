package migrate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/schema"
)

// The versioned migrations say how a schema got where it is; the desired
// state says where it must be. After the migrations, Migrate compares the
// tables, columns, skip indexes, views and dictionaries it defines here with
// what system.tables, system.columns, system.data_skipping_indices and
// system.dictionaries show, so that an object dropped by hand, or a step
// lost in a failed upgrade, is seen. What is additive and safe is repaired;
// what is not (a column whose type changed, a column no version defines) is
// reported and left alone unless destructive repairs are allowed.

// Kinds of drift.
const (
	MissingTable      = "missing table"
	MissingColumn     = "missing column"
	MissingIndex      = "missing skip index"
	MissingView       = "missing view"
	MissingDictionary = "missing dictionary"
	CodecChanged      = "codec differs"
	SettingChanged    = "value differs"
	TypeChanged       = "type differs"
	ExtraColumn       = "extra column"
)

// Drift is one difference between the desired schema and the database.
type Drift struct {
	Kind string
	// Table is the table, view or dictionary, with the database.
	Table string
	// Column is the column, skip index or table setting, when the drift
	// is about one.
	Column string
	// Want and Got describe the difference (types, codecs), when there is
	// one to show.
	Want, Got string
	// Destructive drifts are repaired only when allowed: the repair
	// rewrites or drops data.
	Destructive bool
	// Note says what a repair cannot restore.
	Note string

	repair []string
}

func (d Drift) String() string {
	s := d.Table
	switch {
	case d.Column != "" && d.Kind == SettingChanged:
		s += " setting " + d.Column
	case d.Column != "":
		s += " column " + d.Column
	}
	s += ": " + d.Kind
	if d.Want != "" || d.Got != "" {
		s += fmt.Sprintf(" (want %s, have %s)", orNone(d.Want), orNone(d.Got))
	}
	if d.Note != "" {
		s += "; " + d.Note
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// desiredColumn is a column as system.columns shows it, with the
// definition ADD COLUMN takes.
type desiredColumn struct {
	name, typ, codec, definition string
}

type desiredTable struct {
	name     string // with the database; the data table in cluster mode
	columns  []desiredColumn
	create   []string // statements creating it, and filling it if they can
	indexes  []skipIndex
	settings []tableSetting
}

type desiredObject struct {
	name   string // with the database
	create []string
	note   string // what recreating it cannot restore
}

type desiredSchema struct {
	tables       []desiredTable
	views        []desiredObject
	dictionaries []desiredObject
}

func fromTableColumns[R any](cols []schema.Column[R]) []desiredColumn {
	out := make([]desiredColumn, len(cols))
	for i, c := range cols {
		out[i] = desiredColumn{c.Name, c.Type, c.Codec, definition(c)}
	}
	return out
}

// declaredTable is the desired state of a table storage/schema declares.
func declaredTable[R any](t *schema.Table[R], create []string, cfg Config) desiredTable {
	return desiredTable{name: cfg.dataTable(t.Name), columns: fromTableColumns(t.Columns), create: create}
}

// desired is the schema LatestVersion defines. In cluster mode it is the
// node's data tables (flows_local, ...): the Distributed tables take their
// columns from them when created.
func desired(cfg Config) desiredSchema {
	var s desiredSchema
	s.tables = append(s.tables, desiredTable{
		name: MigrationsTable, create: []string{createMigrationsTable(cfg)},
		columns: fromTableColumns([]schema.Column[schema.NoRow]{{Name: "version", Type: "UInt32"}, {Name: "description", Type: "String"}, {Name: "applied_at", Type: "DateTime"}}),
	})
	flows := desiredTable{name: cfg.dataTable("flows"), create: slices.Concat(flowsTableStatements(cfg), addSkipIndexes(cfg), version12(cfg)),
		indexes: skipIndexes, settings: flowsPartSettings}
	for _, c := range record.Columns {
		flows.columns = append(flows.columns, desiredColumn{c.Name, c.Type, c.Codec, columnDefinition(c)})
	}
	s.tables = append(s.tables, flows)
	for _, r := range Rollups {
		// Backfilling a rollup only while it is empty is safe here too: a
		// missing rollup table had no rows, and its view (if it was left)
		// could not insert into it.
		s.tables = append(s.tables, desiredTable{
			name: cfg.dataTable(r.Table), columns: fromTableColumns(rollupColumns(r)),
			create: append(createRollupTable(r, cfg), BackfillRollup(r)),
		})
		s.views = append(s.views, desiredObject{
			name: r.QualifiedTable() + "_mv", create: []string{CreateRollupView(r, cfg)},
			note: "the flows inserted while it was missing are not in " + r.QualifiedTable(),
		})
	}
	s.tables = append(s.tables,
		declaredTable(&schema.Alerts, createAlertsTable(cfg), cfg),
		declaredTable(&schema.Counters, countersTableStatements(cfg), cfg),
		declaredTable(&schema.Exporters, exportersTableStatements(cfg), cfg))
	for _, t := range allReferenceTables {
		var cols []schema.Column[schema.NoRow]
		for _, c := range t.columns {
			name, typ, _ := strings.Cut(c, " ")
			cols = append(cols, schema.Column[schema.NoRow]{Name: name, Type: typ})
		}
		// The data is loaded after the repairs, as at every start.
		s.tables = append(s.tables, desiredTable{name: t.qualified(), columns: fromTableColumns(cols), create: []string{t.createTable(cfg)}})
		s.dictionaries = append(s.dictionaries, desiredObject{name: t.qualified() + "_dict", create: []string{t.createDictionary(cfg)}})
	}
	return s
}

// actual is what the system tables show of sluice's database.
type actual struct {
	tables       map[string]string                   // name → engine
	columns      map[string]map[string]desiredColumn // table → column → type, codec
	order        map[string][]string                 // table → columns in position order
	indexes      map[string]map[string]string        // table → index → type
	settings     map[string]map[string]string        // table → setting → value, as engine_full shows them
	dictionaries map[string]bool
}

// Check compares the database with the desired schema and lists the
// differences, repairable or not. It needs the migrator's query function
// (WithQuery).
func (m *Migrator) Check(ctx context.Context) ([]Drift, error) {
	if m.query == nil {
		return nil, fmt.Errorf("migrate: check: no query function (WithQuery)")
	}
	a, err := m.readActual(ctx)
	if err != nil {
		return nil, err
	}
	return compare(desired(m.cfg), a, m.cfg), nil
}

func compare(want desiredSchema, a actual, cfg Config) []Drift {
	var drifts []Drift
	for _, t := range want.tables {
		if _, ok := a.tables[t.name]; !ok {
			drifts = append(drifts, Drift{Kind: MissingTable, Table: t.name, repair: t.create})
			continue
		}
		have := a.columns[t.name]
		// alter applies a column change to the table and, in cluster mode,
		// to the Distributed table over it, which has its own columns.
		alter := func(change string) []string {
			stmts := []string{"ALTER TABLE " + t.name + cfg.onCluster() + " " + change}
			if public, ok := strings.CutSuffix(t.name, "_local"); ok && cfg.clustered() {
				stmts = append(stmts, "ALTER TABLE "+public+cfg.onCluster()+" "+change)
			}
			return stmts
		}
		for i, c := range t.columns {
			h, ok := have[c.name]
			switch {
			case !ok:
				// AFTER the previous column keeps the order of a new table.
				change := "ADD COLUMN IF NOT EXISTS " + c.definition
				if i == 0 {
					change += " FIRST"
				} else {
					change += " AFTER " + clickhouse.QuoteIdentifier(t.columns[i-1].name)
				}
				drifts = append(drifts, Drift{Kind: MissingColumn, Table: t.name, Column: c.name, Want: c.typ,
					Note: "existing rows read the column's default", repair: alter(change)})
			case h.typ != c.typ:
				drifts = append(drifts, Drift{Kind: TypeChanged, Table: t.name, Column: c.name, Want: c.typ, Got: h.typ, Destructive: true,
					repair: alter("MODIFY COLUMN " + c.definition)})
			case normalizeCodec(h.codec) != normalizeCodec(c.codec):
				// Only new parts are written with the codec: no data changes.
				// A Distributed table stores nothing: only the data table.
				change := "MODIFY COLUMN " + clickhouse.QuoteIdentifier(c.name) + " REMOVE CODEC"
				if c.codec != "" {
					change = "MODIFY COLUMN " + clickhouse.QuoteIdentifier(c.name) + " " + c.typ + " " + c.codec
				}
				drifts = append(drifts, Drift{Kind: CodecChanged, Table: t.name, Column: c.name, Want: c.codec, Got: h.codec,
					repair: []string{"ALTER TABLE " + t.name + cfg.onCluster() + " " + change}})
			}
		}
		for _, name := range a.order[t.name] {
			if !hasColumn(t.columns, name) {
				drifts = append(drifts, Drift{Kind: ExtraColumn, Table: t.name, Column: name, Got: have[name].typ, Destructive: true,
					repair: alter("DROP COLUMN IF EXISTS " + clickhouse.QuoteIdentifier(name))})
			}
		}
		for _, ix := range t.indexes {
			want := ix.kind
			if got, ok := a.indexes[t.name]["idx_"+ix.name]; !ok {
				drifts = append(drifts, Drift{Kind: MissingIndex, Table: t.name, Column: "idx_" + ix.name, Want: want,
					Note: "parts written before the repair have no index", repair: []string{addSkipIndex(cfg, ix)}})
			} else if got != want {
				drifts = append(drifts, Drift{Kind: MissingIndex, Table: t.name, Column: "idx_" + ix.name, Want: want, Got: got,
					Note: "an index of another type has the name: drop it by hand to get the desired one"})
			}
		}
		for _, st := range t.settings {
			if got := a.settings[t.name][st.name]; got != st.value {
				// Parts already written keep their format: no data changes.
				drifts = append(drifts, Drift{Kind: SettingChanged, Table: t.name, Column: st.name, Want: st.value, Got: got,
					repair: []string{modifySettings(t.name, cfg, []tableSetting{st})}})
			}
		}
	}
	for _, v := range want.views {
		if a.tables[v.name] != "MaterializedView" {
			drifts = append(drifts, Drift{Kind: MissingView, Table: v.name, Got: a.tables[v.name], Note: v.note, repair: v.create})
		}
	}
	for _, d := range want.dictionaries {
		if !a.dictionaries[d.name] {
			drifts = append(drifts, Drift{Kind: MissingDictionary, Table: d.name, repair: d.create})
		}
	}
	return drifts
}

func hasColumn(cols []desiredColumn, name string) bool {
	for _, c := range cols {
		if c.name == name {
			return true
		}
	}
	return false
}

// normalizeCodec lets "CODEC(DoubleDelta,LZ4)" and "CODEC(DoubleDelta, LZ4)"
// compare equal.
func normalizeCodec(c string) string { return strings.ReplaceAll(c, " ", "") }

func (m *Migrator) readActual(ctx context.Context) (actual, error) {
	a := actual{
		tables: map[string]string{}, columns: map[string]map[string]desiredColumn{}, order: map[string][]string{},
		indexes: map[string]map[string]string{}, settings: map[string]map[string]string{}, dictionaries: map[string]bool{},
	}
	db := clickhouse.QuoteString(Database)
	rows, err := m.rows(ctx, "SELECT name, engine, engine_full FROM system.tables WHERE database = "+db)
	if err != nil {
		return a, err
	}
	for _, r := range rows {
		t := Database + "." + r[0]
		a.tables[t] = r[1]
		a.settings[t] = engineSettings(r[2])
	}
	rows, err = m.rows(ctx, "SELECT table, name, type, compression_codec FROM system.columns WHERE database = "+db+" ORDER BY table, position")
	if err != nil {
		return a, err
	}
	for _, r := range rows {
		t := Database + "." + r[0]
		if a.columns[t] == nil {
			a.columns[t] = map[string]desiredColumn{}
		}
		a.columns[t][r[1]] = desiredColumn{name: r[1], typ: r[2], codec: r[3]}
		a.order[t] = append(a.order[t], r[1])
	}
	rows, err = m.rows(ctx, "SELECT table, name, type_full FROM system.data_skipping_indices WHERE database = "+db)
	if err != nil {
		return a, err
	}
	for _, r := range rows {
		t := Database + "." + r[0]
		if a.indexes[t] == nil {
			a.indexes[t] = map[string]string{}
		}
		a.indexes[t][r[1]] = r[2]
	}
	rows, err = m.rows(ctx, "SELECT name FROM system.dictionaries WHERE database = "+db)
	if err != nil {
		return a, err
	}
	for _, r := range rows {
		a.dictionaries[Database+"."+r[0]] = true
	}
	return a, nil
}

// settingAssignment is one "name = value" of an engine's SETTINGS clause;
// a quoted value may hold commas.
var settingAssignment = regexp.MustCompile(`(\w+) = ('(?:[^'\\]|\\.)*'|[^,\s]+)`)

// engineSettings reads the SETTINGS clause at the end of a table's
// engine_full ("MergeTree ... SETTINGS index_granularity = 8192, ...").
func engineSettings(engineFull string) map[string]string {
	i := strings.LastIndex(engineFull, " SETTINGS ")
	if i < 0 {
		return nil
	}
	settings := map[string]string{}
	for _, m := range settingAssignment.FindAllStringSubmatch(engineFull[i+len(" SETTINGS "):], -1) {
		settings[m[1]] = m[2]
	}
	return settings
}

// rows runs a query through the migrator's query function and splits its
// TSV output.
func (m *Migrator) rows(ctx context.Context, sql string) ([][]string, error) {
	out, err := m.query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("migrate: read the schema: %w", err)
	}
	var rows [][]string
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		for i, f := range fields {
			fields[i] = unescapeTSV(f)
		}
		rows = append(rows, fields)
	}
	return rows, nil
}

// unescapeTSV undoes ClickHouse's TSV escaping (\\, \', \t, \n, ...).
func unescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i == len(s)-1 {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// repair runs the repairs of drifts, destructive ones only when allowed,
// and returns the drifts left as they were.
func (m *Migrator) repair(ctx context.Context, exec ExecFunc, drifts []Drift) ([]Drift, error) {
	var left []Drift
	for _, d := range drifts {
		if len(d.repair) == 0 || (d.Destructive && !m.allowDestructive) {
			left = append(left, d)
			continue
		}
		m.logger.Warn("repairing schema drift", "drift", d.String())
		for _, stmt := range d.repair {
			if err := exec(ctx, stmt); err != nil {
				return nil, fmt.Errorf("migrate: repair %s: %w", d, err)
			}
		}
		if d.Kind == MissingDictionary {
			if err := exec(ctx, "SYSTEM RELOAD DICTIONARY"+m.cfg.onCluster()+" "+d.Table); err != nil {
				return nil, fmt.Errorf("migrate: repair %s: %w", d, err)
			}
		}
	}
	return left, nil
}
