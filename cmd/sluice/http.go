package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
	"sluice/storage/server"
)

// sqlFormats maps the short format names of `sluice sql --format` to
// ClickHouse output formats; any other name is passed through as is.
var sqlFormats = map[string]string{
	"table": "PrettyCompactMonoBlock",
	"csv":   "CSVWithNames",
	"tsv":   "TSVWithNames",
	"json":  "JSON",
	"jsonl": "JSONEachRow",
}

// maxQueryBytes bounds a query's text.
const maxQueryBytes = 1 << 20

// SQLRunner answers read-only SQL: the embedded engine, or a ClickHouse
// server. A query at fault fails with an *embedded.QueryError or a
// *server.QueryError.
type SQLRunner interface {
	QueryReadOnly(ctx context.Context, sql, format string) ([]byte, error)
}

// httpServer serves the operational endpoints and the SQL endpoint. It is
// a component of every deployment: Start binds and serves, Stop drains.
type httpServer struct {
	r      *reporter.Reporter
	listen string
	srv    *http.Server
	ln     net.Listener
	ready  func() error
	sql    SQLRunner
	served chan struct{}
	// errLimiter bounds the log lines of the SQL endpoint's own failures.
	errLimiter *reporter.Limiter
}

// httpStopTimeout is how long requests in flight get when sluice stops.
const httpStopTimeout = 5 * time.Second

func newHTTPServer(r *reporter.Reporter, listen string, ready func() error, sql SQLRunner) *httpServer {
	r = r.Sub("http")
	s := &httpServer{r: r, listen: listen, ready: ready, sql: sql, served: make(chan struct{}),
		errLimiter: r.NewLimiter(5, 10*time.Second)}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.Gatherer(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if sql != nil {
		mux.HandleFunc("/api/v1/sql", s.handleSQL)
	}
	// Go's profiles, for measuring sluice under load (go tool pprof
	// http://ADDR/debug/pprof/profile?seconds=30); the HTTP address is
	// loopback by default, as for the SQL endpoint.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Addr is the bound address, once started.
func (s *httpServer) Addr() string { return s.ln.Addr().String() }

// Start binds the listen address and serves in the background.
func (s *httpServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", s.listen, err)
	}
	s.ln = ln
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.r.Error("HTTP server stopped", "err", err)
		}
	}()
	return nil
}

// Stop gives requests in flight up to httpStopTimeout (less if ctx ends
// sooner), then closes what is left.
func (s *httpServer) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, httpStopTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.r.Warn("HTTP shutdown", "err", err)
		s.srv.Close()
	}
	<-s.served
	return nil
}

// handleSQL runs one read-only statement: the query comes in the body of a
// POST or in ?query= of a GET, the format in ?format= (default table).
func (s *httpServer) handleSQL(w http.ResponseWriter, req *http.Request) {
	var query string
	switch req.Method {
	case http.MethodGet:
		query = req.URL.Query().Get("query")
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(req.Body, maxQueryBytes+1))
		if err != nil {
			http.Error(w, "read query: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxQueryBytes {
			http.Error(w, "query too long", http.StatusRequestEntityTooLarge)
			return
		}
		query = string(body)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET ?query= or POST", http.StatusMethodNotAllowed)
		return
	}
	query = strings.TrimSpace(query)
	if query == "" {
		http.Error(w, "empty query", http.StatusBadRequest)
		return
	}
	format := req.URL.Query().Get("format")
	if format == "" {
		format = "table"
	}
	if f, ok := sqlFormats[format]; ok {
		format = f
	}
	out, err := s.sql.QueryReadOnly(req.Context(), query, format)
	if err != nil {
		s.sqlError(w, req, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if strings.HasPrefix(format, "JSON") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Write(out)
}

// sqlError answers a query that failed. A query's own fault (a syntax
// error, an unknown column, a refused statement) is answered with the
// engine's code and message as ClickHouse words them, without sluice's
// wrapping or the settings it adds (embedded.QueryError), and with the code
// in X-ClickHouse-Exception-Code as a ClickHouse server sends it; the full
// error goes to the debug log. Anything else is sluice's fault: the log has
// it (rate-limited) and the answer says where to look.
func (s *httpServer) sqlError(w http.ResponseWriter, req *http.Request, err error) {
	var qe *embedded.QueryError
	var se *server.QueryError
	switch {
	case errors.As(err, &se):
		// A ClickHouse server's answer (storage.backend server): its
		// message is already ClickHouse's.
		s.r.Debug("SQL query failed", "err", err)
		w.Header().Set("X-ClickHouse-Exception-Code", strconv.Itoa(se.Code))
		http.Error(w, se.Message, http.StatusBadRequest)
	case errors.As(err, &qe):
		s.r.Debug("SQL query failed", "err", err)
		if qe.Code != 0 {
			w.Header().Set("X-ClickHouse-Exception-Code", strconv.Itoa(qe.Code))
		}
		http.Error(w, qe.Message, http.StatusBadRequest)
	case req.Context().Err() != nil:
		// The client went away: nobody reads the answer.
		s.r.Debug("SQL query abandoned by its client", "err", err)
	case errors.Is(err, embedded.ErrClosed):
		http.Error(w, "the store is closed: sluice is stopping", http.StatusServiceUnavailable)
	default:
		s.errLimiter.Log(s.r.Logger, "sql", "SQL endpoint failed", "err", err)
		http.Error(w, "the query failed inside sluice; its log has the error", http.StatusInternalServerError)
	}
}
