package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
)

// `sluice migrate --check` lists the drift of a database and fails; plain
// `sluice migrate` repairs what is safe and fails on what is left;
// --allow-destructive repairs the rest.
func TestMigrateCheckCommand(t *testing.T) {
	requireChdb(t)
	data := t.TempDir()
	migrate := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := dispatch(t.Context(), append([]string{"migrate", "--data", data, "--log-level", "error"}, args...), &out, &bytes.Buffer{})
		return out.String(), err
	}
	if out, err := migrate(); err != nil || out != "" {
		t.Fatalf("first migrate: %v\n%s", err, out)
	}
	if out, err := migrate("--check"); err != nil || out != "" {
		t.Fatalf("check of a new schema: %v\n%s", err, out)
	}
	engineCfg := embedded.DefaultConfig()
	engineCfg.DataDir = data
	engine, err := embedded.Open(t.Context(), reporter.New(slog.New(slog.DiscardHandler)), engineCfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP VIEW sluice.flows_if_5m_mv", "ALTER TABLE sluice.flows MODIFY COLUMN SrcPortNAT UInt64"} {
		if err := engine.Exec(t.Context(), stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := engine.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	out, err := migrate("--check")
	if err == nil || !strings.Contains(err.Error(), "2 ways") {
		t.Errorf("check of a drifted schema: err = %v", err)
	}
	if want := "sluice.flows column SrcPortNAT: type differs (want UInt16, have UInt64)\n" +
		"sluice.flows_if_5m_mv: missing view; the flows inserted while it was missing are not in sluice.flows_if_5m\n"; out != want {
		t.Errorf("check lists:\n%s\nwant:\n%s", out, want)
	}
	if out, err = migrate(); err == nil || out != "sluice.flows column SrcPortNAT: type differs (want UInt16, have UInt64)\n" {
		t.Errorf("migrate without --allow-destructive: err = %v, left:\n%s", err, out)
	}
	if out, err := migrate("--allow-destructive"); err != nil || out != "" {
		t.Errorf("migrate --allow-destructive: %v\n%s", err, out)
	}
	if out, err := migrate("--check"); err != nil || out != "" {
		t.Errorf("check after the repairs: %v\n%s", err, out)
	}
}
