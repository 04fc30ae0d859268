package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
)

// TestProfilesServed checks that the HTTP server answers Go's profile endpoints, which the
// benchmark (deploy/bench --profile) reads.
func TestProfilesServed(t *testing.T) {
	srv := newHTTPServer(reporter.New(slog.New(slog.DiscardHandler)), "127.0.0.1:0", func() error { return nil }, nil)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/allocs?debug=1":    "heap profile",
		"/debug/pprof/profile?seconds=1": "",
	} {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) || len(body) == 0 {
			t.Errorf("GET %s: %s, %d bytes, want 200 with %q", path, resp.Status, len(body), want)
		}
	}
}

// failingSQL stands for an engine that fails for sluice's own reasons, not
// the query's, which the real engine does not do on demand: closed, or
// broken.
type failingSQL struct{ err error }

func (f failingSQL) QueryReadOnly(context.Context, string, string) ([]byte, error) { return nil, f.err }

// TestSQLEndpointOwnFailures: a failure that is not the query's fault is
// not answered as a bad query (400) and does not show sluice's internals to
// the client; the log has it. (The query's own errors, through the real
// engine: TestSQLErrorsAndAddresses.)
func TestSQLEndpointOwnFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("embedded: read-only query: run: embedded: SELECT 1 SETTINGS readonly = 1: %w", embedded.ErrClosed), http.StatusServiceUnavailable},
		{errors.New("embedded: read-only query: run: embedded: SELECT 1 SETTINGS readonly = 1: invalid connection"), http.StatusInternalServerError},
	} {
		var log bytes.Buffer
		srv := newHTTPServer(reporter.New(slog.New(slog.NewTextHandler(&log, nil))), "127.0.0.1:0", func() error { return nil }, failingSQL{tc.err})
		if err := srv.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+srv.Addr()+"/api/v1/sql", "text/plain", strings.NewReader("SELECT 1"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Stop(context.Background())
		if resp.StatusCode != tc.status || strings.Contains(string(body), "embedded:") || strings.Contains(string(body), "SETTINGS") {
			t.Errorf("%v: %s %q, want %d without sluice's internals", tc.err, resp.Status, body, tc.status)
		}
		if tc.status == http.StatusInternalServerError && !strings.Contains(log.String(), "invalid connection") {
			t.Errorf("the failure is not in the log:\n%s", log.String())
		}
	}
}
