// Package embedded owns the process's embedded ClickHouse engine (chDB): the
// all-in-one deployment stores and queries flows with it, using the same DDL
// and SQL as a ClickHouse server.
//
// libchdb keeps a single session per process, so exactly one Engine may be
// open at a time, and this package is the only one that imports chDB. It
// loads libchdb (CHDB_LIB_PATH, which the Makefile sets) when the first
// engine starts, not when the binary starts (internal/chdbpurego): a
// pipeline writing to a ClickHouse server runs without libchdb.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chdb "sluice/storage/embedded/internal/chdbpurego"

	"sluice/internal/background"
	"sluice/internal/reporter"
	"sluice/storage/clickhouse"
)

// Directories under the data directory.
const (
	sessionDirName = "clickhouse" // chDB's databases
	spoolDirName   = "spool"      // Native files waiting to be inserted
)

// sessionMu guards sessionOpen: libchdb has one session per process, and
// opening a second connection would silently close the first.
var (
	sessionMu   sync.Mutex
	sessionOpen bool
)

// ErrClosed is returned by calls on an Engine not started, or stopped.
var ErrClosed = errors.New("embedded engine is closed")

// Engine is the embedded ClickHouse engine. chDB is not known to be safe for
// concurrent use, so every call into it is serialized by one mutex: a long
// query delays inserts. Methods check their context before they start, but a
// statement that has started runs to its end.
type Engine struct {
	logger     *slog.Logger
	sessionDir string
	spoolDir   string
	spoolSeq   atomic.Uint64

	mu   sync.Mutex // serializes chDB calls and guards conn
	conn chdb.ChdbConn
	// restoreDatabase, when set, is the session's current database, which
	// a read-only request changed for itself and could not restore: the
	// next statement that depends on it restores it first.
	restoreDatabase string

	// native is the Native encoding of the last insert, reused: a 50k-row
	// batch encodes to about 13 MB, which growing from nil every time
	// allocated and cleared about twice over.
	nativeMu sync.Mutex
	native   []byte

	limits atomic.Pointer[clickhouse.QueryLimits] // of QueryReadOnly
	// leftoverPending is set while a failed statement's rows may wait on
	// the connection (discardLeftover); guarded by mu.
	leftoverPending bool
	memory          Memory

	purge background.Work // hands freed memory back, every Memory.PurgeInterval
}

// Dependencies are what the engine is handed: nothing yet.
type Dependencies struct{}

// New checks cfg and returns an engine that is not open yet: Start opens
// its chDB session, Stop closes it. Its logger is that of r's package
// (storage/embedded).
func New(r *reporter.Reporter, cfg Config, _ Dependencies) (*Engine, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: data directory: %w", err)
	}
	e := &Engine{
		logger:     r.Logger,
		sessionDir: filepath.Join(dataDir, sessionDirName),
		spoolDir:   filepath.Join(dataDir, spoolDirName),
		memory:     cfg.Memory,
	}
	e.setQueryLimits(cfg.QueryLimits)
	return e, nil
}

// Open is New then Start, for short-lived commands and tests that use the
// engine without a deployment's lifecycle; the caller calls Stop.
func Open(ctx context.Context, r *reporter.Reporter, cfg Config) (*Engine, error) {
	e, err := New(r, cfg, Dependencies{})
	if err != nil {
		return nil, err
	}
	if err := e.Start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Start opens the engine's chDB session, with its databases under
// DataDir/clickhouse. Only one Engine may be open in a process. ctx is not
// used: opening the session cannot be interrupted.
func (e *Engine) Start(context.Context) error {
	for _, dir := range []string{e.sessionDir, e.spoolDir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("embedded: create %s: %w", dir, err)
		}
	}
	// A file left in the spool by a crash was never acknowledged: its batch
	// is still upstream (Kafka, or lost with the process's memory) and will
	// be written again, deduplicated by its token.
	if err := e.cleanSpool(); err != nil {
		return err
	}

	sessionMu.Lock()
	defer sessionMu.Unlock()
	if sessionOpen {
		return errors.New("embedded: an engine is already open in this process (libchdb allows one session)")
	}
	argv := append([]string{"clickhouse", "--path=" + e.sessionDir}, e.memory.args()...)
	conn, err := chdb.NewConnection(len(argv), argv)
	if err != nil {
		return fmt.Errorf("embedded: open chDB session in %s: %w", e.sessionDir, err)
	}
	// Read the budget back before the connection is published: no other
	// call can reach it yet, and no lock is taken under sessionMu.
	applied, err := readMemoryBudget(conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("embedded: read the memory budget back: %w", err)
	}
	e.mu.Lock()
	e.conn = conn
	e.mu.Unlock()
	sessionOpen = true
	e.startPurge()
	e.logger.Info("embedded engine open", "path", e.sessionDir, "memory_limit", applied.Limit,
		"mark_cache_size", applied.MarkCacheSize, "index_cache_size", applied.IndexCacheSize)
	if caches := applied.caches(); caches >= applied.Limit/2 {
		// Possible with memory-limit 0 on a small machine or cgroup: full
		// caches would leave the inserts and merges little.
		e.logger.Warn("the engine's caches may take half its memory limit or more; lower storage.embedded.mark-cache-size and index-cache-size, or raise memory-limit",
			"memory_limit", applied.Limit, "caches", caches)
	}
	return nil
}

