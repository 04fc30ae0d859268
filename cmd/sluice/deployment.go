package main

import (
	"context"
	"flag"
	"fmt"

	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/storage"
	"sluice/storage/chhttp"
	"sluice/storage/detect"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/server"
	"sluice/storage/writer"
)

// serve runs a deployment, the one start and stop path of `run`, `collect`
// and `pipeline`: it starts the components in list order, reports running,
// and waits for the stop signal (ctx) or for a component to fail. It then
// stops them in reverse within shutdownTimeout: each hands on what it holds
// while the deadline allows, and counts what it drops once it has passed.
// After a failure nothing is waited for. A component that fails to start
// stops those started before it at once, and serve returns its error.
func serve(ctx context.Context, r *reporter.Reporter, d *component.List, running func(), stopping string) error {
	if err := d.Start(ctx); err != nil {
		return err
	}
	running()
	select {
	case <-ctx.Done():
	case err := <-d.Failed():
		// Nothing downstream takes what the others hold: they drop it at
		// once (counted). The failed component's Stop returns its failure
		// again, named, with whatever else the stop found.
		r.Error("stopping: a component failed", "err", err)
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		if stopErr := d.Stop(expired); stopErr != nil {
			return stopErr
		}
		return err
	}
	r.Info("stopping: "+stopping, "deadline", shutdownTimeout)
	deadline, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := d.Stop(deadline); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	r.Info("stopped cleanly")
	return nil
}

// embeddedStore is the storage tier of `run` and `pipeline`: the embedded
// engine in the data directory, its schema, and the writer in front of it.
type embeddedStore struct {
	engine   *embedded.Engine
	migrator *migrate.Migrator
	writer   *writer.Writer
	// clickhouse is ClickHouse's HTTP interface over the engine; nil when
	// off.
	clickhouse *chhttp.Server
}

func newEmbeddedStore(r *reporter.Reporter, cfg Config) (*embeddedStore, error) {
	engine, err := embedded.New(r, embedded.Config{DataDir: cfg.Data, QueryLimits: cfg.Storage.SQL, Memory: cfg.Storage.Embedded}, embedded.Dependencies{})
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	migrator, err := newMigrator(cfg, r, engine.Query)
	if err != nil {
		return nil, fmt.Errorf("storage.schema: %w", err)
	}
	w, err := writer.New(r, cfg.Storage.Writer, writer.Dependencies{Inserter: engine})
	if err != nil {
		return nil, fmt.Errorf("storage.writer: %w", err)
	}
	ch, err := newClickHouseHTTP(r, cfg, engine)
	if err != nil {
		return nil, err
	}
	return &embeddedStore{engine: engine, migrator: migrator, writer: w, clickhouse: ch}, nil
}

// addTo appends the store to a deployment: the engine opens, the schema is
// migrated, then the writer takes inserts.
func (s *embeddedStore) addTo(d *component.List) {
	d.Add("storage", s.engine)
	d.Add("storage.schema", component.Funcs{StartFunc: func(ctx context.Context) error {
		if err := s.migrator.Migrate(ctx, s.engine.Exec); err != nil {
			return err
		}
		// Analysts write FROM flows, not FROM sluice.flows.
		return s.engine.Exec(ctx, "USE "+migrate.Database)
	}})
	d.Add("storage.writer", s.writer)
	if s.clickhouse != nil {
		// After the writer: it stops first, so no query holds the engine
		// while the writer drains.
		d.Add("clickhouse-http", s.clickhouse)
	}
}

// clickhouseAddr is the ClickHouse HTTP interface's bound address, or
// "off"; once started.
func (s *embeddedStore) clickhouseAddr() string {
	if s.clickhouse == nil {
		return "off"
	}
	return s.clickhouse.Addr()
}

// newClickHouseHTTP builds the ClickHouse HTTP interface over the engine,
// or nil when its listen address is empty.
func newClickHouseHTTP(r *reporter.Reporter, cfg Config, engine *embedded.Engine) (*chhttp.Server, error) {
	if cfg.ClickHouseHTTP.Listen == "" {
		return nil, nil
	}
	c, err := withClickHouseHTTPSecrets(cfg.ClickHouseHTTP)
	if err != nil {
		return nil, fmt.Errorf("clickhouse-http: %w", err)
	}
	s, err := chhttp.New(r, c, chhttp.Dependencies{Engine: engine})
	if err != nil {
		return nil, fmt.Errorf("clickhouse-http.%w", err)
	}
	return s, nil
}

