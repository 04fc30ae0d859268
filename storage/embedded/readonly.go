package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"sluice/storage/clickhouse"
)

// ErrNotReadOnly is returned (wrapped, with the reason) by QueryReadOnly for
// a statement it refuses to run.
var ErrNotReadOnly = errors.New("not a read-only query")

// readOnlyKinds are the top nodes of EXPLAIN AST that QueryReadOnly accepts:
// SELECT (with WITH, UNION, INTERSECT, EXCEPT), SHOW TABLES/DATABASES/
// COLUMNS, DESCRIBE, SHOW CREATE, EXISTS and EXPLAIN.
var readOnlyKinds = map[string]bool{
	"SelectWithUnionQuery": true,
	"ShowTables":           true,
	"DescribeQuery":        true,
	"ShowCreateTableQuery": true,
	"ExistsTableQuery":     true,
	"Explain":              true,
}

// QueryReadOnly runs a query for the HTTP SQL endpoint: anything that could
// write, change settings or reach outside the database is refused with
// ErrNotReadOnly. The session stays writable, since `SET readonly` cannot be
// undone in a session; instead the engine's own parser judges the query:
//
//  1. formatQuerySingleLine parses it: chDB would otherwise run every
//     statement of "SELECT 1; DROP TABLE x", and the parser refuses more
//     than one. Only its normalized output is used from here on.
//  2. EXPLAIN AST shows its syntax tree, which must be a read kind with no
//     SETTINGS clause anywhere (a subquery's SETTINGS readonly = 0 would
//     override the outer one), no INTO OUTFILE (written even by EXPLAIN
//     under readonly) and no file() function (it reads local files even
//     under readonly).
//  3. It runs with SETTINGS readonly = 1, which refuses table functions
//     (file, url, remote, executable, ...) and writes, and with the query
//     limits (QueryLimits): one engine serves inserts and queries in turn,
//     so an unbounded query would stall ingestion.
//
// A query that is refused, by these rules or by the engine, fails with a
// *QueryError, whose Message is what to show the person who wrote it.
func (e *Engine) QueryReadOnly(ctx context.Context, query, format string) ([]byte, error) {
	res, err := e.QueryReadOnlyRequest(ctx, ReadOnlyRequest{Query: query, Format: format})
	return res.Data, err
}

// ReadOnlyRequest is a read-only query with what ClickHouse's HTTP
// interface sends beside it.
type ReadOnlyRequest struct {
	Query string
	// Format is the output format, unless the query has a FORMAT clause.
	Format string
	// Database, when set, is the current database for this query only.
	Database string
	// Params are the values of the query's {name:Type} parameters, in
	// ClickHouse's text form. The engine binds them (SET param_name), so
	// a value is never part of the statement's text.
	Params map[string]string
	// Settings are applied to this query, before the read-only ones, which
	// therefore win. The caller decides which are harmless.
	Settings map[string]string
	// AllowFormat, when set, judges the output format (Format, or the
	// query's FORMAT clause): formats such as Template or Protobuf read
	// schema files, which an HTTP client may name.
	AllowFormat func(format string) error
}

// ReadOnlyResult is a read-only query's output and its format.
type ReadOnlyResult struct {
	Data []byte
	// Format is the one the output is in: the query's FORMAT clause, or
	// the request's.
	Format string
}

// formatClause is the FORMAT clause that ends a normalized statement.
var formatClause = regexp.MustCompile(` FORMAT (\w+)$`)