// startPurge hands the allocator's freed pages back every PurgeInterval
// (see Memory.PurgeInterval), in turn with the other statements.
func (e *Engine) startPurge() {
	if e.memory.PurgeInterval <= 0 {
		return
	}
	e.purge.Start(func(ctx context.Context) error {
		t := time.NewTicker(e.memory.PurgeInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			if err := e.Exec(ctx, "SYSTEM JEMALLOC PURGE"); err != nil {
				if ctx.Err() == nil {
					e.logger.Warn("could not hand the engine's freed memory back; no longer trying (storage.embedded.purge-interval)", "err", err)
				}
				return nil
			}
		}
	})
}

func (e *Engine) cleanSpool() error {
	stale, err := filepath.Glob(filepath.Join(e.spoolDir, "*.native"))
	if err != nil {
		return fmt.Errorf("embedded: list spool: %w", err)
	}
	for _, path := range stale {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("embedded: clean spool: %w", err)
		}
		e.logger.Warn("removed unacknowledged spool file", "path", path)
	}
	return nil
}

// Stop ends the chDB session; a statement in progress ends first, since
// chDB cannot interrupt it, so ctx is not used. The engine cannot be used
// afterwards, but a new one can be started on the same data directory.
// Stopping again does nothing.
func (e *Engine) Stop(ctx context.Context) error {
	_ = e.purge.Stop(ctx) // its run reports nothing
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil
	}
	e.conn.Close()
	e.conn = nil
	sessionMu.Lock()
	sessionOpen = false
	sessionMu.Unlock()
	e.logger.Info("embedded engine closed", "path", e.sessionDir)
	return nil
}

// Exec runs a statement and discards its output.
func (e *Engine) Exec(ctx context.Context, sql string) error {
	_, err := e.query(ctx, sql, "TSV", false)
	return err
}

// Query runs a statement and returns its output in the given ClickHouse
// format (TSV, JSONEachRow, CSVWithNames, ...).
func (e *Engine) Query(ctx context.Context, sql, format string) ([]byte, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	return e.query(ctx, sql, format, true)
}

// query runs one statement under the engine's lock. The result buffer is
// owned by libchdb, so it is copied out before being freed.
func (e *Engine) query(ctx context.Context, sql, format string, keep bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), err)
	}
	if strings.IndexByte(sql, 0) >= 0 {
		// chDB takes C strings: everything after a NUL would be dropped.
		return nil, fmt.Errorf("embedded: %s: statement contains a NUL byte", abbreviate(sql))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queryLocked(ctx, sql, format, keep)
}

// queryLocked is query for a caller that holds e.mu: a sequence of
// statements that must not interleave with others (parameters set for
// one query) holds the lock across them.
func (e *Engine) queryLocked(ctx context.Context, sql, format string, keep bool) ([]byte, error) {
	if e.conn == nil {
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), ErrClosed)
	}
	// The lock may have been held by a long statement: check again.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), err)
	}
	if e.leftoverPending {
		e.discardLeftover()
	}
	res, err := e.conn.Query(sql, format)
	if err != nil {
		e.discardLeftover()
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), &engineError{err})
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		e.discardLeftover()
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), &engineError{err})
	}
	if !keep {
		return nil, nil
	}
	return append([]byte(nil), res.Buf()...), nil
}

