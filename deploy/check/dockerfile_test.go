package check

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// pinned is a base image named by digest, or by a tag with an exact
// version (1.26.8, 13.2, 4.1.1; with a suffix such as -slim), never a
// moving name such as latest, trixie or 1.
var pinned = regexp.MustCompile(`(@sha256:[0-9a-f]{64}$)|(:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9.-]+)?$)`)

// roles are the Dockerfile's final stages: the image each role runs.
var roles = []string{"collect", "pipeline", "run"}

// TestDockerfile reads deploy/docker/Dockerfile with BuildKit's parser
// (what `docker build` reads it with) and checks each role's image: every
// base pinned, a non-root user, a health check on /readyz, the entrypoint
// running its role with the configuration copied in, the embedded engine's
// library in the run image only, and the version stamped at build.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	f, err := os.Open(filepath.Join(root, "deploy/docker/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("parser warning: %s", w.Short)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]instructions.Stage{}
	for _, s := range stages {
		byName[s.Name] = s
		if _, internal := byName[s.BaseName]; internal {
			continue
		}
		if !pinned.MatchString(s.BaseName) {
			t.Errorf("stage %s: base image %q is not pinned to a digest or an exact version", s.Name, s.BaseName)
		}
	}
	// The version the image reports: the build stage stamps it.
	build, ok := byName["build"]
	if !ok {
		t.Fatal("no build stage")
	}
	var stamped bool
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			line := strings.Join(r.CmdLine, " ")
			if strings.Contains(line, "go build") && strings.Contains(line, "-X main.buildVersion=${SLUICE_VERSION}") &&
				strings.Contains(line, "-X main.buildRevision=${SLUICE_REVISION}") && strings.Contains(line, "./cmd/sluice") {
				stamped = true
			}
		}
	}
	if !stamped {
		t.Error("the build stage does not stamp the version (-X main.buildVersion=${SLUICE_VERSION}, main.buildRevision)")
	}
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			s, ok := byName[role]
			if !ok {
				t.Fatalf("no stage %q", role)
			}
			var user string
			var health *instructions.HealthCheckCommand
			var entry []string
			var copied []string
			var libchdb bool
			// A final stage inherits from base; what it sets itself wins.
			for _, st := range []instructions.Stage{byName[s.BaseName], s} {
				for _, c := range st.Commands {
					switch c := c.(type) {
					case *instructions.UserCommand:
						user = c.User
					case *instructions.HealthCheckCommand:
						health = c
					case *instructions.EntrypointCommand:
						entry = c.CmdLine
					case *instructions.CopyCommand:
						for _, src := range c.SourcePaths {
							if strings.Contains(src, "libchdb") {
								libchdb = true
							}
							if c.From == "" {
								copied = append(copied, c.DestPath)
								if _, err := os.Stat(filepath.Join(root, src)); err != nil && !strings.ContainsAny(src, "*?") && src != "." {
									t.Errorf("COPY %s: %v", src, err)
								}
							}
						}
					}
				}
			}
			if name, _, _ := strings.Cut(user, ":"); name == "" || name == "0" || name == "root" {
				t.Errorf("runs as %q, want a non-root USER", user)
			}
			if health == nil || health.Health == nil || len(health.Health.Test) < 2 || health.Health.Test[0] == "NONE" ||
				!strings.Contains(strings.Join(health.Health.Test, " "), "/readyz") {
				t.Errorf("no HEALTHCHECK on /readyz: %+v", health)
			}
			if len(entry) < 4 || entry[0] != "/usr/local/bin/sluice" || entry[1] != role || entry[2] != "--config" {
				t.Fatalf("ENTRYPOINT %q does not run sluice %s --config", entry, role)
			}
			if !slices.Contains(copied, entry[3]) {
				t.Errorf("the entrypoint's configuration %s is not copied into the image (copied: %v)", entry[3], copied)
			}
			if libchdb != (role == "run") {
				t.Errorf("libchdb in the image: %v; only the run image needs the embedded engine", libchdb)
			}
		})
	}
}
