// Package server connects sluice to a ClickHouse server (or cluster) over
// the native protocol with clickhouse-go/v2. No command uses it yet: the
// configuration that chooses a server over the embedded engine is still
// to be written. It is the writer's Inserter
// for a server: the batch's columns, built once by storage/clickhouse (the
// same code that feeds the embedded engine), are appended column by column
// to a native-protocol batch, with the insert's deduplication token.
//
// No ClickHouse server runs on the machines sluice is developed on, so its
// tests run only when SLUICE_TEST_CLICKHOUSE names one (see README); the
// column building they rely on is tested against the embedded engine.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strings"

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

	conn driver.Conn // set by Start
}

// Dependencies are what the server connection is handed: nothing yet.
type Dependencies struct{}

// New checks the configuration, reads the password file and returns a
// server that is not connected yet: Start connects.
func New(r *reporter.Reporter, cfg Config, _ Dependencies) (*Server, error) {
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
	}
	return &Server{cfg: cfg, tls: tlsCfg, password: password, logger: r.Logger}, nil
}

// Start connects; it pings the server, so a wrong address or password
// shows at start. ctx bounds the ping.
func (s *Server) Start(ctx context.Context) error {
	cfg := s.cfg
	conn, err := ch.Open(&ch.Options{
		Addr:        cfg.Addrs,
		Auth:        ch.Auth{Database: cfg.Database, Username: cfg.Username, Password: s.password},
		TLS:         s.tls,
		DialTimeout: cfg.DialTimeout,
		Compression: &ch.Compression{Method: ch.CompressionLZ4},
		ClientInfo:  ch.ClientInfo{Products: []struct{ Name, Version string }{{Name: "sluice"}}},
	})
	if err != nil {
		return fmt.Errorf("server %v: %w", cfg.Addrs, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return fmt.Errorf("server %v: %w", cfg.Addrs, err)
	}
	s.conn = conn
	s.logger.Info("connected to ClickHouse server", "addrs", fmt.Sprint(cfg.Addrs))
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
