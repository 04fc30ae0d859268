// Command chgo reads sluice's ClickHouse HTTP interface with clickhouse-go/v2
// over HTTP, at the version this module's go.mod pins: v2.47.0, the one
// Grafana's ClickHouse plugin pins. The test TestClickHouseClientsGo
// (cmd/sluice) runs it against `sluice run` fed by `sluice demo`, once as it
// is and once re-pinned to the project's clickhouse-go, and compares the two
// outputs line by line.
//
//	go run . ADDR
//
// It pings, reads SELECT version(), every column of flows (a sample of rows,
// each column scanned into the Go type clickhouse-go gives for it), a count
// with a server-side parameter, and prints the code of the
// *clickhouse.Exception a bad query and a write return. Each line is
// tab-separated, its first field saying what it is.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// codeRE finds ClickHouse's code in an error's text.
var codeRE = regexp.MustCompile(`Code: (\d+)\. DB::Exception`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chgo ADDR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "chgo:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "default", Database: "sluice"}})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	fmt.Println("ping\tok")
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	fmt.Printf("version\t%s\n", version)

	// Every column of flows. ORDER BY ALL makes the sample the same on
	// each run (rows that compare equal print the same).
	rows, err := conn.Query(ctx, "SELECT * FROM flows ORDER BY ALL LIMIT 50")
	if err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	types := rows.ColumnTypes()
	var header []string
	for _, ct := range types {
		header = append(header, ct.Name()+" "+ct.DatabaseTypeName()+" "+ct.ScanType().String())
	}
	fmt.Printf("columns\t%s\n", strings.Join(header, "\t"))
	n := 0
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("flows row %d: %w", n, err)
		}
		fields := make([]string, len(dest))
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem().Interface()
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format(time.RFC3339Nano)
			}
			fields[i] = fmt.Sprint(v)
		}
		fmt.Printf("row\t%s\n", strings.Join(fields, "\t"))
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	if n == 0 {
		return errors.New("flows: no rows")
	}

	// A server-side parameter: the engine binds it, nothing is spliced.
	var count uint64
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"proto": "6"}))
	if err := conn.QueryRow(pctx, "SELECT count() FROM flows WHERE Proto = {proto:UInt8}").Scan(&count); err != nil {
		return fmt.Errorf("parameter: %w", err)
	}
	fmt.Printf("tcp flows\t%d\n", count)

	// A query error and a refused write. clickhouse-go v2.48 and later
	// return a *clickhouse.Exception for an HTTP error response; v2.47
	// returns an error whose text is the response body, ClickHouse's
	// "Code: N. DB::Exception: …". The line says which, and the code.
	for _, q := range []string{"SELECT no_such_column FROM flows", "DROP TABLE flows"} {
		err := conn.Exec(ctx, q)
		var ex *clickhouse.Exception
		switch {
		case errors.As(err, &ex):
			fmt.Printf("exception\t%s\t*clickhouse.Exception\t%d\n", q, ex.Code)
		case err != nil:
			m := codeRE.FindStringSubmatch(err.Error())
			if m == nil {
				return fmt.Errorf("%s: %v, with no ClickHouse code", q, err)
			}
			fmt.Printf("exception\t%s\terror text\t%s\n", q, m[1])
		default:
			return fmt.Errorf("%s: no error", q)
		}
	}
	return nil
}
