package main

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"sluice/internal/testenv"
)

// TestDescribeBuild: the version line gives the module version, the VCS
// revision with "+dirty" for uncommitted changes, the commit time and the
// Go version, and still the revision when the module version is "(devel)".
func TestDescribeBuild(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "5eeb0ec3a852d3ed0bef70d6d52a2c53949693c7"
	for _, tc := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{
			"pseudo-version from a clean checkout",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261124091133-5eeb0ec3a852"},
				Settings: settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", rev, "vcs.time", "2026-11-24T09:11:33Z", "vcs.modified", "false")},
			"v0.0.0-20261124091133-5eeb0ec3a852 (revision 5eeb0ec3a852, 2026-11-24T09:11:33Z; go1.26.8 linux/amd64)",
		},
		{
			"(devel) from a tree with changes",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: settings("GOOS", "linux", "GOARCH", "arm64", "vcs.revision", rev, "vcs.time", "2026-11-24T09:11:33Z", "vcs.modified", "true")},
			"(devel) (revision 5eeb0ec3a852+dirty, 2026-11-24T09:11:33Z; go1.26.8 linux/arm64)",
		},
		{
			"no VCS information",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: settings("GOOS", "linux", "GOARCH", "amd64")},
			"(devel) (no VCS revision: built with -buildvcs=false or outside a git checkout; go1.26.8 linux/amd64)",
		},
	} {
		if got := describeBuild(&tc.info); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// gitHead is `git rev-parse HEAD` of the repository, or "" where go build
// stamps no revision: outside a git checkout, and in a linked worktree, whose
// .git is a file (the go command looks for a .git directory).
func gitHead(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	if info, err := os.Stat(filepath.Join(root, ".git")); err != nil || !info.IsDir() {
		return ""
	}
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestVersionOfBuiltBinary builds sluice and checks that `sluice version`
// names the commit it was built from (HEAD's 12-digit revision), "+dirty"
// exactly when the build recorded uncommitted changes, and the Go version.
// Other work may commit meanwhile: HEAD before or after the build will do.
func TestVersionOfBuiltBinary(t *testing.T) {
	requireChdb(t) // sluice loads libchdb at start, even for `version`
	headBefore := gitHead(t)
	bin := sluiceBinary(t)
	headAfter := gitHead(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice version: %v\n%s", err, out)
	}
	got := string(out)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "sluice ") || !strings.Contains(got, info.GoVersion) {
		t.Errorf("sluice version = %q, want the Go version %s", got, info.GoVersion)
	}
	if headBefore == "" {
		if !strings.Contains(got, "no VCS revision") {
			t.Errorf("outside a git checkout, sluice version = %q, want it to say there is no VCS revision", got)
		}
		return
	}
	if !strings.Contains(got, headBefore[:12]) && !strings.Contains(got, headAfter[:12]) {
		t.Errorf("sluice version = %q, want HEAD's revision %s", got, headBefore[:12])
	}
	if strings.Contains(got, "(devel)") && !regexp.MustCompile(`revision [0-9a-f]{12}`).MatchString(got) {
		t.Errorf("a (devel) build without its revision: %q", got)
	}
	modified := slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "vcs.modified" && s.Value == "true" })
	if dirty := strings.Contains(got, "+dirty"); dirty != modified {
		t.Errorf("sluice version = %q: +dirty is %v, but the build recorded vcs.modified=%v", got, dirty, modified)
	}
}

// TestStampedVersion: a version and revision set at link time (the
// container build, which has no .git) name the build; a revision the
// toolchain recorded wins over a link-time one.
func TestStampedVersion(t *testing.T) {
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}}
	if got, want := describeBuild(stamped(bare, "v1.4.0", "5eeb0ec3a852d3ed")), "v1.4.0 (revision 5eeb0ec3a852; go1.26.8 linux/amd64)"; got != want {
		t.Errorf("stamped: got %s, want %s", got, want)
	}
	if got, want := describeBuild(stamped(bare, "", "")), "(devel) (no VCS revision: built with -buildvcs=false or outside a git checkout; go1.26.8 linux/amd64)"; got != want {
		t.Errorf("unstamped: got %s, want %s", got, want)
	}
	if len(bare.Settings) != 2 || bare.Main.Version != "(devel)" {
		t.Errorf("stamped changed its argument: %+v", bare)
	}
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "aaaaaaaaaaaaaaaa"}}}
	if got, want := describeBuild(stamped(vcs, "v1.4.0", "bbbbbbbbbbbb")), "v1.4.0 (revision aaaaaaaaaaaa; go1.26.8)"; got != want {
		t.Errorf("with the toolchain's revision: got %s, want %s", got, want)
	}
}
