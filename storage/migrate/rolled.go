package migrate

import (
	"fmt"
	"strings"
	"time"

	"sluice/storage/clickhouse"
)

// Schema version 11 takes work off the insert path (issue 15,
// BENCHMARKS.md): the writer fills the exporters table in Go, and on the
// embedded engine the 5-minute and hourly rollups are rolled up from the
// 1-minute ones by storage/rollup instead of by a GROUP BY view per insert.
//
// Rolling up keeps the rollups exact, late data included: a view records
// which 5-minute windows each insert into flows touched (PendingTable), and
// the roller adds to a coarse rollup, key by key, what the finer one holds
// beyond it (a delta: the finer rollup only grows, and the roller is the
// only writer of the coarse one). A window rolled again adds nothing; a
// window that received late flows gets exactly them.

// PendingTable records, per insert into flows, the 5-minute windows it
// touched and when: what the roller must roll up next.
const PendingTable = Database + ".rollup_pending"

// PendingTTL is how long PendingTable keeps its rows: a roller stopped
// longer rolls up, when it starts, only the windows touched since.
const PendingTTL = 7 * 24 * time.Hour

// version11 is schema version 11's statements.
func version11(cfg Config) []string {
	var stmts []string
	for _, side := range interfaceSides {
		stmts = append(stmts, "DROP VIEW IF EXISTS "+exportersViewName(side)+cfg.onCluster())
	}
	if !cfg.RollUpCoarseGrains {
		return stmts
	}
	for _, r := range Rollups {
		if r.Interval != time.Minute {
			stmts = append(stmts, "DROP VIEW IF EXISTS "+r.QualifiedTable()+"_mv"+cfg.onCluster())
		}
	}
	return append(stmts, createPendingTable(cfg), createPendingView(cfg))
}

func createPendingTable(cfg Config) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s\n"+
		"(\n    `Window` DateTime COMMENT 'a 5-minute window an insert into flows touched',\n"+
		"    `InsertedAt` DateTime COMMENT 'when'\n)\n"+
		"ENGINE = MergeTree\nORDER BY (InsertedAt, Window)\nTTL InsertedAt + toIntervalSecond(%d)\n"+
		"COMMENT 'sluice 5-minute windows whose 1-minute rollups changed, for the roller (storage/rollup)'",
		PendingTable, cfg.onCluster(), int64(PendingTTL.Seconds()))
}

func createPendingView(cfg Config) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s_mv%s TO %s AS "+
		"SELECT toStartOfFiveMinutes(TimeReceived) AS Window, now() AS InsertedAt FROM %s GROUP BY Window",
		PendingTable, cfg.onCluster(), PendingTable, cfg.dataTable("flows"))
}

// RollUp is a coarse rollup filled from the next finer one of its family.
type RollUp struct {
	Coarse, Fine Rollup
}

// RollUps lists what the roller fills: every family's 5-minute rollup from
// its 1-minute one, then every hourly one from the 5-minute one (so a pass
// that rolls a 5-minute window then rolls its hour from it).
func RollUps() []RollUp {
	var fives, hours []RollUp
	for _, fam := range [][]Rollup{asRollups, networkRollups, interfaceRollups, wideRollups} {
		fives = append(fives, RollUp{Coarse: fam[1], Fine: fam[0]})
		hours = append(hours, RollUp{Coarse: fam[2], Fine: fam[1]})
	}
	return append(fives, hours...)
}

// PendingWindows returns the query listing, as Unix seconds, the 5-minute
// windows (grain 5m) or the hours (grain 1h) touched by inserts recorded
// at or after since.
func PendingWindows(grain time.Duration, since time.Time) string {
	window := "Window"
	if grain == time.Hour {
		window = "toStartOfHour(Window)"
	}
	return fmt.Sprintf("SELECT DISTINCT toUnixTimestamp(%s) AS w FROM %s WHERE InsertedAt >= toDateTime(%d) ORDER BY w",
		window, PendingTable, since.Unix())
}

// RollUpState returns the query summarising what the coarse rollup holds
// for a window (rows, flows, bytes): it changes only when the roller adds
// to it, so it names the delta computed from it (its deduplication token).
func (ru RollUp) RollUpState(window int64) string {
	return fmt.Sprintf("SELECT count(), sum(Flows), sum(Bytes) FROM %s WHERE TimeReceived = toDateTime(%d)",
		ru.Coarse.QualifiedTable(), window)
}

// RollUpInsert returns the insert adding to the coarse rollup, for one of
// its windows (Unix seconds), what the finer rollup holds beyond it, key by
// key. Keys whose finer sums are not above the coarse ones add nothing: a
// window rolled again inserts no row, and one whose finer rows expired
// (TTL) is not taken back. token is the insert's deduplication token.
func (ru RollUp) RollUpInsert(window int64, token string) string {
	dims := strings.Join(ru.Coarse.Dimensions, ", ")
	sums := "sum(Bytes) AS Bytes, sum(Packets) AS Packets, sum(Flows) AS Flows"
	return fmt.Sprintf("INSERT INTO %s SETTINGS insert_deduplication_token = %s, async_insert = 0 "+
		"SELECT toDateTime(%d) AS TimeReceived, %s, "+
		"fine.Bytes - coarse.Bytes AS Bytes, fine.Packets - coarse.Packets AS Packets, fine.Flows - coarse.Flows AS Flows "+
		"FROM (SELECT %s, %s FROM %s WHERE %s(TimeReceived) = toDateTime(%d) GROUP BY %s) AS fine "+
		"LEFT JOIN (SELECT %s, %s FROM %s WHERE TimeReceived = toDateTime(%d) GROUP BY %s) AS coarse USING (%s) "+
		"WHERE fine.Flows > coarse.Flows AND fine.Bytes >= coarse.Bytes AND fine.Packets >= coarse.Packets",
		ru.Coarse.QualifiedTable(), clickhouse.QuoteString(token), window, dims,
		dims, sums, ru.Fine.QualifiedTable(), ru.Coarse.truncate, window, dims,
		dims, sums, ru.Coarse.QualifiedTable(), window, dims, dims)
}
