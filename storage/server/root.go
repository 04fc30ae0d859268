// Package server connects sluice to a ClickHouse server (or cluster) with
// clickhouse-go/v2, over the native protocol or ClickHouse's HTTP
// interface: the store of `sluice pipeline` with `storage.backend: server`.
// It runs the migrations' statements (Exec), answers sluice's read-only
// SQL endpoint (QueryReadOnly, through the server's HTTP interface), and is
// the writer's Inserter for a server: the batch's columns, built once by storage/clickhouse (the
// same code that feeds the embedded engine), are appended column by column
// to a native-protocol batch, with the insert's deduplication token.
//
// No ClickHouse server runs on the machines sluice is developed on, so the
// native protocol to a real server is tested only when
// SLUICE_TEST_CLICKHOUSE names one (see README); the HTTP protocol is
// tested end to end against sluice's own ClickHouse HTTP interface
// (cmd/sluice), and the column building against the embedded engine.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"sluice/internal/reporter"
	"sluice/storage/clickhouse"
)

// Server is a connection pool to the server.
type Server struct {
	cfg      Config
	tls      *tls.Config
	password string
	logger   *slog.Logger
	limits   clickhouse.QueryLimits
	// queryURL is the HTTP interface's URL, and client its client, for
	// QueryReadOnly.
	queryURL string
	client   *http.Client

	conn driver.Conn // set by Start
}

// Dependencies are what the server connection is handed.
type Dependencies struct {
	// QueryLimits bound each QueryReadOnly; zero: the defaults.
	QueryLimits clickhouse.QueryLimits
}

// New checks the configuration, reads the password file and returns a
// server that is not connected yet: Start connects.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Server, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	password := cfg.Password
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password-file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	} else if password == "" {
		password = os.Getenv(PasswordEnv)
	}
	limits := deps.QueryLimits
	if limits == (clickhouse.QueryLimits{}) {
		limits = clickhouse.DefaultQueryLimits()
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	return &Server{cfg: cfg, tls: tlsCfg, password: password, logger: r.Logger, limits: limits,
		queryURL: scheme + "://" + cfg.httpAddress() + "/",
		client:   &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}},
	}, nil
}

// Start connects; it pings the server, so a wrong address or password
// shows at start. ctx bounds the ping.
func (s *Server) Start(ctx context.Context) error {
	cfg := s.cfg
	opts := &ch.Options{
		Protocol: ch.Native,
		Addr:     cfg.Addrs,
		// No database: the migrations create sluice's and name it.
		Auth:        ch.Auth{Username: cfg.Username, Password: s.password},
		TLS:         s.tls,
		DialTimeout: cfg.DialTimeout,
		Compression: &ch.Compression{Method: ch.CompressionLZ4},
		ClientInfo:  ch.ClientInfo{Products: []struct{ Name, Version string }{{Name: "sluice"}}},
	}
	if cfg.Protocol == ProtocolHTTP {
		// Over HTTP, ClickHouse compresses with HTTP's own encodings.
		opts.Protocol = ch.HTTP
		opts.Compression = &ch.Compression{Method: ch.CompressionGZIP}
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return fmt.Errorf("server %v: %w", cfg.Addrs, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("server %v: %w", cfg.Addrs, err)
	}
	s.conn = conn
	s.logger.Info("connected to ClickHouse server", "addrs", fmt.Sprint(cfg.Addrs), "protocol", cfg.Protocol)
	return nil
}

// Stop closes the connections. An insert in progress is bounded by its
// caller's context, not by ctx.
func (s *Server) Stop(context.Context) error {
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}

// Exec runs a statement, for migrations (migrate.ExecFunc).
func (s *Server) Exec(ctx context.Context, sql string) error {
	if err := s.conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Insert appends the batch's columns to a native-protocol insert, naming
// the columns so that the table's own column order does not matter, and
// sends it with the deduplication token (on a Replicated table a replayed
// batch is then stored once; the rollups' views deduplicate too).
func (s *Server) Insert(ctx context.Context, table, dedupToken string, block clickhouse.Block) error {
	var names []string
	if err := block.EachColumn(func(name string, _ any) error {
		names = append(names, clickhouse.QuoteIdentifier(name))
		return nil
	}); err != nil {
		return err
	}
	settings := ch.Settings{
		// The insert is acknowledged only once stored: no server-side
		// buffering, and on a Distributed table, once every shard has
		// its part (the caller commits Kafka offsets after this).
		"async_insert":                  0,
		"distributed_foreground_insert": 1,
	}
	if dedupToken != "" {
		settings["insert_deduplication_token"] = dedupToken
		settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
	}
	ctx = ch.Context(ctx, ch.WithSettings(settings))
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(names, ", ")+")")
	if err != nil {
		return fmt.Errorf("server: insert into %s: %w", table, err)
	}
	i := 0
	err = block.EachColumn(func(_ string, values any) error {
		err := batch.Column(i).Append(values)
		i++
		return err
	})
	if err != nil {
		batch.Abort()
		return fmt.Errorf("server: insert into %s: %w", table, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("server: insert %d rows into %s: %w", block.Rows(), table, err)
	}
	return nil
}

// QueryError is a query the server refused, in its words: its exception
// code and message.
type QueryError struct {
	Code    int
	Message string
}

func (e *QueryError) Error() string { return fmt.Sprintf("server: code %d: %s", e.Code, e.Message) }

// ExceptionCode is Code (clickhouse.ExceptionCode).
func (e *QueryError) ExceptionCode() int { return e.Code }

// QueryReadOnly runs an analyst's query on the server, in the database of
// the configuration, and returns its output in the given ClickHouse
// format. It goes through the server's HTTP interface, which writes any
// format, with readonly = 1 (the server then refuses writes, settings
// changes and table functions) and the query limits. A query the server
// refuses fails with a *QueryError.
func (s *Server) QueryReadOnly(ctx context.Context, query, format string) ([]byte, error) {
	l := s.limits
	return s.query(ctx, query, url.Values{
		"database":             {s.cfg.Database},
		"default_format":       {format},
		"readonly":             {"1"},
		"max_execution_time":   {strconv.Itoa(int(l.MaxExecutionTime / time.Second))},
		"max_result_bytes":     {strconv.FormatUint(l.MaxResultBytes, 10)},
		"result_overflow_mode": {"throw"},
		"max_memory_usage":     {strconv.FormatUint(l.MaxMemoryUsage, 10)},
	})
}

// Query runs a statement as the configured user and returns its output in
// the given format, through the HTTP interface as QueryReadOnly: the
// migrations read which versions are applied with it.
func (s *Server) Query(ctx context.Context, query, format string) ([]byte, error) {
	return s.query(ctx, query, url.Values{"default_format": {format}})
}

func (s *Server) query(ctx context.Context, query string, v url.Values) ([]byte, error) {
	l := s.limits
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.queryURL+"?"+v.Encode(), strings.NewReader(query))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	req.Header.Set("X-ClickHouse-User", s.cfg.Username)
	req.Header.Set("X-ClickHouse-Key", s.password)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", s.queryURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(l.MaxResultBytes)+1<<20))
	if err != nil {
		return nil, fmt.Errorf("server %s: read the answer: %w", s.queryURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		code, _ := strconv.Atoi(resp.Header.Get("X-ClickHouse-Exception-Code"))
		if code == 0 {
			return nil, fmt.Errorf("server %s: %s: %s", s.queryURL, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, &QueryError{Code: code, Message: strings.TrimSpace(string(body))}
	}
	return body, nil
}
