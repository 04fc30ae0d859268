package embedded_test

import (
	"errors"
	"strings"
	"testing"

	"sluice/storage/embedded"
)

// TestQueryReadOnlyErrorMessages checks what the author of a bad query is
// told: the engine's own code and message, without the wrapper that
// parses the query or the SETTINGS that QueryReadOnly appends, while the
// error itself keeps that context for the log.
func TestQueryReadOnlyErrorMessages(t *testing.T) {
	migrateSchema(t)
	for _, tc := range []struct {
		name, query string
		code        int
		message     []string // parts of the engine's message
		logged      string   // what only the full error (for the log) shows
	}{
		{
			name: "syntax error", query: "SELEC count() FROM sluice.flows", code: 62,
			message: []string{"Code: 62. DB::Exception: Syntax error: failed at position", "() FROM sluice.flows", "(SYNTAX_ERROR)"},
			logged:  "formatQuerySingleLine",
		},
		{
			name: "syntax error at the end", query: "SELECT 1 +", code: 62,
			message: []string{"Code: 62. DB::Exception: Syntax error", "(end of query)", "(SYNTAX_ERROR)"},
			logged:  "formatQuerySingleLine",
		},
		{
			name: "unknown column", query: "SELECT NoSuchColumn FROM sluice.flows", code: 47,
			message: []string{"Code: 47. DB::Exception: Unknown expression identifier `NoSuchColumn` in scope SELECT NoSuchColumn FROM sluice.flows. (UNKNOWN_IDENTIFIER)"},
			logged:  "SETTINGS readonly = 1",
		},
		{
			name: "unknown table", query: "SELECT count() FROM sluice.no_such_table", code: 60,
			message: []string{"Code: 60. DB::Exception: Unknown table expression identifier 'sluice.no_such_table' in scope SELECT count() FROM sluice.no_such_table. (UNKNOWN_TABLE)"},
			logged:  "SETTINGS readonly = 1",
		},
		{
			name: "error in a subquery", query: "SELECT * FROM (SELECT NoSuchColumn FROM sluice.flows) WHERE 1", code: 47,
			message: []string{"Code: 47. DB::Exception: Unknown expression identifier `NoSuchColumn`", "(UNKNOWN_IDENTIFIER)"},
			logged:  "SETTINGS readonly = 1",
		},
		{
			name: "refused by sluice", query: "DROP TABLE sluice.flows", code: 0,
			message: []string{"not a read-only query: DropQuery statements are not allowed"},
			logged:  "DROP TABLE sluice.flows",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.QueryReadOnly(t.Context(), tc.query, "TSV")
			var qe *embedded.QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("%q: err = %v (%T), want a *QueryError", tc.query, err, err)
			}
			if qe.Code != tc.code {
				t.Errorf("code %d, want %d: %s", qe.Code, tc.code, qe.Message)
			}
			for _, part := range tc.message {
				if !strings.Contains(qe.Message, part) {
					t.Errorf("message lacks %q:\n%s", part, qe.Message)
				}
			}
			for _, internal := range []string{"embedded:", "SETTINGS readonly", "max_execution_time", "formatQuerySingleLine"} {
				if strings.Contains(qe.Message, internal) {
					t.Errorf("message shows sluice's internals (%q):\n%s", internal, qe.Message)
				}
			}
			if !strings.Contains(err.Error(), tc.logged) || !strings.HasPrefix(err.Error(), "embedded: read-only query") {
				t.Errorf("the error for the log lacks its context (%q):\n%s", tc.logged, err)
			}
			if tc.code == 0 && !errors.Is(err, embedded.ErrNotReadOnly) {
				t.Errorf("a refusal is not ErrNotReadOnly: %v", err)
			}
		})
	}
}
