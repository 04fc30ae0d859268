// Package chhttp is the ClickHouse HTTP interface over the embedded engine:
// ClickHouse clients (clickhouse-go with Protocol HTTP, clickhouse-connect,
// JDBC, Grafana's plugin, curl) reach the embedded store as they would a
// ClickHouse server. It is read-only for analysts; writes and DDL are for
// the writer user, when configured.
//
// The engine is one session, shared with ingestion and run one statement
// at a time: queries take turns (MaxConcurrentQueries), each bounded by
// the engine's read-only limits, so a slow one delays inserts by at most
// max_execution_time.
package chhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
)

// Engine is what the interface queries: the embedded engine.
type Engine interface {
	// QueryReadOnlyRequest answers analysts.
	QueryReadOnlyRequest(ctx context.Context, req embedded.ReadOnlyRequest) (embedded.ReadOnlyResult, error)
	// Run and RunInsert answer the writer.
	Run(ctx context.Context, sql, format string) ([]byte, error)
	RunInsert(ctx context.Context, target, format string, data []byte, settings map[string]string) error
}

// Dependencies are what the interface is handed.
type Dependencies struct {
	Engine Engine
}

// Server is the ClickHouse HTTP interface.
type Server struct {
	r       *reporter.Reporter
	cfg     Config
	engine  Engine
	metrics *metrics
	srv     *http.Server
	ln      net.Listener
	served  chan struct{}
	turns   chan struct{} // a slot per query allowed to run
	waiting chan struct{} // a slot per query allowed to wait
	errLog  *reporter.Limiter

	info *serverInfo // read once at Start
}

// stopTimeout is how long requests in flight get when sluice stops.
const stopTimeout = 5 * time.Second

// New checks cfg and builds the interface; Start listens.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Server, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, errors.New("no engine")
	}
	m, err := newMetrics(r)
	if err != nil {
		return nil, err
	}
	s := &Server{
		r: r, cfg: cfg, engine: deps.Engine, metrics: m,
		served:  make(chan struct{}),
		turns:   make(chan struct{}, cfg.MaxConcurrentQueries),
		waiting: make(chan struct{}, cfg.MaxConcurrentQueries+cfg.MaxQueuedQueries),
		errLog:  r.NewLimiter(5, 10*time.Second),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", s.handlePing)
	mux.HandleFunc("/", s.handleRoot)
	s.srv = &http.Server{Handler: mux,
		ReadHeaderTimeout: 10 * time.Second,
		// A request's body (at most max-body-bytes, 64 MiB by default)
		// must arrive within readTimeout; the handler lifts the deadline
		// once it has the body, since the net/http server's read deadline
		// would otherwise cancel a query that outlasts it.
		ReadTimeout: readTimeout,
		IdleTimeout: 2 * time.Minute,
		// No WriteTimeout: it would count the queue and the query too.
		// Each response gets a write deadline for its size (writeDeadline).
	}
	return s, nil
}

// readTimeout bounds a request's upload: 64 MiB at half a MiB a second.
const readTimeout = 2 * time.Minute

// writeDeadline is how long a response of n bytes may take to write: a
// minute, plus a second for each 256 KiB, so that a client that stops
// reading frees its query's slot (and the result it holds) in bounded
// time.
func writeDeadline(n int) time.Time {
	return time.Now().Add(time.Minute + time.Duration(n/(256<<10))*time.Second)
}

// Start binds the listen address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", listenAddress(s.cfg.Listen))
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.loadServerInfo(ctx)
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.r.Error("ClickHouse HTTP interface stopped", "err", err)
		}
	}()
	s.r.Info("ClickHouse HTTP interface listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the bound address, once started.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stop gives queries in flight up to stopTimeout (less if ctx ends
// sooner), then closes what is left. It comes before the engine's Stop.
func (s *Server) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.r.Warn("ClickHouse HTTP interface shutdown", "err", err)
		s.srv.Close()
	}
	<-s.served
	return nil
}
