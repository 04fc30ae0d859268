package embedded_test

import (
	"fmt"
	"log/slog"
	"os"
	"testing"

	"sluice/storage/embedded"
)

// engine is the one embedded engine of the test process (libchdb allows one
// session); TestReopen closes and replaces it.
var (
	engine  *embedded.Engine
	dataDir string
)

// TestMain opens the shared engine and closes it after the tests: a -race
// binary that exits with the chDB session open can segfault after passing.
//
// There is no skip when libchdb is missing: chdb-go loads it in an init
// function and panics before TestMain runs, so CHDB_LIB_PATH must be set
// (the Makefile does), and a missing library fails CI by that panic.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sluice-embedded-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	dataDir = dir
	engine, err = embedded.Open(dataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := engine.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}