// QueryReadOnlyRequest is QueryReadOnly with a request's parameters,
// database and settings. The engine's lock is held from the first step to
// the last, so that the parameters and database of one request never
// reach another statement; they are reset afterwards.
func (e *Engine) QueryReadOnlyRequest(ctx context.Context, req ReadOnlyRequest) (ReadOnlyResult, error) {
	query, format := req.Query, req.Format
	if err := checkFormat(format); err != nil {
		return ReadOnlyResult{}, &QueryError{Message: err.Error(), stage: "format", statement: query, err: err}
	}
	query = strings.TrimSpace(query)
	for strings.HasSuffix(query, ";") {
		query = strings.TrimSpace(strings.TrimSuffix(query, ";"))
	}
	if query == "" {
		return ReadOnlyResult{}, refused("check", query, fmt.Errorf("%w: empty query", ErrNotReadOnly))
	}
	if strings.IndexByte(query, 0) >= 0 {
		return ReadOnlyResult{}, refused("check", query, errors.New("the query contains a NUL byte"))
	}
	settings, err := settingsClause(req.Settings)
	if err != nil {
		return ReadOnlyResult{}, refused("check", query, err)
	}
	params := sortedKeys(req.Params)
	for _, name := range params {
		if !identifier.MatchString(name) {
			return ReadOnlyResult{}, refused("check", query, fmt.Errorf("invalid query parameter name %q", name))
		}
		if strings.IndexByte(req.Params[name], 0) >= 0 {
			return ReadOnlyResult{}, refused("check", query, fmt.Errorf("query parameter %s contains a NUL byte", name))
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	normalized, err := e.queryLocked(ctx, "SELECT formatQuerySingleLine("+clickhouse.QuoteString(query)+")", "RawBLOB", true)
	if err != nil {
		return ReadOnlyResult{}, queryFailed("parse", query, err)
	}
	stmt := strings.TrimSpace(string(normalized))
	// The engine cannot unset a parameter (SET param_x = DEFAULT binds the
	// word DEFAULT), so one an earlier request set stays bound, reset to
	// ''. A query naming a parameter this request did not send is refused
	// as ClickHouse refuses it, before any earlier value could answer it.
	for _, name := range queryParameters(stmt) {
		if _, ok := req.Params[name]; !ok {
			msg := fmt.Sprintf("Code: 456. DB::Exception: Substitution `%s` is not set. (UNKNOWN_QUERY_PARAMETER)", name)
			return ReadOnlyResult{}, &QueryError{Message: msg, Code: 456, stage: "parameters", statement: stmt, err: errors.New(msg)}
		}
	}
	if err := e.restoreDatabaseLocked(ctx); err != nil {
		return ReadOnlyResult{}, err
	}
	if len(params) > 0 {
		// Reset to empty rather than left with this request's values,
		// which must not outlive it (in the engine's memory, in errors).
		defer func() {
			for _, name := range params {
				if _, err := e.queryLocked(context.WithoutCancel(ctx), "SET param_"+name+" = ''", "TSV", false); err != nil {
					// Harmless for later queries, which must send their own
					// value; said, since it should not happen.
					e.logger.Warn("read-only query: resetting a query parameter failed", "param", name, "err", err)
				}
			}
		}()
		for _, name := range params {
			if _, err := e.queryLocked(ctx, "SET param_"+name+" = "+clickhouse.QuoteString(req.Params[name]), "TSV", false); err != nil {
				return ReadOnlyResult{}, queryFailed("parameters", stmt, err)
			}
		}
	}
	if req.Database != "" {
		prev, err := e.queryLocked(ctx, "SELECT currentDatabase()", "RawBLOB", true)
		if err != nil {
			return ReadOnlyResult{}, fmt.Errorf("embedded: read-only query: current database: %w", err)
		}
		if _, err := e.queryLocked(ctx, "USE "+clickhouse.QuoteIdentifier(req.Database), "TSV", false); err != nil {
			return ReadOnlyResult{}, queryFailed("database", stmt, err)
		}
		defer func() {
			e.restoreDatabase = strings.TrimSpace(string(prev))
			if err := e.restoreDatabaseLocked(context.WithoutCancel(ctx)); err != nil {
				// Left for the next statement that depends on the current
				// database, which tries again first (restoreDatabase).
				e.logger.Warn("read-only query: restoring the current database failed", "database", e.restoreDatabase, "err", err)
			}
		}()
	}
	ast, err := e.queryLocked(ctx, "EXPLAIN AST "+stmt, "TSVRaw", true)
	if err != nil {
		return ReadOnlyResult{}, queryFailed("explain", stmt, err)
	}
	if err := checkReadOnlyAST(string(ast)); err != nil {
		return ReadOnlyResult{}, refused("check", stmt, err)
	}
	if m := formatClause.FindStringSubmatch(stmt); m != nil {
		format = m[1]
	}
	if req.AllowFormat != nil {
		for _, f := range append(astFormats(string(ast)), format) {
			if err := req.AllowFormat(f); err != nil {
				return ReadOnlyResult{}, &QueryError{Message: "Code: 73. DB::Exception: " + err.Error() + ". (UNKNOWN_FORMAT)",
					Code: 73, stage: "format", statement: stmt, err: err}
			}
		}
	}
	out, err := e.queryLocked(ctx, stmt+" SETTINGS "+settings+e.readOnlySettings(), format, true)
	if err != nil {
		return ReadOnlyResult{}, queryFailed("run", stmt, err)
	}
	if len(out) == 0 && strings.EqualFold(format, "Native") {
		// The engine writes nothing for an empty result, where ClickHouse
		// sends a block of no rows that names the columns and their types
		// (Grafana needs them): DESCRIBE of the query gives them, without
		// running it.
		desc, err := e.queryLocked(ctx, "DESCRIBE ("+formatClause.ReplaceAllString(stmt, "")+") SETTINGS "+settings+e.readOnlySettings(), "JSONEachRow", true)
		if err != nil {
			return ReadOnlyResult{}, queryFailed("describe", stmt, err)
		}
		if out, err = nativeHeader(desc); err != nil {
			return ReadOnlyResult{}, fmt.Errorf("embedded: read-only query: empty result's header: %w", err)
		}
	}
	return ReadOnlyResult{Data: out, Format: format}, nil
}

// restoreDatabaseLocked makes restoreDatabase, when set, the session's
// current database again: a request's database is the session's for that
// request only, and ingestion, the writer and later requests share the
// session.
func (e *Engine) restoreDatabaseLocked(ctx context.Context) error {
	if e.restoreDatabase == "" {
		return nil
	}
	if _, err := e.queryLocked(ctx, "USE "+clickhouse.QuoteIdentifier(e.restoreDatabase), "TSV", false); err != nil {
		return fmt.Errorf("embedded: restore the current database %s: %w", e.restoreDatabase, err)
	}
	e.restoreDatabase = ""
	return nil
}

// queryParameters are the names of a normalized statement's {name:Type}
// placeholders, outside its string literals and quoted identifiers.
func queryParameters(stmt string) []string {
	var names []string
	for i := 0; i < len(stmt); i++ {
		switch c := stmt[i]; c {
		case '\'', '"', '`':
			for i++; i < len(stmt) && stmt[i] != c; i++ {
				if stmt[i] == '\\' {
					i++
				}
			}
		case '{':
			j := i + 1
			for j < len(stmt) && stmt[j] == ' ' {
				j++
			}
			k := j
			for k < len(stmt) && (stmt[k] == '_' || stmt[k] >= 'a' && stmt[k] <= 'z' || stmt[k] >= 'A' && stmt[k] <= 'Z' || stmt[k] >= '0' && stmt[k] <= '9') {
				k++
			}
			l := k
			for l < len(stmt) && stmt[l] == ' ' {
				l++
			}
			if k > j && l < len(stmt) && stmt[l] == ':' {
				names = append(names, stmt[j:k])
			}
		}
	}
	return names
}

// identifier is a setting's or a query parameter's name.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// settingsClause is the request's settings as the start of a SETTINGS
// clause, each value a string literal, which the engine parses as the
// setting's type.
func settingsClause(settings map[string]string) (string, error) {
	var b strings.Builder
	for _, name := range sortedKeys(settings) {
		if !identifier.MatchString(name) {
			return "", fmt.Errorf("invalid setting name %q", name)
		}
		b.WriteString(name + " = " + clickhouse.QuoteString(settings[name]) + ", ")
	}
	return b.String(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// QueryError is why QueryReadOnly did not answer a query, said twice:
//   - Message, for the person who wrote the query: the engine's own text
//     ("Code: 62. DB::Exception: Syntax error: failed at position 1 ...
//     (SYNTAX_ERROR)"), or why sluice refused the statement, without what
//     sluice added to run it safely (the formatQuerySingleLine call that
//     parses it, the SETTINGS appended to it);
//   - Error(), for the log: the step that failed and the whole error, with
//     the statement as it was run.
//
// It wraps the error it explains: errors.Is(err, ErrNotReadOnly) holds for
// a refusal.
type QueryError struct {
	// Message is the answer for the query's author.
	Message string
	// Code is the engine's error code (62 for a syntax error, 47 for an
	// unknown identifier), 0 when sluice refused the query itself.
	Code int

	stage     string // format, check, parse, explain or run
	statement string
	err       error
}

func (e *QueryError) Error() string {
	if errors.As(e.err, new(*engineError)) {
		// The engine's error already names the statement as run.
		return "embedded: read-only query: " + e.stage + ": " + e.err.Error()
	}
	return fmt.Sprintf("embedded: read-only query %s: %s: %v", abbreviate(e.statement), e.stage, e.err)
}

func (e *QueryError) Unwrap() error { return e.err }

// ExceptionCode is Code (clickhouse.ExceptionCode).
func (e *QueryError) ExceptionCode() int { return e.Code }

// refused is a QueryError for a query sluice will not run.
func refused(stage, statement string, err error) *QueryError {
	return &QueryError{Message: err.Error(), stage: stage, statement: statement, err: err}
}

// queryFailed makes a QueryError of an error the engine reported for a step
// of QueryReadOnly; any other error (a canceled context, a closed engine) is
// not the query's fault and is returned as it is.
func queryFailed(stage, statement string, err error) error {
	var ee *engineError
	if !errors.As(err, &ee) {
		return fmt.Errorf("embedded: read-only query: %s: %w", stage, err)
	}
	msg := engineMessage(ee.Error())
	return &QueryError{Message: msg, Code: ee.ExceptionCode(), stage: stage, statement: statement, err: err}
}

var (
	// nestedException is a message that starts with another.
	nestedException = regexp.MustCompile(`^Code: \d+\. DB::Exception: (Code: \d+\. DB::Exception: )`)
	// errorCode is the code at the start of the engine's messages.
	errorCode = regexp.MustCompile(`^Code: (\d+)\.`)
	// appendedSettings is the SETTINGS clause of readOnlySettings, as the
	// engine prints it back when it quotes the statement ("in scope SELECT
	// ... SETTINGS readonly = 1, max_execution_time = 60, ..."). A user's
	// own SETTINGS clause is refused, so every one in a message is ours.
	appendedSettings = regexp.MustCompile(` SETTINGS (\w+ = '[^']*', )*readonly = 1(, \w+ = ('[^']*'|\w+))*`)
	// parseScope is how the engine names the statement of a syntax error
	// found by formatQuerySingleLine: the wrapper around the query, with
	// the query quoted inside. The error's name after it is kept.
	parseScope = regexp.MustCompile(`(?s): In scope SELECT formatQuerySingleLine\('.*'\)(\. \([A-Z0-9_]+\))?\s*$`)
)

// ExceptionCode is the code of the engine's message (of the innermost
// exception when chDB quotes one in another), 0 when it has none.
func (e *engineError) ExceptionCode() int {
	m := errorCode.FindStringSubmatch(engineMessage(e.err.Error()))
	if m == nil {
		return 0
	}
	code, _ := strconv.Atoi(m[1])
	return code
}

// engineMessage is the engine's error message with sluice's additions to
// the statement taken out.
func engineMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	// chDB quotes an inner exception whole ("Code: 62. DB::Exception:
	// Code: 62. DB::Exception: Syntax error …"): the innermost is the
	// message, and its code the error's.
	for nestedException.MatchString(msg) {
		msg = nestedException.ReplaceAllString(msg, "$1")
	}
	msg = parseScope.ReplaceAllString(msg, "$1")
	return appendedSettings.ReplaceAllString(msg, "")
}

// setQueryLimits replaces the limits of later read-only queries.
func (e *Engine) setQueryLimits(l clickhouse.QueryLimits) { e.limits.Store(&l) }

// readOnlySettings end the SETTINGS clause of a read-only query.
func (e *Engine) readOnlySettings() string {
	return "readonly = 1, " + e.limits.Load().Settings()
}

// astNode is one line of EXPLAIN AST: its depth (one space per level) and
// the words of its label, such as ["Function", "file", "(children", "1)"].
type astNode struct {
	depth int
	words []string
}

func parseAST(ast string) []astNode {
	var nodes []astNode
	for _, line := range strings.Split(strings.TrimRight(ast, "\n"), "\n") {
		label := strings.TrimLeft(line, " ")
		words := strings.Fields(label)
		if len(words) == 0 {
			continue
		}
		nodes = append(nodes, astNode{depth: len(line) - len(label), words: words})
	}
	return nodes
}

// astFormats are the format names of a SELECT's syntax tree: its
// FORMAT clause is an identifier child of the statement itself, which the
// normalized text's last words show too (formatClause); both are checked.
func astFormats(ast string) []string {
	nodes := parseAST(ast)
	if len(nodes) == 0 || nodes[0].words[0] != "SelectWithUnionQuery" {
		return nil
	}
	var formats []string
	for _, n := range nodes {
		if n.depth == 1 && n.words[0] == "Identifier" && len(n.words) > 1 {
			formats = append(formats, n.words[1])
		}
	}
	return formats
}

// checkReadOnlyAST applies QueryReadOnly's rules to EXPLAIN AST output.
func checkReadOnlyAST(ast string) error {
	nodes := parseAST(ast)
	if len(nodes) == 0 {
		return fmt.Errorf("%w: empty syntax tree", ErrNotReadOnly)
	}
	top := nodes[0].words[0]
	if !readOnlyKinds[top] {
		return fmt.Errorf("%w: %s statements are not allowed", ErrNotReadOnly, top)
	}
	for i, n := range nodes {
		switch {
		case n.words[0] == "Set":
			return fmt.Errorf("%w: SETTINGS clauses are not allowed", ErrNotReadOnly)
		case n.words[0] == "Function" && len(n.words) > 1 && n.words[1] == "file":
			return fmt.Errorf("%w: the file function is not allowed", ErrNotReadOnly)
		case n.depth == 1 && n.words[0] == "Literal":
			// A statement's own literal children are its output file and
			// compression: INTO OUTFILE.
			return fmt.Errorf("%w: INTO OUTFILE is not allowed", ErrNotReadOnly)
		case top == "Explain" && i == 1 && n.words[0] != "SelectWithUnionQuery":
			return fmt.Errorf("%w: only EXPLAIN of a SELECT is allowed", ErrNotReadOnly)
		case top == "DescribeQuery" && n.depth == 2 && n.words[0] != "TableIdentifier":
			// DESCRIBE of a table function reads it to infer its schema,
			// and readonly does not stop that.
			return fmt.Errorf("%w: DESCRIBE is only allowed on tables", ErrNotReadOnly)
		}
	}
	return nil
}

// nativeHeader is a Native block of no rows with the columns of DESCRIBE's
// JSONEachRow output: column and row counts, then each column's name and
// type, as length-prefixed strings.
func nativeHeader(describe []byte) ([]byte, error) {
	type column struct{ Name, Type string }
	var cols []column
	dec := json.NewDecoder(bytes.NewReader(describe))
	for dec.More() {
		var c column
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("DESCRIBE output: %w", err)
		}
		cols = append(cols, c)
	}
	out := binary.AppendUvarint(nil, uint64(len(cols)))
	out = binary.AppendUvarint(out, 0)
	for _, c := range cols {
		for _, s := range []string{c.Name, c.Type} {
			out = binary.AppendUvarint(out, uint64(len(s)))
			out = append(out, s...)
		}
	}
	return out, nil
}
