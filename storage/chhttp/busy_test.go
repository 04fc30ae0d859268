package chhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/storage/chhttp"
	"sluice/storage/embedded"
)

// slowEngine answers a query only when released, to hold its turn.
type slowEngine struct {
	started chan struct{}
	release chan struct{}
}

func (e *slowEngine) QueryReadOnlyRequest(ctx context.Context, req embedded.ReadOnlyRequest) (embedded.ReadOnlyResult, error) {
	if req.Query == "SELECT timezone()" {
		return embedded.ReadOnlyResult{Data: []byte("UTC\n"), Format: req.Format}, nil
	}
	e.started <- struct{}{}
	<-e.release
	return embedded.ReadOnlyResult{Data: []byte("1\n"), Format: req.Format}, nil
}

func (e *slowEngine) Run(context.Context, string, string) ([]byte, error) { return nil, nil }
func (e *slowEngine) RunInsert(context.Context, string, string, []byte, map[string]string) error {
	return nil
}

// A query beyond the running and waiting ones is refused at once with
// TOO_MANY_SIMULTANEOUS_QUERIES (HTTP 503), counted, rather than queued
// in front of ingestion without bound.
func TestBusyRefused(t *testing.T) {
	eng := &slowEngine{started: make(chan struct{}, 1), release: make(chan struct{})}
	r := reporter.New(slog.New(slog.DiscardHandler))
	cfg := chhttp.DefaultConfig()
	cfg.Listen, cfg.MaxConcurrentQueries, cfg.MaxQueuedQueries = "127.0.0.1:0", 1, 0
	s, err := chhttp.New(r, cfg, chhttp.Dependencies{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+s.Addr()+"/", "text/plain", strings.NewReader("SELECT 1"))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-eng.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first query never reached the engine")
	}
	resp, err := http.Post("http://"+s.Addr()+"/", "text/plain", strings.NewReader("SELECT 2"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("X-ClickHouse-Exception-Code") != "202" || !strings.Contains(string(body), "(TOO_MANY_SIMULTANEOUS_QUERIES)") {
		t.Errorf("second query: %d %q", resp.StatusCode, body)
	}
	close(eng.release)
	if code := <-first; code != 200 {
		t.Errorf("first query: %d", code)
	}
	var busy float64
	testenv.Eventually(t, 10*time.Second, "the refusal counted", func() bool {
		mfs, _ := r.Gatherer().Gather()
		for _, mf := range mfs {
			if mf.GetName() == "sluice_storage_chhttp_refused_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "busy" {
						busy = m.GetCounter().GetValue()
					}
				}
			}
		}
		return busy == 1
	})
}

// instantEngine answers every query with "1".
type instantEngine struct{}

func (instantEngine) QueryReadOnlyRequest(_ context.Context, req embedded.ReadOnlyRequest) (embedded.ReadOnlyResult, error) {
	return embedded.ReadOnlyResult{Data: []byte("1\n"), Format: req.Format}, nil
}
func (instantEngine) Run(context.Context, string, string) ([]byte, error) { return []byte("1\n"), nil }
func (instantEngine) RunInsert(context.Context, string, string, []byte, map[string]string) error {
	return nil
}

// With an analyst password configured, every way ClickHouse takes
// credentials works, and none without the password; the writer exists
// only when configured.
func TestAuthenticationSources(t *testing.T) {
	cfg := chhttp.DefaultConfig()
	cfg.Listen, cfg.AnalystPassword = "127.0.0.1:0", "s3cret"
	s, err := chhttp.New(reporter.New(slog.New(slog.DiscardHandler)), cfg, chhttp.Dependencies{Engine: instantEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	for _, c := range []struct {
		name   string
		query  string
		header http.Header
		basic  []string
		want   int
	}{
		{"no credentials", "", nil, nil, 403},
		{"headers", "", http.Header{"X-Clickhouse-User": {"default"}, "X-Clickhouse-Key": {"s3cret"}}, nil, 200},
		{"analyst by name", "", http.Header{"X-Clickhouse-User": {"sluice_analyst"}, "X-Clickhouse-Key": {"s3cret"}}, nil, 200},
		{"basic", "", nil, []string{"default", "s3cret"}, 200},
		{"basic wrong", "", nil, []string{"default", "nope"}, 403},
		{"url", "&user=default&password=s3cret", nil, nil, 200},
		{"url without user", "&password=s3cret", nil, nil, 200},
		{"mixed", "&password=s3cret", http.Header{"X-Clickhouse-User": {"default"}}, nil, 403},
		{"writer not configured", "", http.Header{"X-Clickhouse-User": {"sluice_writer"}, "X-Clickhouse-Key": {""}}, nil, 403},
	} {
		req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/?query=SELECT+1"+c.query, nil)
		for k, v := range c.header {
			req.Header[k] = v
		}
		if c.basic != nil {
			req.SetBasicAuth(c.basic[0], c.basic[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || c.want != 200 && resp.Header.Get("X-ClickHouse-Exception-Code") != "516" {
			t.Errorf("%s: %d %q, want %d", c.name, resp.StatusCode, body, c.want)
		}
	}
}
