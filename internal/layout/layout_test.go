package layout

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"sluice/internal/testenv"
)

const module = "sluice/"

// shared are the packages of one stage that the others may import: the
// canonical record and the reference data are the data flow's vocabulary.
var shared = []string{"sluice/pipeline/record", "sluice/pipeline/reference"}

// testSupport tells the packages that exist for tests only.
func testSupport(path string) bool {
	switch path {
	case "testing", "sluice/internal/testenv", "sluice/internal/tshark", "sluice/internal/pcap":
		return true
	}
	return strings.HasSuffix(path, "test") && strings.HasPrefix(path, module) // geoiptest, embeddedtest, …
}

// stage is the top-level folder of a package of this module: cmd,
// collector, pipeline, storage, deploy or internal.
func stage(path string) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(path, module), "/")
	return s
}

type pkg struct {
	ImportPath string
	Deps       []string // every package it needs to build, not its tests
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "./...")
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("go list: %v\n%s", err, exitErr.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 30 {
		t.Fatalf("go list found %d packages; expected the whole module", len(pkgs))
	}
	return pkgs
}

// TestImportsFollowTheDataFlow checks, on what `go list -deps` reports, the
// rules of the layout:
//   - nothing under pipeline/ depends on storage/ (the data flows the other
//     way);
//   - no stage depends on cmd/, and a stage depends on another stage only
//     through the shared vocabulary (the record, the reference data);
//   - no production package depends on `testing` or on test support.
func TestImportsFollowTheDataFlow(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, dep := range p.Deps {
			if v := violation(p.ImportPath, dep); v != "" {
				t.Errorf("%s depends on %s: %s", p.ImportPath, dep, v)
			}
		}
	}
}

// violation says which rule a dependency of from on dep breaks, or "".
func violation(from, dep string) string {
	if !strings.HasPrefix(dep, module) && dep != "testing" {
		return ""
	}
	stages := []string{"collector", "pipeline", "storage"}
	fromStage, toStage := stage(from), stage(dep)
	switch {
	case !testSupport(from) && testSupport(dep):
		return "production code must not carry test support"
	case fromStage == "pipeline" && toStage == "storage":
		return "nothing in pipeline/ may depend on storage/"
	case toStage == "cmd" && fromStage != "cmd":
		return "only cmd/ composes the stages"
	case slices.Contains(stages, fromStage) && slices.Contains(stages, toStage) && fromStage != toStage && !slices.Contains(shared, dep):
		return "another stage's internals (allowed across stages: " + strings.Join(shared, ", ") + ")"
	}
	return ""
}

// TestRulesCatchViolations shows the rules above are not vacuous: each
// kind of violation, fed as a fake package, is named.
func TestRulesCatchViolations(t *testing.T) {
	for _, c := range []struct{ from, dep string }{
		{"sluice/pipeline/enrich", "sluice/storage/migrate"},
		{"sluice/collector", "sluice/cmd/sluice"},
		{"sluice/storage/writer", "sluice/collector/netflow"},
		{"sluice/collector/netflow", "testing"},
		{"sluice/pipeline/kafka", "sluice/internal/testenv"},
	} {
		if violation(c.from, c.dep) == "" {
			t.Errorf("%s → %s: not reported", c.from, c.dep)
		}
	}
	for _, c := range []struct{ from, dep string }{
		{"sluice/storage/writer", "sluice/pipeline/record"},
		{"sluice/cmd/sluice", "sluice/storage/migrate"},
		{"sluice/internal/tshark", "testing"},
	} {
		if v := violation(c.from, c.dep); v != "" {
			t.Errorf("%s → %s: reported (%s) but allowed", c.from, c.dep, v)
		}
	}
}
