package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// runFedByDemo starts `sluice run` with its ClickHouse HTTP interface on a
// free loopback port, feeds it 2 s of `sluice demo`, and returns it, the
// interface's address and what the demo sent, all of it stored.
func runFedByDemo(t *testing.T) (*instance, string, demoTotals) {
	t.Helper()
	requireChdb(t)
	chAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	in := startSluice(t, t.TempDir(), "--clickhouse-listen", chAddr)
	totals, _ := startDemo(t, demoArgs(in, "--rate", "1000", "--duration", "2s")...).wait(t)
	if totals.Flows == 0 {
		t.Fatal("the demo sent nothing")
	}
	return in, chAddr, totals
}

// TestClickHouseHTTPRun runs `sluice run` fed by `sluice demo` and reads it
// as a ClickHouse client would: clickhouse-go over HTTP, as user default
// with no password on loopback. The counts and a top-talkers result equal
// what the read-only SQL endpoint (`sluice sql`) answers, and writes are
// refused with ClickHouse's error.
func TestClickHouseHTTPRun(t *testing.T) {
	in, chAddr, totals := runFedByDemo(t)

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Ping(t.Context()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM flows").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != totals.Flows || n != in.count("") {
		t.Fatalf("count over ClickHouse HTTP %d, demo sent %d, SQL endpoint %d", n, totals.Flows, in.count(""))
	}

	const top = "SELECT toString(SrcAddr) AS a, sum(Bytes * SamplingRate) AS b FROM flows GROUP BY a ORDER BY b DESC, a LIMIT 5"
	rows, err := conn.Query(t.Context(), top)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var (
			addr  string
			bytes uint64
		)
		if err := rows.Scan(&addr, &bytes); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s\t%d", addr, bytes))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(in.sql(top, "tsv")), "\n")[1:] // after the header
	if len(got) == 0 || len(got) != len(want) {
		t.Fatalf("top talkers: HTTP %q, SQL endpoint %q", got, want)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("top talkers: HTTP %q, SQL endpoint %q", got, want)
	}

	err = conn.Exec(t.Context(), "DROP TABLE flows")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 164 {
		t.Fatalf("DROP TABLE: %v, want READONLY (164)", err)
	}
	if got := in.count(""); got != n {
		t.Fatalf("after the refused DROP: %d flows, want %s", got, strconv.FormatUint(n, 10))
	}
	in.stop()
}

// A query stopped at max-result-bytes after the engine wrote part of its
// answer leaves none of it in the next query's answer: clickhouse-go over
// HTTP reads the next count whole (storage/embedded
// TestFailedStatementLeavesNoRows has the engine's side).
func TestClickHouseHTTPStoppedQueryLeavesNoRows(t *testing.T) {
	requireChdb(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(config, []byte("storage:\n  sql: {max-result-bytes: 1048576}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	chAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	in := startSluice(t, filepath.Join(dir, "data"), "--config", config, "--clickhouse-listen", chAddr)
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range 2 {
		rows, err := conn.Query(t.Context(), "SELECT number FROM numbers(10000000)")
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 396 {
			t.Fatalf("a 76 MB answer under a 1 MiB limit: %v, want TOO_MANY_ROWS_OR_BYTES (396)", err)
		}
		var n uint64
		if err := conn.QueryRow(t.Context(), "SELECT count() FROM numbers(7)").Scan(&n); err != nil || n != 7 {
			t.Fatalf("the next query: %d, %v; want 7", n, err)
		}
	}
	in.stop()
}
