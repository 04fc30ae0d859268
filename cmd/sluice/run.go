package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"sluice/collector"
	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/enrich"
	"sluice/pipeline/queue"
	"sluice/pipeline/siem"
	"sluice/storage"
	"sluice/storage/detect"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
	"sluice/storage/server"
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
// A leftover argument is an error: `sluice collect --config a.yaml collect
// --config b.yaml` (an image's entrypoint followed by a pod's args) would
// otherwise run silently with a.yaml.
func (c *commonFlags) load(apply func(*Config)) (Config, error) {
	cfg := DefaultConfig()
	if c.fs.NArg() > 0 {
		return cfg, fmt.Errorf("%s: unexpected argument %q (every option is a flag; see sluice %s -h)", c.fs.Name(), c.fs.Arg(0), c.fs.Name())
	}
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

// overflowDirName is the queue's overflow directory under the data
// directory.
const overflowDirName = "queue-overflow"

// cmdRun is the all-in-one deployment: collector → in-process queue →
// pipeline → embedded ClickHouse, plus the HTTP endpoints.
func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	cf := newCommonFlags("run")
	cf.fs.SetOutput(stderr)
	httpListen := cf.fs.String("http", "", "HTTP address for /metrics, /healthz, /readyz and SQL (key http.listen, default 127.0.0.1:8080)")
	colFlags := addCollectorFlags(cf.fs)
	chListen := addClickHouseListenFlag(cf.fs)
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *Config) {
		if *httpListen != "" {
			c.HTTP.Listen = *httpListen
		}
		chListen.apply(c)
		colFlags.apply(c)
	})
	if err != nil {
		return err
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	r.Info("starting sluice", "version", version(), "data", cfg.Data)

	// Construction, in dependency order; nothing runs yet.
	store, err := newEmbeddedStore(r, cfg)
	if err != nil {
		return err
	}
	q, err := queue.New(r, cfg.Queue, queue.Dependencies{OverflowDir: filepath.Join(cfg.Data, overflowDirName)})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	enricher, err := newEnricher(r, cfg)
	if err != nil {
		return err
	}
	siemSinks, err := newSIEMSinks(r, cfg)
	if err != nil {
		return err
	}
	pipe, err := pipeline.New(r, cfg.Pipeline, pipeline.Dependencies{
		Source: q.Batches(), Sinks: withSIEMSinks(store.writer, siemSinks), Stage: enricher})
	if err != nil {
		stopSIEMSinks(siemSinks)
		return fmt.Errorf("pipeline: %w", err)
	}
	counters, err := pipeline.NewCounters(r, pipeline.CountersConfig{FlushInterval: cfg.Pipeline.FlushInterval},
		pipeline.CountersDependencies{Sink: store.writer})
	if err != nil {
		stopSIEMSinks(siemSinks)
		return fmt.Errorf("counters: %w", err)
	}
	coll, err := newCollector(r, cfg, q, counters)
	if err != nil {
		stopSIEMSinks(siemSinks)
		return err
	}
	detections, err := newDetections(r, cfg, store.detectStore(), siemSinks, q.Backlog)
	if err != nil {
		return err
	}
	applyGoMemoryLimit(r, cfg.GoMemoryLimit, func() int64 { return goMemoryBudget(cfg, liveHeap()) })

	// Started in this order, stopped in reverse: the collector stops first
	// and flushes what its workers hold into the queue, the queue closes,
	// the pipeline stores what it has, the counter samples (none comes
	// after the collector) are stored, and storage closes last.
	var d component.List
	store.addTo(&d)
	httpSrv := newHTTPServer(r, cfg.HTTP.Listen, d.Ready, store.engine)
	d.Add("http", httpSrv)
	d.Add("counters", counters)
	d.Add("enrich", enricher)
	addSIEMSinks(&d, siemSinks)
	d.Add("pipeline", pipe)
	d.Add("queue", q)
	d.Add("collector", coll)
	if detections != nil {
		d.Add("detect", detections)
	}
	d.Add("status", statusLine(r, cfg.Status, runStatus))
	return serve(ctx, r, &d, func() {
		r.Info("sluice is running", "http", httpSrv.Addr(), "clickhouse_http", store.clickhouseAddr(), "inputs", fmt.Sprint(coll.Addrs()),
			"sql", "sluice sql --addr http://"+httpSrv.Addr()+" \"SELECT count() FROM flows\"")
	}, "draining the collector and storing what it holds")
}

