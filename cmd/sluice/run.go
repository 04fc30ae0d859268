package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/collector"
	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/queue"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/writer"
)

// shutdownTimeout bounds how long a stopping sluice keeps trying to store
// what it holds when storage does not answer.
const shutdownTimeout = 2 * time.Minute

// commonFlags are the flags every long-running command shares; each
// overrides its configuration key.
type commonFlags struct {
	fs       *flag.FlagSet
	config   *string
	data     *string
	logLevel *string
}

func newCommonFlags(name string) *commonFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &commonFlags{
		fs:       fs,
		config:   fs.String("config", "", "YAML configuration file (every key is optional)"),
		data:     fs.String("data", "", "state directory: embedded database, spool (key data, default ./data)"),
		logLevel: fs.String("log-level", "", "debug, info, warn or error (key log.level)"),
	}
}

// load reads the configuration file, then applies the flags that were set.
func (c *commonFlags) load(apply func(*Config)) (Config, error) {
	cfg := DefaultConfig()
	if *c.config != "" {
		var err error
		if cfg, err = LoadConfig(*c.config); err != nil {
			return cfg, err
		}
	}
	if *c.data != "" {
		cfg.Data = *c.data
	}
	if *c.logLevel != "" {
		cfg.Log.Level = *c.logLevel
	}
	if apply != nil {
		apply(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// cmdRun is the all-in-one deployment: collector → in-process queue →
// pipeline → embedded ClickHouse, plus the HTTP endpoints.
func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	cf := newCommonFlags("run")
	cf.fs.SetOutput(stderr)
	httpListen := cf.fs.String("http", "", "HTTP address for /metrics, /healthz, /readyz and SQL (key http.listen, default 127.0.0.1:8080)")
	netflowListen := cf.fs.String("netflow-listen", "", "comma-separated NetFlow/IPFIX UDP addresses (key collector.netflow.listen, default :2055,:4739)")
	sflowListen := cf.fs.String("sflow-listen", "", "comma-separated sFlow UDP addresses (key collector.sflow.listen, default :6343)")
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *Config) {
		if *httpListen != "" {
			c.HTTP.Listen = *httpListen
		}
		if *netflowListen != "" {
			c.Collector.NetFlow.Listen = splitList(*netflowListen)
		}
		if *sflowListen != "" {
			c.Collector.SFlow.Listen = splitList(*sflowListen)
		}
	})
	if err != nil {
		return err
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	r.Info("starting sluice", "version", version(), "data", cfg.Data)

	// Construction, in dependency order; each error names its component.
	engine, store, err := openStore(ctx, cfg, r)
	if err != nil {
		return err
	}
	defer engine.Close()
	q, err := queue.New(r, cfg.Queue, queue.Dependencies{})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	enricher, stopEnricher, err := startEnricher(cfg, r)
	if err != nil {
		return err
	}
	defer stopEnricher()
	pipe, err := pipeline.New(r, cfg.Pipeline, pipeline.Dependencies{Source: q.Batches(), Sinks: []pipeline.Sink{store}, Stage: enricher})
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	cfg.Collector.StateDir = filepath.Join(cfg.Data, "collector") // templates survive a restart
	coll, err := collector.New(r.Sub("collector"), cfg.Collector, q)
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	stopCounters, err := startCounters(r.Sub("pipeline"), coll, store, cfg.Pipeline.FlushInterval, writeCtx)
	if err != nil {
		return err
	}
	// Stopped once: within the shutdown deadline below, or on any earlier
	// return. After the deadline writeCtx is cancelled and what the
	// counters hold would be dropped.
	stopCountersOnce := sync.OnceFunc(func() {
		if err := stopCounters(); err != nil {
			r.Error("counter samples not stored", "err", err)
		}
	})
	defer stopCountersOnce()
	var pipelineErr atomic.Pointer[error] // set once the pipeline has died
	ready := func() error {
		if !coll.Ready() {
			return errors.New("collector listeners not bound")
		}
		if p := pipelineErr.Load(); p != nil {
			return *p
		}
		return store.Err() // nil unless inserts are failing right now
	}
	httpSrv, err := newHTTPServer(r.Sub("http"), cfg.HTTP.Listen, ready, engine)
	if err != nil {
		return err
	}

	// Start: the pipeline first, so the collector always has somewhere to
	// put records; stop in reverse.
	if err := pipe.Start(ctx); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	stopHTTP := httpSrv.Start()
	defer stopHTTP()
	if err := coll.Start(ctx); err != nil {
		_ = q.Stop(ctx)
		_ = pipe.Stop(context.Background())
		return fmt.Errorf("collector: %w", err)
	}
	r.Info("sluice is running", "http", httpSrv.Addr(), "inputs", fmt.Sprint(coll.Addrs()),
		"sql", "sluice sql --addr http://"+httpSrv.Addr()+" \"SELECT count() FROM flows\"")

	status := startStatus(ctx, r, cfg.Status, runStatus)
	defer status()
	select {
	case <-ctx.Done():
	case err := <-pipe.Failed():
		// The pipeline ends on its own only when storage failed for good:
		// nothing consumes the queue any more, so what the collector holds
		// is dropped (and counted) at once.
		err = fmt.Errorf("pipeline: %w", err)
		pipelineErr.Store(&err)
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		coll.Stop(expired)
		_ = q.Stop(expired)
		return err
	}

	// Shutdown within one deadline: stop intake, decode what is queued,
	// store what is held; past the deadline, drop and count what is left.
	r.Info("stopping: draining the collector and storing what it holds", "deadline", shutdownTimeout)
	deadline, cancelDeadline := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelDeadline()
	go func() {
		<-deadline.Done()
		cancelWrites() // gives up on the counters' storage too
	}()
	coll.Stop(deadline) // flushes the workers' partial batches into the queue
	_ = q.Stop(deadline)
	pipeErr := pipe.Stop(deadline)
	stopCountersOnce() // the collector has stopped: no sample comes after this
	if err := pipeErr; err != nil {
		return fmt.Errorf("stopping: pipeline (%s deadline): %w", shutdownTimeout, err)
	}
	r.Info("stopped cleanly")
	return nil
}

// openStore opens the embedded engine in the data directory, migrates the
// schema and puts the writer in front of it. The caller closes the engine.
func openStore(ctx context.Context, cfg Config, r *reporter.Reporter) (*embedded.Engine, *writer.Writer, error) {
	engine, err := embedded.Open(cfg.Data, r.Sub("storage/embedded").Logger)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: %w", err)
	}
	engine.SetQueryLimits(cfg.Storage.SQL)
	migrator, err := newMigrator(cfg, r, engine)
	if err != nil {
		engine.Close()
		return nil, nil, fmt.Errorf("storage.schema: %w", err)
	}
	if err := migrator.Migrate(ctx, engine.Exec); err != nil {
		engine.Close()
		return nil, nil, fmt.Errorf("storage: %w", err)
	}
	// Analysts write FROM flows, not FROM sluice.flows.
	if err := engine.Exec(ctx, "USE "+migrate.Database); err != nil {
		engine.Close()
		return nil, nil, fmt.Errorf("storage: %w", err)
	}
	wr := r.Sub("storage/writer")
	store, err := writer.New(cfg.Storage.Writer, writer.Dependencies{Inserter: engine, Logger: wr.Logger, Metrics: wr.Registerer()})
	if err != nil {
		engine.Close()
		return nil, nil, fmt.Errorf("storage.writer: %w", err)
	}
	return engine, store, nil
}

