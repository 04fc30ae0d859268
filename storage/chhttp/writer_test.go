package chhttp_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sluice/storage/migrate"
)

// post sends a statement as the writer, with URL parameters and a body.
func post(t *testing.T, params url.Values, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+start(t)+"/?"+params.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(migrate.WriterUser, writerPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), string(b)
}

// TestWriterInsertSettings: the writer's insert settings reach the
// engine (a replayed insert with the same token is dropped), and other
// settings are refused instead of dropped.
func TestWriterInsertSettings(t *testing.T) {
	if status, _, body := post(t, nil, "CREATE TABLE IF NOT EXISTS sluice.chhttp_dedup (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100"); status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	for range 2 {
		status, _, body := post(t, url.Values{"query": {"INSERT INTO sluice.chhttp_dedup FORMAT CSV"},
			"insert_deduplication_token": {"batch-1"}, "async_insert": {"0"}}, "1\n2\n3\n")
		if status != 200 {
			t.Fatalf("insert: %d %s", status, body)
		}
	}
	if status, _, body := post(t, url.Values{"query": {"SELECT count() FROM sluice.chhttp_dedup"}}, ""); status != 200 || body != "3\n" {
		t.Errorf("after a replay with the same token: %d %q, want 3", status, body)
	}
	for _, p := range []url.Values{
		{"query": {"INSERT INTO sluice.chhttp_dedup FORMAT CSV"}, "max_insert_threads": {"4"}},
		{"query": {"INSERT INTO sluice.chhttp_dedup FORMAT CSV"}, "format_schema": {"/etc/passwd"}},
	} {
		if status, code, body := post(t, p, "9\n"); status == 200 || code != "115" {
			t.Errorf("%v: %d code %q %s", p, status, code, body)
		}
	}
	// clickhouse-go sends an insert's settings with the queries it makes on
	// the way (its hello, DESCRIBE): there they mean nothing and are left out.
	if status, code, body := post(t, url.Values{"query": {"SELECT 1"}, "insert_deduplication_token": {"x"}}, ""); status != 200 || body != "1\n" {
		t.Errorf("an insert setting on a SELECT: %d code %q %s", status, code, body)
	}
	if status, _, body := post(t, url.Values{"query": {"SELECT count() FROM sluice.chhttp_dedup"}}, ""); status != 200 || body != "3\n" {
		t.Errorf("after the refusals: %d %q, want 3", status, body)
	}
}

// TestWriterSessionStatementsRefused: SET and USE would change the session
// that ingestion shares; several statements would run every one.
func TestWriterSessionStatementsRefused(t *testing.T) {
	for _, q := range []string{"SET readonly = 1", "/* x */ set max_threads = 1", "USE system", "SELECT 1; SET readonly = 1"} {
		if status, code, body := post(t, url.Values{"query": {q}}, ""); status == 200 || code == "" {
			t.Errorf("%s: %d code %q %s", q, status, code, body)
		}
	}
	// Inserts still work, in the session's database.
	if status, _, body := post(t, url.Values{"query": {"SELECT currentDatabase(), getSetting('readonly')"}}, ""); status != 200 || body != "default\t0\n" {
		t.Errorf("session after the refusals: %d %q", status, body)
	}
}
