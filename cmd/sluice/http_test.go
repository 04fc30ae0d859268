package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"sluice/reporter"
)

// TestProfilesServed checks that the HTTP server answers Go's profile endpoints, which the
// benchmark (deploy/bench --profile) reads.
func TestProfilesServed(t *testing.T) {
	srv, err := newHTTPServer(reporter.New(slog.New(slog.DiscardHandler)), "127.0.0.1:0", func() error { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := srv.Start()
	defer stop()
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
