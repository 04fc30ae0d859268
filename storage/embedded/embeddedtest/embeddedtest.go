// Package embeddedtest gives a test binary its one embedded engine: chDB
// allows one session per process, so the tests of a package share it.
package embeddedtest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"sluice/internal/reporter"
	"sluice/storage/embedded"
)

// Main is a TestMain: it opens the engine in a temporary directory, sets
// *engine and *dataDir (dataDir may be nil), runs the tests, stops the
// engine and exits. Stopping matters: a -race binary that exits with the
// chDB session open can crash after its tests passed.
//
// There is no skip when libchdb is missing: the engine fails to start, so
// CHDB_LIB_PATH must be set (the Makefile does), and a missing library
// fails CI.
func Main(m *testing.M, engine **embedded.Engine, dataDir *string) {
	os.Exit(run(m, engine, dataDir))
}

func run(m *testing.M, engine **embedded.Engine, dataDir *string) int {
	dir, err := os.MkdirTemp("", "sluice-engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if dataDir != nil {
		*dataDir = dir
	}
	cfg := embedded.DefaultConfig()
	cfg.DataDir = dir
	if *engine, err = embedded.Open(context.Background(), reporter.New(slog.New(slog.DiscardHandler)), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	// Tests may replace the engine (TestReopen): stop the current one,
	// if a failed test left one.
	if *engine == nil {
		return code
	}
	if err := (*engine).Stop(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}
