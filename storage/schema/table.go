// Package schema declares the ClickHouse tables sluice writes or fills
// besides the flows table (which record.Columns declares): interface
// counters, alerts, exporters. Each is one Table value; the DDL
// (storage/migrate), the desired schema that drift is checked against, and,
// for a table the writer fills, its insert columns (storage/clickhouse) are
// all derived from it, so a column is added in one place.
//
// This package holds declarations only: how they become SQL is
// storage/migrate's, how rows become columns storage/clickhouse's.
package schema

import "sluice/pipeline/record"

// Database is sluice's ClickHouse database.
const Database = "sluice"

// NoRow is the row type of a table the writer does not fill: its rows come
// from SQL (materialized views, detections), so its columns read nothing
// from Go values.
type NoRow struct{}

// Column declares one column of a table whose rows are R values.
type Column[R any] struct {
	Name    string
	Type    string // ClickHouse type
	Codec   string // CODEC(...) clause, if any
	Comment string

	// For a table the writer fills, exactly one accessor reads the
	// column's value from a row: Uint for integer, Bool and DateTime types
	// (a DateTime as Unix nanoseconds, stored as seconds), Addr for IPv6.
	// Both are nil in a NoRow table.
	Uint func(*R) uint64
	Addr func(*R) *record.Addr
}

// Table declares a table: its columns and how MergeTree keeps them. The
// retention (TTL) is configuration, counted from TTLColumn.
type Table[R any] struct {
	Name    string // without the database
	Comment string
	Columns []Column[R]

	Engine      string // MergeTree or ReplacingMergeTree (Replicated in cluster mode)
	Version     string // ReplacingMergeTree's version column: the row with the latest value wins
	PartitionBy string // may be empty: one partition
	OrderBy     string
	TTLColumn   string // the time a row's retention counts from; empty: none
}

// Qualified returns the table's name with the database, as analysts and
// writers name it.
func (t *Table[R]) Qualified() string { return Database + "." + t.Name }

// ColumnNames lists the columns' names in table order.
func (t *Table[R]) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// FlowType returns the ClickHouse type of a column of the flows table:
// tables derived from flows type their columns alike. It panics on a name
// that is not in record.Columns, a mistake in a declaration.
func FlowType(name string) string {
	for _, c := range record.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	panic("schema: " + name + " is not a flow column")
}