// clickhouseListenFlag is --clickhouse-listen of run and pipeline.
type clickhouseListenFlag struct{ v *string }

func addClickHouseListenFlag(fs *flag.FlagSet) clickhouseListenFlag {
	return clickhouseListenFlag{fs.String("clickhouse-listen", "",
		`ClickHouse HTTP interface address, "off" for none (key clickhouse-http.listen, default 127.0.0.1:8123)`)}
}

func (f clickhouseListenFlag) apply(c *Config) {
	switch *f.v {
	case "":
	case "off":
		c.ClickHouseHTTP.Listen = ""
	default:
		c.ClickHouseHTTP.Listen = *f.v
	}
}

// pipelineStore is where `sluice pipeline` stores and reads: the embedded
// engine (embeddedStore) or a ClickHouse server (serverStore).
type pipelineStore interface {
	addTo(d *component.List)
	sink() *writer.Writer
	sqlRunner() SQLRunner
	clickhouseAddr() string
	// detectStore is where the detections query and store alerts.
	detectStore() detect.Store
}

func (s *embeddedStore) sink() *writer.Writer      { return s.writer }
func (s *embeddedStore) sqlRunner() SQLRunner      { return s.engine }
func (s *embeddedStore) detectStore() detect.Store { return s.engine }

// newPipelineStore builds the store of storage.backend.
func newPipelineStore(r *reporter.Reporter, cfg Config) (pipelineStore, error) {
	if cfg.Storage.Backend == storage.BackendServer {
		return newServerStore(r, cfg)
	}
	return newEmbeddedStore(r, cfg)
}

// serverStore is the storage tier of `pipeline` with storage.backend
// server: the connection to a ClickHouse server or cluster, its schema, and
// the writer in front of it. It opens no embedded engine, so it needs no
// libchdb, and serves no ClickHouse HTTP interface: clients connect to the
// server itself.
type serverStore struct {
	server   *server.Server
	migrator *migrate.Migrator
	writer   *writer.Writer
}

func newServerStore(r *reporter.Reporter, cfg Config) (*serverStore, error) {
	srv, err := server.New(r, cfg.Storage.Server, server.Dependencies{QueryLimits: cfg.Storage.SQL})
	if err != nil {
		return nil, fmt.Errorf("storage.server.%w", err)
	}
	m, err := newMigrator(cfg, r, srv.Query)
	if err != nil {
		return nil, fmt.Errorf("storage.schema: %w", err)
	}
	w, err := writer.New(r, cfg.Storage.Writer, writer.Dependencies{Inserter: srv})
	if err != nil {
		return nil, fmt.Errorf("storage.writer: %w", err)
	}
	return &serverStore{server: srv, migrator: m, writer: w}, nil
}

// addTo appends the store to a deployment: the connection is made, the
// schema migrated, then the writer takes inserts.
func (s *serverStore) addTo(d *component.List) {
	d.Add("storage", s.server)
	d.Add("storage.schema", component.Funcs{StartFunc: func(ctx context.Context) error {
		return s.migrator.Migrate(ctx, s.server.Exec)
	}})
	d.Add("storage.writer", s.writer)
}

func (s *serverStore) sink() *writer.Writer      { return s.writer }
func (s *serverStore) sqlRunner() SQLRunner      { return s.server }
func (s *serverStore) clickhouseAddr() string    { return "off" }
func (s *serverStore) detectStore() detect.Store { return s.server }

// backendFlag is --backend of pipeline and migrate.
type backendFlag struct{ v *string }

func addBackendFlag(fs *flag.FlagSet) backendFlag {
	return backendFlag{fs.String("backend", "",
		"where records are stored and read: embedded or server (key storage.backend, default embedded; the server is storage.server)")}
}

func (f backendFlag) apply(c *Config) {
	if *f.v != "" {
		c.Storage.Backend = *f.v
	}
}