// newEnricher builds the enrichment stage of `run` and `pipeline`; its
// state (the SNMP cache, threat feeds) lives in the data directory.
func newEnricher(r *reporter.Reporter, cfg Config) (*enrich.Enricher, error) {
	return enrich.New(r, cfg.Enrich, enrich.Dependencies{StateDir: filepath.Join(cfg.Data, "enrich")}) // errors name "enrich"
}

// newDetections builds the detection scheduler over a store, or nil when
// detect.enabled is off. Its state (watermark, ongoing events, alerts not
// yet delivered) lives in the data directory. Its alerts go to the alerts
// table and to every SIEM sink (a sink whose kinds leave out alerts takes
// none). backlog is ingestion's in-process backlog, which the detections'
// queries wait out (nil: none in this process).
func newDetections(r *reporter.Reporter, cfg Config, store detect.Store, siemSinks []*siem.Sink, backlog func() float64) (*detect.Scheduler, error) {
	if !cfg.Detect.Enabled {
		return nil, nil
	}
	sinks := make([]detect.AlertSink, 0, len(siemSinks))
	for _, s := range siemSinks {
		sinks = append(sinks, s)
	}
	return detect.New(r, cfg.Detect, detect.Dependencies{Store: store, StateDir: filepath.Join(cfg.Data, "detect"), Sinks: sinks,
		Backlog: backlog}) // errors name "detect"
}

// newCollector builds the collector of `run` and `collect`; its templates
// are saved in the data directory and survive a restart.
func newCollector(r *reporter.Reporter, cfg Config, out collector.Output, counters collector.CounterOutput) (*collector.Collector, error) {
	cfg.Collector.StateDir = filepath.Join(cfg.Data, "collector")
	coll, err := collector.New(r, cfg.Collector, collector.Dependencies{Output: out, Counters: counters})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	return coll, nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf := newCommonFlags("migrate")
	cf.fs.SetOutput(stderr)
	printUsers := cf.fs.Bool("print-users", false, "print the DDL of a ClickHouse server's least-privilege users (passwords from SLUICE_WRITER_PASSWORD and SLUICE_ANALYST_PASSWORD) and exit")
	check := cf.fs.Bool("check", false, "change nothing: list the differences between the database and the desired schema, and exit non-zero if there are any")
	allowDestructive := cf.fs.Bool("allow-destructive", false, "also repair drift by rewriting or dropping data: change a column's type back, drop columns no schema version defines")
	backend := addBackendFlag(cf.fs)
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(backend.apply)
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
	var db interface {
		Exec(ctx context.Context, sql string) error
		Query(ctx context.Context, sql, format string) ([]byte, error)
	}
	if cfg.Storage.Backend == storage.BackendServer {
		srv, err := server.New(r, cfg.Storage.Server, server.Dependencies{QueryLimits: cfg.Storage.SQL})
		if err != nil {
			return fmt.Errorf("storage.server.%w", err)
		}
		if err := srv.Start(ctx); err != nil {
			return fmt.Errorf("storage.server: %w", err)
		}
		defer srv.Stop(context.WithoutCancel(ctx))
		db = srv
	} else {
		engine, err := embedded.Open(ctx, r, embedded.Config{DataDir: cfg.Data, QueryLimits: cfg.Storage.SQL, Memory: cfg.Storage.Embedded})
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		defer engine.Stop(context.WithoutCancel(ctx))
		db = engine
	}
	migrator, err := newMigrator(cfg, r, db.Query)
	if err != nil {
		return fmt.Errorf("storage.schema: %w", err)
	}
	var drift []migrate.Drift
	if *check {
		if drift, err = migrator.Check(ctx); err != nil {
			return err
		}
	} else {
		if err := migrator.WithAllowDestructive(*allowDestructive).Migrate(ctx, db.Exec); err != nil {
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

// newMigrator builds the schema migrator, able to read which versions are
// applied with query (the embedded engine's or the server's Query).
func newMigrator(cfg Config, r *reporter.Reporter, query func(ctx context.Context, sql, format string) ([]byte, error)) (*migrate.Migrator, error) {
	m, err := migrate.New(r, cfg.Storage.Schema)
	if err != nil {
		return nil, err
	}
	return m.WithQuery(func(ctx context.Context, sql string) (string, error) {
		out, err := query(ctx, sql, "TSV")
		return string(out), err
	}), nil
}
