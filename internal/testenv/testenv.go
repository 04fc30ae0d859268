// Package testenv tells tests where their external dependencies are: the
// shared capture corpus, tshark, and the rule for a missing one. Outside CI
// a test whose dependency is missing is skipped, so `go test` works on a
// bare checkout; in CI (CI=true) it fails, because there every dependency
// must be installed and a skipped test would hide that it is not.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether every dependency must be present: in CI (CI=true)
// and under `make test` (SLUICE_REQUIRE_DEPS=1), which installs them all.
func InCI() bool { return os.Getenv("CI") == "true" || os.Getenv("SLUICE_REQUIRE_DEPS") == "1" }

// Missing skips the test, or fails it in CI, because what is unavailable.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("%s is missing; in CI every dependency must be installed (make test installs them)", what)
	}
	tb.Skipf("%s is missing; `make test` installs it", what)
}

// SkipIfShort skips a slow test (one that starts a real server or
// exporter) under -short, outside CI: in CI every test runs, so -short
// there fails it rather than hide it.
func SkipIfShort(tb testing.TB, what string) {
	tb.Helper()
	if !testing.Short() {
		return
	}
	if InCI() {
		tb.Fatalf("%s: -short would skip it, and in CI every test must run", what)
	}
	tb.Skipf("%s: skipped with -short", what)
}

// RepoRoot is the directory holding go.mod, found upwards from the
// package directory a test runs in.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// CorpusDir is the shared capture corpus, ../shared/corpus beside the
// repository. It is read in place, never copied into the repository.
func CorpusDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(RepoRoot(tb), "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		Missing(tb, "the capture corpus ("+dir+")")
	}
	return dir
}

// Tshark returns the path of tshark, the reference decoder.
func Tshark(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		Missing(tb, "tshark (Debian package tshark)")
	}
	return path
}