// leftoverQuery's answer, alone, is leftoverAnswer.
const (
	leftoverQuery  = "SELECT 'end of a failed statement'"
	leftoverAnswer = "end of a failed statement\n"
)

// discardLeftover runs a statement of its own after one that failed, under
// the same lock. chDB (26.7) keeps the rows a statement wrote before it
// failed (stopped at max_execution_time or max_result_bytes, say) and puts
// them in front of the next statement's answer: an analyst's next query,
// or the statement QueryReadOnly would run next, would read another
// query's rows as its own. This statement takes them instead.
//
// Should that statement fail too, the rows may still be there: the next
// statement then runs it again first (leftoverPending).
func (e *Engine) discardLeftover() {
	e.leftoverPending = true
	res, err := e.conn.Query(leftoverQuery, "TSV")
	if err != nil || res == nil {
		e.logger.Warn("discarding a failed statement's rows failed; trying again before the next statement", "err", err)
		return
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		e.logger.Warn("discarding a failed statement's rows failed; trying again before the next statement", "err", err)
		return
	}
	e.leftoverPending = false
	if n := len(res.Buf()) - len(leftoverAnswer); n > 0 {
		e.logger.Debug("discarded the rows a failed statement left", "bytes", n)
	}
}

// engineError is an error the engine itself reported for a statement, in
// ClickHouse's words: "Code: 62. DB::Exception: Syntax error: ...
// (SYNTAX_ERROR)". QueryReadOnly tells it apart from sluice's own errors
// (a canceled context, a closed engine) by this type.
type engineError struct{ err error }

