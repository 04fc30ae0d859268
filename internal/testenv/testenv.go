// Package testenv tells tests where their external dependencies are: the
// capture corpus, tshark, and the rule for a missing one; and it holds the
// one helper tests wait with (Eventually). Outside CI and
// `make test` a test whose dependency is missing is skipped, so `go test`
// works on a bare checkout; in CI (CI=true) and under `make test`
// (SLUICE_REQUIRE_DEPS=1), which installs every dependency, it fails,
// because a skipped test would hide that one is not installed.
//
// The capture corpus is the exception: it is third-party data kept beside
// the repository, which `make test` cannot install. A missing corpus fails
// a test in CI only; elsewhere the test is skipped, and `make test` reports
// the corpus tier as not run (see TierReportEnv).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// CorpusEnv names the variable that says where the capture corpus is. Unset
// or empty, it is ../shared/corpus beside the repository. A relative path is
// taken from the repository root.
const CorpusEnv = "SLUICE_CORPUS"

// TierReportEnv names the file, set by deploy/dev/test.sh, that tests append
// what they ran to: one line per test and outcome, "tier<TAB>outcome<TAB>
// package<TAB>test<TAB>detail", for example "corpus<TAB>ran<TAB>
// collector/netflow<TAB>TestFieldsMatchTshark<TAB>/work/shared/corpus" or
// "corpus<TAB>not run<TAB>…<TAB>no capture corpus at …". Each line is one
// write to a file opened with O_APPEND, so the test processes `go test` runs
// in parallel never interleave their lines.
const TierReportEnv = "SLUICE_TIER_REPORT"

// InCI reports whether every dependency must be present: in CI (CI=true)
// and under `make test` (SLUICE_REQUIRE_DEPS=1), which installs them all.
func InCI() bool { return inStrictCI() || os.Getenv("SLUICE_REQUIRE_DEPS") == "1" }

// inStrictCI reports whether this is CI, where even the corpus, which
// `make test` cannot install, must be present.
func inStrictCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it in CI, because what is unavailable.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	report(tb, "component", "missing", what)
	if InCI() {
		tb.Fatalf("%s is missing; in CI every dependency must be installed (make test installs them)", what)
	}
	tb.Skipf("%s is missing; `make test` installs it", what)
}

// Ran reports, for make test's summary of the real components tier, that
// the test ran against what: a real component whose absence would have
// failed it in CI (a ClickHouse client, with its version).
func Ran(tb testing.TB, what string) {
	tb.Helper()
	report(tb, "component", "ran", what)
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

// CorpusDir is the capture corpus, read in place, never copied into the
// repository: $SLUICE_CORPUS if set, else ../shared/corpus beside the
// repository. When it is missing the test fails in CI, and is skipped
// elsewhere with a line saying how to run it; a SLUICE_CORPUS naming no
// directory fails the test everywhere.
func CorpusDir(tb testing.TB) string {
	tb.Helper()
	dir, ok := corpus(tb)
	if !ok {
		tb.SkipNow()
	}
	return dir
}

// CorpusDirIfPresent is CorpusDir for a test that also has work to do
// without the corpus (a fuzz target seeded from it): outside CI it reports
// false, and logs why, instead of skipping the test.
func CorpusDirIfPresent(tb testing.TB) (string, bool) {
	tb.Helper()
	return corpus(tb)
}

// corpus finds the corpus, reports what it found, and fails the test when
// the corpus must be there; otherwise, when it is missing, it logs the line
// that says how to run the corpus tier and returns false.
func corpus(tb testing.TB) (string, bool) {
	tb.Helper()
	dir := os.Getenv(CorpusEnv)
	if dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(RepoRoot(tb), dir)
		}
		if err := isDir(dir); err != nil {
			report(tb, "corpus", "failed", CorpusEnv+"="+dir+" is no directory")
			tb.Fatalf("%s=%s names no capture corpus (%v): point it at the corpus, or unset it to use ../shared/corpus beside the repository", CorpusEnv, dir, err)
		}
		report(tb, "corpus", "ran", dir)
		return dir, true
	}
	dir = filepath.Join(RepoRoot(tb), "..", "shared", "corpus")
	if err := isDir(dir); err != nil {
		reason := "no capture corpus at " + dir
		report(tb, "corpus", "not run", reason)
		if inStrictCI() {
			tb.Fatalf("%s; in CI the corpus must be there: put it at %s or set %s=DIR", reason, dir, CorpusEnv)
		}
		tb.Logf("corpus tier not run: %s; set %s=DIR to run it", reason, CorpusEnv)
		return "", false
	}
	report(tb, "corpus", "ran", dir)
	return dir, true
}

func isDir(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}

// reported holds the lines this process already appended to the tier
// report: a test that asks for the corpus once per capture reports once.
var reported sync.Map

// report appends one line to the tier report ($SLUICE_TIER_REPORT), when
// the test runner asked for one.
func report(tb testing.TB, tier, outcome, detail string) {
	tb.Helper()
	path := os.Getenv(TierReportEnv)
	if path == "" {
		return
	}
	pkg := "."
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(RepoRoot(tb), wd); err == nil {
			pkg = filepath.ToSlash(rel)
		}
	}
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	line := strings.Join([]string{tier, outcome, pkg, clean.Replace(tb.Name()), clean.Replace(detail)}, "\t") + "\n"
	if _, done := reported.LoadOrStore(line, true); done {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatalf("tier report (%s): %v", TierReportEnv, err)
	}
	_, err = f.Write([]byte(line))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("tier report %s: %v", path, err)
	}
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
