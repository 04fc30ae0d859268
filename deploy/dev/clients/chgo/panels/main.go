// Command panels runs SQL statements through sluice's ClickHouse HTTP
// interface with clickhouse-go/v2 at the version of this module's go.mod
// (v2.47.0, the one Grafana's ClickHouse plugin pins), as the plugin's
// backend sends a panel's query. The dashboards test (cmd/sluice,
// TestDashboardPanels) writes the statements, each a panel's SQL expanded
// as the plugin expands it, and compares what comes back.
//
//	go run ./panels ADDR USER FILE
//
// FILE holds a JSON array of {"id", "sql"}. For each statement, one JSON
// line goes to stdout: {"id", "columns", "rows", "error"}, every value
// scanned into the Go type clickhouse-go gives its column and printed with
// fmt (times in RFC 3339, UTC).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

type statement struct {
	ID  string `json:"id"`
	SQL string `json:"sql"`
}

type result struct {
	ID      string     `json:"id"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Error   string     `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: panels ADDR USER FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "panels:", err)
		os.Exit(1)
	}
}

func run(addr, user, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var stmts []statement
	if err := json.Unmarshal(b, &stmts); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: user, Password: os.Getenv("SLUICE_CLICKHOUSE_PASSWORD"), Database: "sluice"}})
	if err != nil {
		return err
	}
	defer conn.Close()
	enc := json.NewEncoder(os.Stdout)
	for _, s := range stmts {
		r := query(ctx, conn, s)
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func query(ctx context.Context, conn clickhouse.Conn, s statement) result {
	r := result{ID: s.ID, Rows: [][]string{}}
	rows, err := conn.Query(ctx, s.SQL)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	for _, ct := range types {
		r.Columns = append(r.Columns, ct.Name())
	}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			r.Error = err.Error()
			return r
		}
		fields := make([]string, len(dest))
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem().Interface()
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339)
			}
			fields[i] = fmt.Sprint(v)
		}
		r.Rows = append(r.Rows, fields)
	}
	if err := rows.Err(); err != nil {
		r.Error = err.Error()
	}
	return r
}
