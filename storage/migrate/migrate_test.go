package migrate

import (
	"context"
	"errors"
	"testing"
)

// A CREATE ... IF NOT EXISTS that lost a race to another instance reached
// the state it asked for; any other failure stays one.
func TestTolerateCreateRace(t *testing.T) {
	exists := errors.New("Code: 57. DB::Exception: Table sluice.flows_1m already exists. (TABLE_ALREADY_EXISTS)")
	exec := tolerateCreateRace(func(context.Context, string) error { return exists })
	for stmt, wantErr := range map[string]bool{
		"CREATE TABLE IF NOT EXISTS sluice.flows_1m (a UInt8) ENGINE = Memory":                     false,
		"CREATE MATERIALIZED VIEW IF NOT EXISTS sluice.flows_1m_mv TO sluice.flows_1m AS SELECT 1": false,
		"CREATE TABLE sluice.flows_1m (a UInt8) ENGINE = Memory":                                   true,
		"ALTER TABLE sluice.flows ADD COLUMN IF NOT EXISTS a UInt8":                                true,
	} {
		if err := exec(t.Context(), stmt); (err != nil) != wantErr {
			t.Errorf("%s: err = %v, want an error: %v", stmt, err, wantErr)
		}
	}
	other := tolerateCreateRace(func(context.Context, string) error { return errors.New("Code: 241. MEMORY_LIMIT_EXCEEDED") })
	if err := other(t.Context(), "CREATE TABLE IF NOT EXISTS sluice.x (a UInt8) ENGINE = Memory"); err == nil {
		t.Error("a CREATE that failed for another reason succeeded")
	}
}
