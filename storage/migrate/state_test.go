package migrate

import (
	"slices"
	"strings"
	"testing"
)

// In cluster mode the comparison reads a node's data tables, and a column
// repair changes the data table and the Distributed table over it, on
// every node.
func TestCompareOnCluster(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster = "c"
	want := desired(cfg)
	a := actual{tables: map[string]string{}, columns: map[string]map[string]desiredColumn{}, order: map[string][]string{},
		indexes: map[string]map[string]string{}, settings: map[string]map[string]string{}, dictionaries: map[string]bool{}}
	// Everything as desired, but flows_local lacks DstPortNAT, has Extra,
	// and lacks min_bytes_for_wide_part.
	for _, tb := range want.tables {
		a.tables[tb.name] = "table"
		a.columns[tb.name] = map[string]desiredColumn{}
		for _, c := range tb.columns {
			if tb.name == "sluice.flows_local" && c.name == "DstPortNAT" {
				continue
			}
			a.columns[tb.name][c.name] = c
			a.order[tb.name] = append(a.order[tb.name], c.name)
		}
		a.indexes[tb.name] = map[string]string{}
		for _, ix := range tb.indexes {
			a.indexes[tb.name]["idx_"+ix.name] = ix.kind
		}
		a.settings[tb.name] = map[string]string{"index_granularity": "8192"}
		for _, st := range tb.settings {
			if st.name != "min_bytes_for_wide_part" {
				a.settings[tb.name][st.name] = st.value
			}
		}
	}
	a.columns["sluice.flows_local"]["Extra"] = desiredColumn{name: "Extra", typ: "String"}
	a.order["sluice.flows_local"] = append(a.order["sluice.flows_local"], "Extra")
	for _, v := range want.views {
		a.tables[v.name] = "MaterializedView"
	}
	for _, d := range want.dictionaries {
		a.dictionaries[d.name] = true
	}
	drifts := compare(want, a, cfg)
	if len(drifts) != 3 {
		t.Fatalf("drift: %v, want the missing and the extra column, and the missing setting", drifts)
	}
	if got := drifts[0].repair; !slices.Equal(got, []string{
		"ALTER TABLE sluice.flows_local ON CLUSTER `c` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT' AFTER `SrcPortNAT`",
		"ALTER TABLE sluice.flows ON CLUSTER `c` ADD COLUMN IF NOT EXISTS `DstPortNAT` UInt16 COMMENT 'destination port after NAPT' AFTER `SrcPortNAT`",
	}) {
		t.Errorf("repair of a missing column:\n%s", strings.Join(got, "\n"))
	}
	if d := drifts[1]; d.Kind != ExtraColumn || !d.Destructive || len(d.repair) != 2 {
		t.Errorf("extra column: %+v", d)
	}
	// A setting is the data table's alone: the Distributed table stores nothing.
	if d := drifts[2]; d.String() != "sluice.flows_local setting min_bytes_for_wide_part: value differs (want 0, have none)" || d.Destructive ||
		!slices.Equal(d.repair, []string{"ALTER TABLE sluice.flows_local ON CLUSTER `c` MODIFY SETTING min_bytes_for_wide_part = 0"}) {
		t.Errorf("missing setting: %s, repair %q", d, d.repair)
	}
}

// engine_full's SETTINGS clause is read setting by setting, a quoted value
// with commas, spaces and escaped quotes as one; a table without the
// clause has none.
func TestEngineSettings(t *testing.T) {
	got := engineSettings(`MergeTree PARTITION BY toYYYYMMDD(TimeReceived) ORDER BY (TimeReceived) TTL TimeReceived + toIntervalSecond(1296000) ` +
		`SETTINGS index_granularity = 8192, storage_policy = 'a, b \'c\'', min_rows_for_wide_part = 100000, min_bytes_for_wide_part = 0`)
	want := map[string]string{"index_granularity": "8192", "storage_policy": `'a, b \'c\''`, "min_rows_for_wide_part": "100000", "min_bytes_for_wide_part": "0"}
	if len(got) != len(want) {
		t.Fatalf("settings %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := engineSettings("MergeTree ORDER BY tuple()"); len(got) != 0 {
		t.Errorf("no SETTINGS clause: %q", got)
	}
}
