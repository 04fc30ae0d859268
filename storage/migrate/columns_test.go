package migrate

import (
	"slices"
	"strings"
	"testing"

	"sluice/pipeline/record"
)

// Every column missing from a table created before its version is added by
// exactly one later migration: a table created by version 1 as it was (the
// 38 columns of protobuf fields 1-38) and upgraded has every column of a
// new table, in the same order.
func TestUpgradedTableHasEveryColumn(t *testing.T) {
	const v1Fields = 38
	added := map[string]int{}
	for _, mg := range migrations {
		for _, stmt := range mg.statements(DefaultConfig()) {
			rest, ok := strings.CutPrefix(stmt, "ALTER TABLE "+FlowsTable+" ADD COLUMN IF NOT EXISTS `")
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, "`")
			added[name]++
		}
	}
	var upgraded []string
	for _, c := range record.Columns {
		if c.Field <= v1Fields {
			upgraded = append(upgraded, c.Name)
			if added[c.Name] != 0 {
				t.Errorf("column %s of version 1 added again", c.Name)
			}
			continue
		}
		if added[c.Name] != 1 {
			t.Errorf("column %s is added by %d migrations, want 1", c.Name, added[c.Name])
		}
		upgraded = append(upgraded, c.Name)
	}
	ddl := CreateFlowsTable(DefaultConfig())
	for _, c := range record.Columns {
		if !strings.Contains(ddl, "    "+columnDefinition(c)) {
			t.Errorf("CREATE TABLE and ADD COLUMN define %s differently: %s", c.Name, columnDefinition(c))
		}
	}
	last := -1
	for _, name := range upgraded {
		i := strings.Index(ddl, "`"+name+"`")
		if i < last {
			t.Errorf("column %s is out of order: an upgraded table would differ from a new one", name)
		}
		last = i
	}
	if stmts := addFlowColumns("SrcAddrNAT")(DefaultConfig()); len(stmts) != 1 ||
		stmts[0] != "ALTER TABLE sluice.flows ADD COLUMN IF NOT EXISTS `SrcAddrNAT` IPv6 COMMENT 'source address after NAT (IPv4 mapped)'" {
		t.Errorf("ADD COLUMN statement: %q", stmts)
	}
}

// In cluster mode the columns go to the local tables and the Distributed
// ones, on every node.
func TestAddColumnsOnCluster(t *testing.T) {
	stmts := addFlowColumns("SrcPortNAT")(Config{Cluster: "flows"})
	want := []string{
		"ALTER TABLE sluice.flows_local ON CLUSTER `flows` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT'",
		"ALTER TABLE sluice.flows ON CLUSTER `flows` ADD COLUMN IF NOT EXISTS `SrcPortNAT` UInt16 COMMENT 'source port after NAPT'",
	}
	if !slices.Equal(stmts, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(stmts, "\n"), strings.Join(want, "\n"))
	}
}
