package embedded

import (
	"context"
	"errors"
	"fmt"
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
func (e *Engine) QueryReadOnly(ctx context.Context, query, format string) ([]byte, error) {
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	query = strings.TrimSpace(query)
	for strings.HasSuffix(query, ";") {
		query = strings.TrimSpace(strings.TrimSuffix(query, ";"))
	}
	if query == "" {
		return nil, fmt.Errorf("embedded: read-only query: %w: empty query", ErrNotReadOnly)
	}
	normalized, err := e.query(ctx, "SELECT formatQuerySingleLine("+clickhouse.QuoteString(query)+")", "RawBLOB", true)
	if err != nil {
		return nil, fmt.Errorf("embedded: read-only query: parse: %w", err)
	}
	stmt := strings.TrimSpace(string(normalized))
	ast, err := e.query(ctx, "EXPLAIN AST "+stmt, "TSVRaw", true)
	if err != nil {
		return nil, fmt.Errorf("embedded: read-only query: explain: %w", err)
	}
	if err := checkReadOnlyAST(string(ast)); err != nil {
		return nil, fmt.Errorf("embedded: read-only query %s: %w", abbreviate(stmt), err)
	}
	out, err := e.query(ctx, stmt+e.readOnlySettings(), format, true)
	if err != nil {
		return nil, fmt.Errorf("embedded: read-only query: %w", err)
	}
	return out, nil
}

// SetQueryLimits replaces the limits of later read-only queries.
func (e *Engine) SetQueryLimits(l clickhouse.QueryLimits) { e.limits.Store(&l) }

func (e *Engine) readOnlySettings() string {
	return " SETTINGS readonly = 1, " + e.limits.Load().Settings()
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
