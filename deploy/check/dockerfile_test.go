package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// pinned is an image named by digest, or by a tag with an exact version
// down to the patch release (1.26.8, 4.1.1, v3.5.0; with a suffix such as
// -slim), or Debian's point release (13.2-slim: Debian's versions have two
// numbers), never a moving name such as latest, trixie, 1 or 26.7.
var pinned = regexp.MustCompile(`(@sha256:[0-9a-f]{64}$)|(:v?[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9.-]+)?$)|(^debian:[0-9]+\.[0-9]+(-slim)?$)`)

// roles are the Dockerfile's final stages: the image each role runs.
var roles = []string{"collect", "pipeline", "run"}

// TestDockerfile reads deploy/docker/Dockerfile with BuildKit's parser
// (what `docker build` reads it with) and checks each role's image: every
// base pinned, a non-root user, a health check on /readyz, the entrypoint
// running its role with the configuration copied in, the embedded engine's
// library in the run image only, and the version stamped at build.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := dockerStages(t)
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
			// The binary alone as the entrypoint: a pod's args or compose's
			// command replace the role's arguments, never follow them.
			entry, cmd := imageArgv(t, byName, role)
			if !slices.Equal(entry, []string{"/usr/local/bin/sluice"}) {
				t.Errorf("ENTRYPOINT %q, want the binary alone (a pod's args would follow the role's)", entry)
			}
			argv := append(entry, cmd...)
			config, err := configFlag(argv)
			if err != nil || len(argv) < 2 || argv[1] != role {
				t.Fatalf("ENTRYPOINT+CMD %q does not run sluice %s --config: %v", argv, role, err)
			}
			if !slices.Contains(copied, config) {
				t.Errorf("the command's configuration %s is not copied into the image (copied: %v)", config, copied)
			}
			if libchdb != (role == "run") {
				t.Errorf("libchdb in the image: %v; only the run image needs the embedded engine", libchdb)
			}
		})
	}
}

// dockerStages parses deploy/docker/Dockerfile with BuildKit's parser.
func dockerStages(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "deploy/docker/Dockerfile"))
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
	return stages
}

// imageArgv is a role image's ENTRYPOINT and CMD as Docker resolves them:
// inherited along the stages' bases, and an ENTRYPOINT set in a stage
// clears the CMD inherited.
func imageArgv(t *testing.T, byName map[string]instructions.Stage, role string) (entry, cmd []string) {
	t.Helper()
	var chain []instructions.Stage
	for s, ok := byName[role]; ok; s, ok = byName[s.BaseName] {
		chain = append([]instructions.Stage{s}, chain...)
	}
	for _, s := range chain {
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.EntrypointCommand:
				if !c.PrependShell {
					entry, cmd = c.CmdLine, nil
				} else {
					t.Errorf("stage %s: ENTRYPOINT in shell form", s.Name)
				}
			case *instructions.CmdCommand:
				if c.PrependShell {
					t.Errorf("stage %s: CMD in shell form", s.Name)
				}
				cmd = c.CmdLine
			}
		}
	}
	return entry, cmd
}

// containerArgv is what a container runs, as Kubernetes (and compose)
// resolve it: command replaces the image's ENTRYPOINT and CMD, args
// replace its CMD only.
func containerArgv(entry, cmd, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(slices.Clone(command), args...)
	case len(args) > 0:
		return append(slices.Clone(entry), args...)
	}
	return append(slices.Clone(entry), cmd...)
}

// boolFlags are sluice's flags that take no value.
var boolFlags = []string{"print-users", "check", "allow-destructive"}

// configFlag is the --config a sluice argv (binary, role, flags) reads as
// Go's flag package parses it: the last one wins; an argument left after
// the flags is an error, as sluice makes it one.
func configFlag(argv []string) (string, error) {
	if len(argv) < 2 {
		return "", fmt.Errorf("argv %q: no role", argv)
	}
	var config string
	for i := 2; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") {
			return "", fmt.Errorf("argv %q: unexpected argument %q", argv, a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && !slices.Contains(boolFlags, name) {
			if i+1 >= len(argv) {
				return "", fmt.Errorf("argv %q: flag %s has no value", argv, a)
			}
			i++
			value = argv[i]
		}
		if name == "config" {
			config = value
		}
	}
	if config == "" {
		return "", fmt.Errorf("argv %q: no --config", argv)
	}
	return config, nil
}

// dockerStagesByName is the Dockerfile's stages by name.
func dockerStagesByName(t *testing.T) map[string]instructions.Stage {
	t.Helper()
	byName := map[string]instructions.Stage{}
	for _, s := range dockerStages(t) {
		byName[s.Name] = s
	}
	return byName
}