func (e *engineError) Error() string { return e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// Insert encodes a batch's columns as ClickHouse Native format and inserts
// it (InsertNative): the writer's Inserter for the embedded engine.
func (e *Engine) Insert(ctx context.Context, table, dedupToken string, block clickhouse.Block) error {
	e.nativeMu.Lock()
	defer e.nativeMu.Unlock()
	native, err := block.EncodeNative(e.native[:0])
	if err != nil {
		return fmt.Errorf("embedded: insert into %s: %w", table, err)
	}
	e.native = native
	return e.InsertNative(ctx, table, dedupToken, native)
}

// InsertNative inserts data, ClickHouse Native format, into table (such as
// sluice.flows). A non-empty dedupToken makes a replay of the same batch
// insert nothing, within the table's non_replicated_deduplication_window.
//
// chDB reads the data from a file: it is written to the spool directory and
// removed afterwards, whether the insert succeeded or not, since the caller
// keeps the batch to retry it.
func (e *Engine) InsertNative(ctx context.Context, table, dedupToken string, data []byte) error {
	quotedTable, err := quoteTableName(table)
	if err != nil {
		return fmt.Errorf("embedded: insert: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("embedded: insert into %s: %w", table, err)
	}
	path, err := e.spool(data)
	if err != nil {
		return fmt.Errorf("embedded: insert into %s: %w", table, err)
	}
	defer os.Remove(path)

	// chDB 26.7 accepts SETTINGS only between FROM INFILE and FORMAT.
	// async_insert is on by default in chDB; asynchronous inserts
	// deduplicate differently, and the caller already batches. The rollups'
	// views aggregate with GROUP BY already, so summing each inserted block
	// again in their SummingMergeTree (optimize_on_insert) is wasted work,
	// and the views run side by side (parallel_view_processing): measured
	// under load, the views take about two thirds of an insert's time.
	settings := "async_insert = 0, optimize_on_insert = 0, parallel_view_processing = 1"
	if dedupToken != "" {
		// The rollups' materialized views receive a replayed block even
		// when the raw table drops it as a duplicate, unless they
		// deduplicate too (their tables keep a deduplication window).
		settings = "insert_deduplication_token = " + clickhouse.QuoteString(dedupToken) +
			", deduplicate_blocks_in_dependent_materialized_views = 1, " + settings
	}
	sql := "INSERT INTO " + quotedTable + " FROM INFILE " + clickhouse.QuoteString(path) +
		" SETTINGS " + settings + " FORMAT Native"
	if err := e.Exec(ctx, sql); err != nil {
		return fmt.Errorf("embedded: insert %d bytes into %s: %w", len(data), table, err)
	}
	return nil
}

// spool writes an insert's data to a file of the spool directory, which
// chDB reads with FROM INFILE; the caller removes it.
func (e *Engine) spool(data []byte) (string, error) {
	path := filepath.Join(e.spoolDir, fmt.Sprintf("insert-%d-%d.native", os.Getpid(), e.spoolSeq.Add(1)))
	if err := os.WriteFile(path, data, 0o640); err != nil {
		return "", fmt.Errorf("spool: %w", err)
	}
	return path, nil
}

// Run runs any statement, for an administrator (ClickHouse's HTTP
// interface's writer user): the engine's own errors fail with a
// *QueryError, as QueryReadOnly's do. SET and USE are refused, and so is
// more than one statement: they would change the one session that
// ingestion shares (SET readonly = 1 would stop every insert).
func (e *Engine) Run(ctx context.Context, sql, format string) ([]byte, error) {
	if err := checkFormat(format); err != nil {
		return nil, &QueryError{Message: err.Error(), stage: "format", statement: sql, err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded: %s: %w", abbreviate(sql), err)
	}
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, fmt.Errorf("embedded: %s: statement contains a NUL byte", abbreviate(sql))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	normalized, err := e.queryLocked(ctx, "SELECT formatQuerySingleLine("+clickhouse.QuoteString(sql)+")", "RawBLOB", true)
	if err != nil {
		return nil, queryFailed("parse", sql, err)
	}
	stmt := strings.TrimSpace(string(normalized))
	if kind, _, _ := strings.Cut(stmt, " "); kind == "SET" || kind == "USE" {
		msg := fmt.Sprintf("Code: 48. DB::Exception: %s statements are not supported: they would change the session that ingestion shares; send settings as URL parameters and qualify names. (NOT_IMPLEMENTED)", kind)
		return nil, &QueryError{Message: msg, Code: 48, stage: "check", statement: sql, err: errors.New(msg)}
	}
	if err := e.restoreDatabaseLocked(ctx); err != nil {
		return nil, err
	}
	out, err := e.queryLocked(ctx, sql, format, true)
	if err != nil {
		return nil, queryFailed("run", sql, err)
	}
	return out, nil
}

// RunInsert inserts data in the given format into target, a table name
// optionally followed by its column list, for an administrator: the
// INSERT … FORMAT statement whose data comes in an HTTP request's body.
// settings are the insert's own (insert_deduplication_token, …), which
// the caller has judged; as InsertNative's, a deduplication token
// deduplicates the dependent materialized views too.
func (e *Engine) RunInsert(ctx context.Context, target, format string, data []byte, settings map[string]string) error {
	if err := checkFormat(format); err != nil {
		return &QueryError{Message: err.Error(), stage: "format", statement: target, err: err}
	}
	all := map[string]string{"async_insert": "0"}
	if settings["insert_deduplication_token"] != "" {
		all["deduplicate_blocks_in_dependent_materialized_views"] = "1"
	}
	for k, v := range settings {
		all[k] = v
	}
	clause, err := settingsClause(all)
	if err != nil {
		return &QueryError{Message: err.Error(), stage: "check", statement: target, err: err}
	}
	path, err := e.spool(data)
	if err != nil {
		return fmt.Errorf("embedded: insert into %s: %w", target, err)
	}
	defer os.Remove(path)
	sql := "INSERT INTO " + target + " FROM INFILE " + clickhouse.QuoteString(path) +
		" SETTINGS " + strings.TrimSuffix(clause, ", ") + " FORMAT " + format
	if _, err := e.query(ctx, sql, "TSV", false); err != nil {
		return queryFailed("run", sql, err)
	}
	return nil
}

// quoteTableName quotes a table name, optionally qualified by its database.
func quoteTableName(table string) (string, error) {
	parts := strings.Split(table, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("table name %q: want table or database.table", table)
	}
	for i, p := range parts {
		if p == "" {
			return "", fmt.Errorf("table name %q: empty part", table)
		}
		parts[i] = clickhouse.QuoteIdentifier(p)
	}
	return strings.Join(parts, "."), nil
}

// checkFormat accepts ClickHouse format names, which are plain identifiers;
// anything else would end up in the statement.
func checkFormat(format string) error {
	if format == "" {
		return errors.New("embedded: empty output format")
	}
	for _, c := range format {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("embedded: invalid output format %q", format)
		}
	}
	return nil
}

// abbreviate shortens a statement for error messages: INSERT ... VALUES can
// be long.
func abbreviate(sql string) string {
	const limit = 160
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > limit {
		return sql[:limit] + "…"
	}
	return sql
}
