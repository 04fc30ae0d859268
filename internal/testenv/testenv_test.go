package testenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// helperEnv makes this test binary run TestCorpusHelper alone, as the
// subprocess TestCorpusRule starts in a made-up repository: "dir" calls
// CorpusDir, "ifpresent" CorpusDirIfPresent.
const helperEnv = "TESTENV_CORPUS_HELPER"

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(helperEnv) == "" {
		// Left out, not skipped: it only runs as TestCorpusRule's subprocess.
		skip := "^TestCorpusHelper$"
		if s := flag.Lookup("test.skip").Value.String(); s != "" {
			skip = s + "|" + skip
		}
		if err := flag.Set("test.skip", skip); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// TestCorpusHelper prints the corpus directory it was given, then whether
// it went on past the lookup.
func TestCorpusHelper(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "dir":
		fmt.Printf("corpus=%s\n", CorpusDir(t))
	case "ifpresent":
		dir, ok := CorpusDirIfPresent(t)
		fmt.Printf("corpus=%s present=%v\n", dir, ok)
	default:
		t.Fatalf("%s=%q: want dir or ifpresent", helperEnv, os.Getenv(helperEnv))
	}
	fmt.Println("went on")
}

// TestCorpusRule runs TestCorpusHelper in a repository of its own, with and
// without a corpus beside it, in and out of CI, and checks the outcome, the
// line printed and the tier report line.
func TestCorpusRule(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	pkg := filepath.Join(repo, "internal", "pkg")
	beside := filepath.Join(root, "shared", "corpus")
	elsewhere := filepath.Join(root, "captures")
	for _, dir := range []string{pkg, elsewhere} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module fake\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notRunLine := "corpus tier not run: no capture corpus at " + beside + "; set SLUICE_CORPUS=DIR to run it"

	cases := []struct {
		name   string
		beside bool     // ../shared/corpus exists
		env    []string // beyond the helper's own
		mode   string   // helper mode
		// outcome
		fail, skip bool
		want       []string // in the output
		report     string   // the tier report line, without package and test
	}{
		{name: "CI, no corpus: fails", env: []string{"CI=true"}, mode: "dir", fail: true,
			want: []string{"no capture corpus at " + beside + "; in CI the corpus must be there"}, report: "corpus\tnot run\tno capture corpus at " + beside},
		{name: "make test, no corpus: skips with the line", env: []string{"SLUICE_REQUIRE_DEPS=1"}, mode: "dir", skip: true,
			want: []string{notRunLine}, report: "corpus\tnot run\tno capture corpus at " + beside},
		{name: "bare go test, no corpus: skips with the line", mode: "dir", skip: true,
			want: []string{notRunLine}, report: "corpus\tnot run\tno capture corpus at " + beside},
		{name: "CI, corpus beside the repository", beside: true, env: []string{"CI=true"}, mode: "dir",
			want: []string{"corpus=" + beside, "went on"}, report: "corpus\tran\t" + beside},
		{name: "CI, SLUICE_CORPUS honoured", env: []string{"CI=true", "SLUICE_CORPUS=" + elsewhere}, mode: "dir",
			want: []string{"corpus=" + elsewhere, "went on"}, report: "corpus\tran\t" + elsewhere},
		{name: "SLUICE_CORPUS wins over the corpus beside", beside: true, env: []string{"SLUICE_CORPUS=" + elsewhere}, mode: "dir",
			want: []string{"corpus=" + elsewhere}, report: "corpus\tran\t" + elsewhere},
		{name: "relative SLUICE_CORPUS is from the repository root", env: []string{"SLUICE_CORPUS=../captures"}, mode: "dir",
			want: []string{"corpus=" + elsewhere}, report: "corpus\tran\t" + elsewhere},
		{name: "SLUICE_CORPUS naming nothing fails outside CI", env: []string{"SLUICE_CORPUS=" + filepath.Join(root, "nothing")}, mode: "dir", fail: true,
			want: []string{"SLUICE_CORPUS=" + filepath.Join(root, "nothing") + " names no capture corpus"}, report: "corpus\tfailed\tSLUICE_CORPUS=" + filepath.Join(root, "nothing") + " is no directory"},
		{name: "seeds: no corpus outside CI goes on without it", mode: "ifpresent",
			want: []string{notRunLine, "corpus= present=false", "went on"}, report: "corpus\tnot run\tno capture corpus at " + beside},
		{name: "seeds: no corpus in CI fails", env: []string{"CI=true"}, mode: "ifpresent", fail: true,
			want: []string{"in CI the corpus must be there"}, report: "corpus\tnot run\tno capture corpus at " + beside},
		{name: "seeds: corpus present", beside: true, mode: "ifpresent",
			want: []string{"corpus=" + beside + " present=true"}, report: "corpus\tran\t" + beside},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(filepath.Join(root, "shared")); err != nil {
				t.Fatal(err)
			}
			if tc.beside {
				if err := os.MkdirAll(beside, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			reportFile := filepath.Join(t.TempDir(), "tiers")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCorpusHelper$", "-test.v")
			cmd.Dir = pkg
			cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
				name, _, _ := strings.Cut(kv, "=")
				return slices.Contains([]string{"CI", "SLUICE_REQUIRE_DEPS", CorpusEnv, TierReportEnv}, name)
			})
			cmd.Env = append(cmd.Env, append([]string{helperEnv + "=" + tc.mode, TierReportEnv + "=" + reportFile}, tc.env...)...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case tc.fail && !errors.As(err, &exit):
				t.Fatalf("helper passed (%v), want it to fail:\n%s", err, out)
			case !tc.fail && err != nil:
				t.Fatalf("helper failed: %v\n%s", err, out)
			}
			if skipped := strings.Contains(string(out), "--- SKIP: TestCorpusHelper"); skipped != tc.skip {
				t.Errorf("skipped = %v, want %v:\n%s", skipped, tc.skip, out)
			}
			if tc.skip && strings.Contains(string(out), "went on") {
				t.Errorf("the test went on after the skip:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			got, err := os.ReadFile(reportFile)
			if err != nil {
				t.Fatal(err)
			}
			tier, rest, _ := strings.Cut(tc.report, "\t")
			outcome, detail, _ := strings.Cut(rest, "\t")
			want := strings.Join([]string{tier, outcome, "internal/pkg", "TestCorpusHelper", detail}, "\t") + "\n"
			if string(got) != want {
				t.Errorf("tier report:\n%q\nwant:\n%q", got, want)
			}
		})
	}
}

// TestReportAppendsOnce: a test that asks for the corpus many times
// reports once, and lines from other tests are appended, not overwritten.
func TestReportAppendsOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tiers")
	if err := os.WriteFile(file, []byte("earlier line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(TierReportEnv, file)
	reported.Clear() // lines an earlier run (-count) reported are not this run's
	for range 3 {
		report(t, "corpus", "ran", "/some/where")
	}
	report(t, "corpus", "not run", "a\treason\non two lines")
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "earlier line\n" +
		"corpus\tran\tinternal/testenv\tTestReportAppendsOnce\t/some/where\n" +
		"corpus\tnot run\tinternal/testenv\tTestReportAppendsOnce\ta reason on two lines\n"
	if string(got) != want {
		t.Errorf("report:\n%q\nwant:\n%q", got, want)
	}
}
