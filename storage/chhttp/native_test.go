package chhttp_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestNativeTypesNotCarried: types whose Native serialization
// clickhouse-go's block code does not reproduce fail with NOT_IMPLEMENTED
// instead of losing rows (SELECT NULL gave 0 rows, sumState a 500).
func TestNativeTypesNotCarried(t *testing.T) {
	conn := open(t, "default", "", nil)
	for _, q := range []string{
		"SELECT NULL",
		"SELECT CAST(NULL AS Nullable(Nothing)) FROM numbers(3)",
		"SELECT toIntervalDay(1)",
		"SELECT sumState(1)",
	} {
		rows, err := conn.Query(t.Context(), q)
		n := 0
		if err == nil {
			for rows.Next() {
				n++
			}
			err = rows.Err()
			rows.Close()
		}
		var ex *clickhouse.Exception
		if n > 0 && err == nil {
			continue // carried, with its rows
		}
		if !errors.As(err, &ex) || ex.Code != 48 {
			t.Errorf("%s: %d rows, %v; want rows or code 48 (NOT_IMPLEMENTED)", q, n, err)
		}
	}
	// Types it carries, in several blocks, keep every row.
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM (SELECT number, toString(number) FROM numbers(200000))").Scan(&n); err != nil || n != 200000 {
		t.Errorf("count: %d %v", n, err)
	}
	rows, err := conn.Query(t.Context(), "SELECT number, toString(number) AS s FROM numbers(300000) SETTINGS max_block_size = 1000")
	if err == nil {
		t.Errorf("a SETTINGS clause passed")
		rows.Close()
	}
	rows, err = conn.Query(clickhouse.Context(t.Context(), clickhouse.WithSettings(clickhouse.Settings{"max_block_size": 1000})),
		"SELECT number, toString(number) AS s FROM numbers(30000)")
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var v uint64
		var s string
		if err := rows.Scan(&v, &s); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if err := rows.Err(); err != nil || got != 30000 {
		t.Errorf("many blocks: %d rows, %v", got, err)
	}
	rows.Close()
}

// TestEmptyResultHasColumns: an empty result still names its columns
// and types, as ClickHouse's header block does.
func TestEmptyResultHasColumns(t *testing.T) {
	conn := open(t, "default", "", nil)
	rows, err := conn.Query(t.Context(), "SELECT 1 AS x, 'a' AS s WHERE 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if got := rows.Columns(); !reflect.DeepEqual(got, []string{"x", "s"}) {
		t.Errorf("columns %v", got)
	}
	types := rows.ColumnTypes()
	if len(types) != 2 || types[0].DatabaseTypeName() != "UInt8" || types[1].DatabaseTypeName() != "String" {
		t.Errorf("column types %v", types)
	}
	if rows.Next() {
		t.Errorf("a row")
	}
	if err := rows.Err(); err != nil {
		t.Error(err)
	}
}

// TestEmptyLowCardinalityResult: an empty result with a LowCardinality
// column (a rollup's dimension, filtered to nothing) is an empty result,
// not NOT_IMPLEMENTED: Grafana panels over a quiet range see it.
func TestEmptyLowCardinalityResult(t *testing.T) {
	conn := open(t, "default", "", nil)
	for _, q := range []string{
		"SELECT toLowCardinality('a') AS s, 1 AS x WHERE 0",
		"SELECT toLowCardinality(toString(number)) AS s FROM numbers(10) WHERE number > 100",
		"SELECT toLowCardinality(toNullable('a')) AS s WHERE 0",
	} {
		rows, err := conn.Query(t.Context(), q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if rows.Next() {
			t.Errorf("%s: a row", q)
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", q, err)
		}
		if got := rows.ColumnTypes(); len(got) == 0 || !strings.HasPrefix(got[0].DatabaseTypeName(), "LowCardinality(") {
			t.Errorf("%s: column types %v", q, got)
		}
		rows.Close()
	}
	// A non-empty one still carries its rows.
	var s string
	if err := conn.QueryRow(t.Context(), "SELECT toLowCardinality('b')").Scan(&s); err != nil || s != "b" {
		t.Errorf("non-empty: %q %v", s, err)
	}
}
