package embedded_test

import (
	"errors"
	"testing"

	"sluice/storage/embedded"
)

// TestParameterNotSentRefused: the engine cannot unset a parameter, so a
// query naming one its request did not send is refused with
// UNKNOWN_QUERY_PARAMETER, and never answered with an earlier request's
// value or the ” it was reset to.
func TestParameterNotSentRefused(t *testing.T) {
	ctx := t.Context()
	res, err := engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{
		Query: "SELECT {s:String}, '{t:String}', `{u:String}`.x FROM (SELECT 1 AS x) AS `{u:String}`", Format: "TSV",
		Params: map[string]string{"s": "secret"}})
	if err != nil || string(res.Data) != "secret\t{t:String}\t1\n" {
		t.Fatalf("with the parameter: %q, %v", res.Data, err)
	}
	for _, q := range []string{"SELECT {s:String}", "SELECT { s : String }", "SELECT 1 WHERE {s:String} = ''"} {
		res, err = engine.QueryReadOnlyRequest(ctx, embedded.ReadOnlyRequest{Query: q, Format: "TSV"})
		var qe *embedded.QueryError
		if !errors.As(err, &qe) || qe.Code != 456 {
			t.Errorf("%s without the parameter: %q, %v; want code 456", q, res.Data, err)
		}
	}
}

// TestDatabaseRestoredByNextQuery: when restoring the session's database
// after a request's own failed, the next query restores it first.
func TestDatabaseRestoredByNextQuery(t *testing.T) {
	embedded.LeaveDatabase(engine, "system")
	res, err := engine.QueryReadOnlyRequest(t.Context(), embedded.ReadOnlyRequest{Query: "SELECT currentDatabase()", Format: "TSV"})
	if err != nil || string(res.Data) != "default\n" {
		t.Errorf("current database %q, %v; want default", res.Data, err)
	}
}

// TestNestedMessageUnwrapped: a message quoting another whole is shown
// once, with the inner code.
func TestNestedMessageUnwrapped(t *testing.T) {
	for in, want := range map[string]string{
		"Code: 62. DB::Exception: Code: 62. DB::Exception: Syntax error: x. (SYNTAX_ERROR)":                            "Code: 62. DB::Exception: Syntax error: x. (SYNTAX_ERROR)",
		"Code: 1001. DB::Exception: Code: 47. DB::Exception: Code: 47. DB::Exception: Unknown y. (UNKNOWN_IDENTIFIER)": "Code: 47. DB::Exception: Unknown y. (UNKNOWN_IDENTIFIER)",
		"Code: 47. DB::Exception: Unknown z. (UNKNOWN_IDENTIFIER)":                                                     "Code: 47. DB::Exception: Unknown z. (UNKNOWN_IDENTIFIER)",
	} {
		if got := embedded.EngineMessage(in); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}