// cmdMigrate creates or upgrades the schema in the embedded engine, then
// compares it with the desired schema: safe drift is repaired, the rest
// is listed and makes the command fail. --check only compares.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf := newCommonFlags("migrate")
	cf.fs.SetOutput(stderr)
	printUsers := cf.fs.Bool("print-users", false, "print the DDL of a ClickHouse server's least-privilege users (passwords from SLUICE_WRITER_PASSWORD and SLUICE_ANALYST_PASSWORD) and exit")
	check := cf.fs.Bool("check", false, "change nothing: list the differences between the database and the desired schema, and exit non-zero if there are any")
	allowDestructive := cf.fs.Bool("allow-destructive", false, "also repair drift by rewriting or dropping data: change a column's type back, drop columns no schema version defines")
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(nil)
	if err != nil {
		return err
	}
	if *printUsers {
		return printUsersScript(cfg, stdoutOf(stderr))
	}
	if *check && *allowDestructive {
		return fmt.Errorf("--check changes nothing: it cannot take --allow-destructive")
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	engine, err := embedded.Open(cfg.Data, r.Sub("storage/embedded").Logger)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer engine.Close()
	migrator, err := newMigrator(cfg, r, engine)
	if err != nil {
		return fmt.Errorf("storage.schema: %w", err)
	}
	var drift []migrate.Drift
	if *check {
		if drift, err = migrator.Check(ctx); err != nil {
			return err
		}
	} else {
		if err := migrator.WithAllowDestructive(*allowDestructive).Migrate(ctx, engine.Exec); err != nil {
			return err
		}
		drift = migrator.Drift()
	}
	for _, d := range drift {
		fmt.Fprintln(stdout, d)
	}
	if len(drift) > 0 {
		return fmt.Errorf("the schema differs from the desired one in %d ways (listed above)", len(drift))
	}
	return nil
}

// newMigrator builds the schema migrator for the embedded engine, able to
// read which versions are applied.
func newMigrator(cfg Config, r *reporter.Reporter, engine *embedded.Engine) (*migrate.Migrator, error) {
	m, err := migrate.New(cfg.Storage.Schema, r.Sub("storage/migrate").Logger)
	if err != nil {
		return nil, err
	}
	return m.WithQuery(func(ctx context.Context, sql string) (string, error) {
		out, err := engine.Query(ctx, sql, "TSV")
		return string(out), err
	}), nil
}
