package migrate

import (
	"fmt"
	"slices"
	"strings"

	"sluice/pipeline/reference"
	"sluice/storage/clickhouse"
)

func embedded(s string) func() string { return func() string { return s } }

// referenceTable is a table of pipeline/reference's data and the dictionary over it.
type referenceTable struct {
	name    string   // table; the dictionary is name + "_dict"
	columns []string // name and type, key columns first
	keys    int      // how many leading columns form the key
	layout  string
	data    func() string
	comment string
}

var referenceTables = []referenceTable{
	{
		name: "protocols", columns: []string{"Proto UInt64", "Name String", "Description String"}, keys: 1,
		layout: "FLAT()", data: embedded(reference.ProtocolsTSV), comment: "IP protocol numbers and names",
	},
	{
		name: "services", columns: []string{"Proto UInt8", "Port UInt16", "Name String"}, keys: 2,
		layout: "COMPLEX_KEY_HASHED()", data: embedded(reference.ServicesTSV), comment: "well-known ports: protocol number, port, service name",
	},
	{
		name: "icmp_types", columns: []string{"EType UInt16", "Type UInt8", "Name String"}, keys: 2,
		layout: "COMPLEX_KEY_HASHED()", data: embedded(reference.ICMPTypesTSV), comment: "ICMP (EType 2048) and ICMPv6 (EType 34525) type names",
	},
}

// asnNamesTable came with schema version 7. AS numbers are 32-bit, too
// sparse for a FLAT layout. Queries name an AS with
// dictGetOrDefault('sluice.asn_names_dict', 'Name', toUInt64(SrcAS), ”).
var asnNamesTable = referenceTable{
	name: "asn_names", columns: []string{"ASN UInt64", "Name String"}, keys: 1,
	layout: "HASHED()", data: reference.ASNamesTSV, comment: "AS numbers and organisation names (CC BY 4.0: RouteViews, DB-IP, NRO)",
}

// allReferenceTables are the reference tables of every version.
var allReferenceTables = append(slices.Clone(referenceTables), asnNamesTable)

func (t referenceTable) qualified() string { return Database + "." + t.name }

func (t referenceTable) keyNames() string {
	names := make([]string, t.keys)
	for i := range names {
		names[i], _, _ = strings.Cut(t.columns[i], " ")
	}
	return strings.Join(names, ", ")
}

// createReferenceTables creates the tables and their dictionaries, which
// queries use as dictGet('sluice.protocols_dict', 'Name', toUInt64(Proto)).
func createReferenceTables(tables ...referenceTable) func(Config) []string {
	return func(cfg Config) []string {
		var stmts []string
		for _, t := range tables {
			stmts = append(stmts, t.createTable(cfg), t.createDictionary(cfg))
		}
		return stmts
	}
}

func (t referenceTable) createTable(cfg Config) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s (%s) ENGINE = %s ORDER BY (%s) COMMENT %s",
		t.qualified(), cfg.onCluster(), strings.Join(t.columns, ", "), cfg.everywhereEngine("MergeTree", t.name, ""),
		t.keyNames(), clickhouse.QuoteString(t.comment))
}

func (t referenceTable) createDictionary(cfg Config) string {
	return fmt.Sprintf("CREATE DICTIONARY IF NOT EXISTS %s_dict%s (%s) PRIMARY KEY %s SOURCE(CLICKHOUSE(DB %s TABLE %s)) LAYOUT(%s) LIFETIME(MIN 300 MAX 600)",
		t.qualified(), cfg.onCluster(), strings.Join(t.columns, ", "), t.keyNames(),
		clickhouse.QuoteString(Database), clickhouse.QuoteString(t.name), t.layout)
}

// ReferenceData returns the statements that load the shipped reference
// data, replacing what the tables held: run at every start, so an upgrade
// of sluice brings its newer data. In cluster mode the insert replicates
// to every node.
func ReferenceData(cfg Config) []string {
	var stmts []string
	for _, t := range allReferenceTables {
		stmts = append(stmts, "TRUNCATE TABLE "+t.qualified()+cfg.onCluster())
		var values strings.Builder
		flush := func() {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO %s SETTINGS async_insert = 0 VALUES %s", t.qualified(), values.String()))
			values.Reset()
		}
		for line := range strings.SplitSeq(strings.TrimRight(t.data(), "\n"), "\n") {
			if values.Len() > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(")
			for j, field := range strings.Split(line, "\t") {
				if j > 0 {
					values.WriteString(", ")
				}
				if strings.Contains(t.columns[j], "String") {
					values.WriteString(clickhouse.QuoteString(field))
				} else {
					values.WriteString(field)
				}
			}
			values.WriteString(")")
			if values.Len() >= maxValuesBytes {
				flush()
			}
		}
		if values.Len() > 0 {
			flush()
		}
		stmts = append(stmts, fmt.Sprintf("SYSTEM RELOAD DICTIONARY%s %s_dict", cfg.onCluster(), t.qualified()))
	}
	return stmts
}

// maxValuesBytes bounds an insert of reference data, well below a server's
// default max_query_size (256 KiB), which the AS names would exceed.
const maxValuesBytes = 128 << 10
