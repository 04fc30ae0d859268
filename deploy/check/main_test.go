package check

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"sluice/internal/testenv"
)

// repoRoot is the repository's top directory: deploy/check is two below
// (testenv.RepoRoot would stop at this module's go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// requireTool returns the path of a command the test needs; a missing one
// is testenv.Missing's to judge (a failure where every dependency must be
// there, as in make test; deploy/dev/deps.sh installs it).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("%s (Debian package %s)", name, pkg))
	}
	return path
}

// The version and revision the test binary is stamped with, as the
// Dockerfile stamps the image's.
const (
	stampVersion  = "v0.0.0-deploy-check"
	stampRevision = "0123456789abcdef"
)

var sluiceBuild struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// sluiceBinary builds sluice from the tree once per test run, stamped as
// the Dockerfile stamps it (-X main.buildVersion, main.buildRevision).
func sluiceBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	sluiceBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-deploy-check-")
		if err != nil {
			sluiceBuild.err = err
			return
		}
		sluiceBuild.dir = dir
		sluiceBuild.path = filepath.Join(dir, "sluice")
		cmd := exec.Command("go", "build", "-o", sluiceBuild.path,
			"-ldflags", "-X main.buildVersion="+stampVersion+" -X main.buildRevision="+stampRevision, "./cmd/sluice")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			sluiceBuild.err = fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
		}
	})
	if sluiceBuild.err != nil {
		t.Fatal(sluiceBuild.err)
	}
	return sluiceBuild.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sluiceBuild.dir != "" {
		os.RemoveAll(sluiceBuild.dir)
	}
	os.Exit(code)
}

// configCheck runs `sluice config check FILE` with env added to the
// test's environment, and returns its error with the command's output.
func configCheck(t *testing.T, path string, env ...string) error {
	t.Helper()
	cmd := exec.Command(sluiceBinary(t), "config", "check", path)
	// Secrets the configurations read from the environment: set here
	// unless the caller sets them, as an operator's environment would.
	cmd.Env = append(os.Environ(), "SLUICE_KAFKA_SASL_PASSWORD=check", "SLUICE_CLICKHOUSE_PASSWORD=check",
		"SLUICE_ANALYST_PASSWORD=check", "SLUICE_WRITER_PASSWORD=check")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sluice config check %s: %v\n%s", path, err, out.String())
	}
	if !strings.Contains(out.String(), ": ok") {
		return fmt.Errorf("sluice config check %s said: %s", path, out.String())
	}
	return nil
}

// TestStampedBinary: the version the Dockerfile's link flags set is the
// one `sluice version` reports.
func TestStampedBinary(t *testing.T) {
	out, err := exec.Command(sluiceBinary(t), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice version: %v\n%s", err, out)
	}
	if want := "sluice " + stampVersion + " (revision " + stampRevision[:12]; !strings.HasPrefix(string(out), want) {
		t.Fatalf("sluice version = %q, want it to start with %q", out, want)
	}
}
