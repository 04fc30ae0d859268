package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSQLErrorsAndAddresses starts `sluice run` on a moved HTTP port and
// checks, through the real engine, what a client is told about a bad query
// (the engine's code and message, not sluice's wrapping or the settings it
// appends), over HTTP and through `sluice sql`; and that the client commands
// find that port through SLUICE_ADDR and through --config's http.listen.
func TestSQLErrorsAndAddresses(t *testing.T) {
	requireChdb(t)
	in := startSluice(t, t.TempDir())

	badQueries := []struct {
		query, code string
		message     []string
	}{
		{"SELEC count() FROM flows", "62", []string{"Code: 62. DB::Exception: Syntax error: failed at position", "(SYNTAX_ERROR)"}},
		// README shows this one, whole.
		{"SELECT NoSuchColumn FROM flows", "47", []string{"Code: 47. DB::Exception: Unknown expression identifier `NoSuchColumn` in scope SELECT NoSuchColumn FROM flows. (UNKNOWN_IDENTIFIER)"}},
	}
	checkMessage := func(t *testing.T, where, msg string, message []string) {
		t.Helper()
		for _, part := range message {
			if !strings.Contains(msg, part) {
				t.Errorf("%s: the message lacks %q:\n%s", where, part, msg)
			}
		}
		for _, internal := range []string{"embedded:", "SETTINGS readonly", "max_execution_time", "formatQuerySingleLine"} {
			if strings.Contains(msg, internal) {
				t.Errorf("%s: the message shows sluice's internals (%q):\n%s", where, internal, msg)
			}
		}
	}
	for _, bq := range badQueries {
		resp, err := http.Post("http://"+in.http+"/api/v1/sql?format=TSV", "text/plain", strings.NewReader(bq.query))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-ClickHouse-Exception-Code") != bq.code {
			t.Errorf("%q over HTTP: %s, code header %q; want 400 with code %s", bq.query, resp.Status,
				resp.Header.Get("X-ClickHouse-Exception-Code"), bq.code)
		}
		checkMessage(t, bq.query+" over HTTP", string(body), bq.message)

		err = dispatch(context.Background(), []string{"sql", "--addr", in.http, bq.query}, io.Discard, io.Discard)
		if err == nil {
			t.Fatalf("sluice sql %q succeeded", bq.query)
		}
		checkMessage(t, "sluice sql "+bq.query, err.Error(), bq.message)
		if bq.code == "47" && err.Error() != bq.message[0] {
			t.Errorf("sluice sql %q: %q, want README's %q", bq.query, err, bq.message[0])
		}
	}
	// The full error, for the operator, is in the debug log only: at the
	// default level nothing is logged for a user's bad query.
	if log := in.logText(); strings.Contains(log, "NoSuchColumn") {
		t.Errorf("a user's bad query was logged at the default level:\n%s", log)
	}

	// The client commands find the moved port through SLUICE_ADDR (as
	// host:port, as http.listen is written), or --config's http.listen.
	sql := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := dispatch(context.Background(), append([]string{"sql", "--format", "tsv"}, args...), &out, io.Discard); err != nil {
			t.Fatalf("sluice sql %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	t.Setenv(serverAddrEnv, in.http)
	if got := sql("SELECT 1 AS one"); got != "one\n1\n" {
		t.Errorf("sluice sql with SLUICE_ADDR=%s: %q", in.http, got)
	}
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"query", "top-protocols", "--format", "tsv"}, &out, io.Discard); err != nil ||
		!strings.HasPrefix(out.String(), "EType\tProto\tBytes") {
		t.Errorf("sluice query with SLUICE_ADDR=%s: %v\n%s", in.http, err, out.String())
	}
	config := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(config, []byte("http:\n  listen: "+in.http+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(serverAddrEnv, "")
	if got := sql("--config", config, "SELECT 2 AS two"); got != "two\n2\n" {
		t.Errorf("sluice sql --config with http.listen %s: %q", in.http, got)
	}
	// --addr comes before SLUICE_ADDR, which comes before --config.
	deadAddr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	t.Setenv(serverAddrEnv, deadAddr)
	if got := sql("--addr", "http://"+in.http, "--config", config, "SELECT 3 AS three"); got != "three\n3\n" {
		t.Errorf("--addr over SLUICE_ADDR: %q", got)
	}
	err := dispatch(context.Background(), []string{"sql", "--config", config, "SELECT 4"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), deadAddr+" (from SLUICE_ADDR)") {
		t.Errorf("SLUICE_ADDR over --config: err = %v, want one naming %s from SLUICE_ADDR", err, deadAddr)
	}
	in.stop()
}
