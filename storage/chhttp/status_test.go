package chhttp_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"sluice/internal/reporter"
	"sluice/storage/chhttp"
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
