package chhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/chhttp"
	"sluice/storage/embedded"
)

// TestHTTPStatus: ClickHouse's exceptionCodeToHTTPStatus.
func TestHTTPStatus(t *testing.T) {
	for code, want := range map[int]int{
		36: 400, 62: 400, 44: 400, 15: 400, 8: 400, 321: 400, 6: 400, 53: 400,
		60: 404, 47: 404, 73: 404, 115: 404, 78: 404, 511: 404,
		159: 408, 229: 413, 48: 501, 76: 503, 209: 503, 202: 503, 381: 411,
		194: 401, 516: 403, 164: 500, 1001: 500, 241: 500,
	} {
		if got := chhttp.HTTPStatus(code); got != want {
			t.Errorf("code %d: %d, want %d", code, got, want)
		}
	}
}

// TestBodyTooLarge: a body beyond max-body-bytes is 413.
func TestBodyTooLarge(t *testing.T) {
	cfg := chhttp.DefaultConfig()
	cfg.Listen, cfg.MaxBodyBytes = "127.0.0.1:0", 10
	s, err := chhttp.New(reporter.New(slog.New(slog.DiscardHandler)), cfg, chhttp.Dependencies{Engine: instantEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(t.Context()) })
	resp, err := http.Post("http://"+s.Addr()+"/", "text/plain", strings.NewReader("SELECT 1 + 1 + 1 + 1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.Header.Get("X-ClickHouse-Exception-Code") != "229" {
		t.Errorf("%d code %s", resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"))
	}
}

// bigEngine answers every query with 32 MiB, more than the sockets
// buffer, so a client that does not read keeps its handler writing.
type bigEngine struct{ instantEngine }

func (bigEngine) QueryReadOnlyRequest(_ context.Context, req embedded.ReadOnlyRequest) (embedded.ReadOnlyResult, error) {
	if req.Query == "SELECT timezone()" {
		return embedded.ReadOnlyResult{Data: []byte("UTC\n"), Format: req.Format}, nil
	}
	return embedded.ReadOnlyResult{Data: make([]byte, 32<<20), Format: req.Format}, nil
}

// TestSlowReaderHoldsItsSlot: a result being written keeps its query's
// slot, so the results held in memory stay within the running and
// waiting queries; the slot is freed once the client goes.
func TestSlowReaderHoldsItsSlot(t *testing.T) {
	cfg := chhttp.DefaultConfig()
	cfg.Listen, cfg.MaxConcurrentQueries, cfg.MaxQueuedQueries = "127.0.0.1:0", 1, 0
	s, err := chhttp.New(reporter.New(slog.New(slog.DiscardHandler)), cfg, chhttp.Dependencies{Engine: bigEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	// Its own transport, so that closing it closes the connection.
	slow := &http.Transport{}
	resp, err := (&http.Client{Transport: slow}).Get("http://" + s.Addr() + "/?query=SELECT+1")
	if err != nil {
		t.Fatal(err)
	}
	// The headers came: the handler is writing the body nobody reads.
	second, err := http.Get("http://" + s.Addr() + "/?query=SELECT+1")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != 503 {
		t.Errorf("a query while a result is being written: %d, want 503", second.StatusCode)
	}
	resp.Body.Close()
	slow.CloseIdleConnections()
	// Freed: the next query runs (the handler notices the closed
	// connection on its next write).
	for deadline := time.Now().Add(10 * time.Second); ; {
		third, err := http.Get("http://" + s.Addr() + "/?query=SELECT+1")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, third.Body)
		third.Body.Close()
		if third.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not freed: %d", third.StatusCode)
		}
		runtime.Gosched()
	}
}

// TestHostChecked: without an analyst password, a request naming a host
// other than a loopback one (a page's own name, rebound to 127.0.0.1) is
// refused; localhost is listened on as 127.0.0.1, never resolved.
func TestHostChecked(t *testing.T) {
	cfg := chhttp.DefaultConfig()
	cfg.Listen = "localhost:0"
	s, err := chhttp.New(reporter.New(slog.New(slog.DiscardHandler)), cfg, chhttp.Dependencies{Engine: instantEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("localhost listened on as %s", s.Addr())
	}
	_, port, _ := strings.Cut(s.Addr(), ":")
	for host, want := range map[string]int{
		"evil.example:" + port: 403, "evil.example": 403, "127.0.0.1.nip.io:" + port: 403,
		"localhost:" + port: 200, "127.0.0.1:" + port: 200, "[::1]:" + port: 200, "127.0.0.2": 200,
	} {
		req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/?query=SELECT+1", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
