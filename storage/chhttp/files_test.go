package chhttp_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// get sends a GET with the given URL parameters (and headers) as the
// default user and returns the status, the exception code and the body.
func get(t *testing.T, params url.Values, headers ...http.Header) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+start(t)+"/?"+params.Encode(), nil)
	for _, h := range headers {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), string(body)
}

// TestNoFileReadThroughFormats sends the requests by which a read-only
// user could make the engine read a file through a format's schema or
// template settings, or a FORMAT clause naming such a format: each is
// refused and the file's contents never appear.
func TestNoFileReadThroughFormats(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("SECRET-MARKER ${x:CSV}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []url.Values{
		{"query": {"SELECT 1 AS x"}, "default_format": {"Template"}, "format_template_resultset": {"/etc/passwd"}},
		{"query": {"SELECT 1 AS x"}, "default_format": {"Template"}, "format_template_resultset": {secret}},
		{"query": {"SELECT 1 AS x"}, "default_format": {"Template"}, "format_template_row": {secret}},
		{"query": {"SELECT 1 AS x"}, "format_template_resultset": {secret}},
		{"query": {"SELECT 1 AS x FORMAT Template"}, "format_template_resultset": {secret}},
		{"query": {"SELECT 1 AS x FORMAT template"}},
		{"query": {"SELECT 1 AS x FORMAT CustomSeparated"}},
		{"query": {"SELECT 1 AS x FORMAT Protobuf"}, "format_schema": {secret + ":X"}},
		{"query": {"SELECT 1 AS x FORMAT CapnProto"}, "format_schema": {secret + ":X"}},
		{"query": {"SELECT 1 AS x FORMAT Protobuf SETTINGS format_schema = '" + secret + ":X'"}},
		{"query": {"SELECT 1 AS x"}, "default_format": {"Protobuf"}},
		{"query": {"SELECT 1 AS x"}, "default_format": {"Regexp"}},
	} {
		status, code, body := get(t, p)
		if status == 200 || code == "" || strings.Contains(body, "SECRET-MARKER") || strings.Contains(body, "root:") {
			t.Errorf("%v: %d code %q body %q", p, status, code, body)
		}
	}
}

// TestNoFileWrittenThroughFormats: output_format_schema makes the
// Protobuf and CapnProto formats write the schema they generate.
func TestNoFileWrittenThroughFormats(t *testing.T) {
	dir := t.TempDir()
	for i, p := range []url.Values{
		{"query": {"SELECT 1 AS x"}, "default_format": {"Protobuf"}, "output_format_schema": {filepath.Join(dir, "a.proto")}},
		{"query": {"SELECT 1 AS x"}, "default_format": {"CapnProto"}, "output_format_schema": {filepath.Join(dir, "b.capnp")}},
		{"query": {"SELECT 1 AS x FORMAT Protobuf"}, "output_format_schema": {filepath.Join(dir, "c.proto")}},
		{"query": {"SELECT 1 AS x"}, "output_format_schema": {filepath.Join(dir, "d.proto")}},
	} {
		if status, code, body := get(t, p); status == 200 || code == "" {
			t.Errorf("%d %v: %d code %q body %q", i, p, status, code, body)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("files written: %v", entries)
	}
}

// TestHarmlessFormatsAndSettings: what clients send still passes.
func TestHarmlessFormatsAndSettings(t *testing.T) {
	for p, want := range map[string]string{
		"query=SELECT+toUInt64(1)+AS+x+FORMAT+JSONEachRow&output_format_json_quote_64bit_integers=1": "{\"x\":\"1\"}\n",
		"query=SELECT+1+AS+x+FORMAT+jsoneachrow":                                                     "{\"x\":1}\n",
		"query=SELECT+1+AS+x&default_format=CSVWithNames&session_timezone=UTC&extremes=0":            "\"x\"\n1\n",
		"query=SELECT+toDateTime(0,'UTC')&date_time_output_format=unix_timestamp&max_block_size=100": "0\n",
	} {
		q, _ := url.ParseQuery(p)
		if status, _, body := get(t, q); status != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", p, status, body, want)
		}
	}
}
