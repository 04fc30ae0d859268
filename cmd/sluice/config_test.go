package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/config")

// TestConfigGolden loads testdata/config/<case>/in.yaml and compares the
// resulting configuration (expected.yaml) or the error (error.txt, with the
// file's path written as in.yaml) with the golden file.
func TestConfigGolden(t *testing.T) {
	// Workers defaults to GOMAXPROCS: pin it so the defaults are stable.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	cases, err := filepath.Glob("testdata/config/*/in.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no config cases: %v", err)
	}
	for _, in := range cases {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, err := LoadConfig(in)
			var got, golden string
			if err != nil {
				golden = filepath.Join(dir, "error.txt")
				got = strings.ReplaceAll(err.Error(), in, "in.yaml") + "\n"
			} else {
				golden = filepath.Join(dir, "expected.yaml")
				out, err := yaml.Marshal(cfg)
				if err != nil {
					t.Fatal(err)
				}
				got = string(out)
			}
			if *update {
				os.Remove(filepath.Join(dir, "error.txt"))
				os.Remove(filepath.Join(dir, "expected.yaml"))
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("%s differs:\n got:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// A loaded configuration round-trips: what `expected.yaml` says is what
// loading it again gives, so the golden files are valid configurations.
func TestConfigGoldenFilesLoad(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	files, _ := filepath.Glob("testdata/config/*/expected.yaml")
	for _, f := range files {
		if _, err := LoadConfig(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestConfigCheckCommand(t *testing.T) {
	var out strings.Builder
	if err := dispatch(t.Context(), []string{"config", "check", "testdata/config/full/in.yaml"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ok") {
		t.Fatalf("output %q", out.String())
	}
	err := dispatch(t.Context(), []string{"config", "check", "testdata/config/unknown-keys/in.yaml"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "collector.netflow.lisen") {
		t.Fatalf("err = %v, want the unknown key's path", err)
	}
	err = dispatch(t.Context(), []string{"config", "check", "testdata/config/type-errors/in.yaml"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "testdata/config/type-errors/in.yaml: line 2: collector.workers: want an integer, got \"two\"") {
		t.Fatalf("err = %v, want the file, line, key path and expected type", err)
	}
}

// The configuration shown in README.md is a valid configuration.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```yaml\ndata:")
	if !ok {
		t.Fatal("README.md has no configuration example")
	}
	block, _, _ = strings.Cut(block, "```")
	path := filepath.Join(t.TempDir(), "readme.yaml")
	if err := os.WriteFile(path, []byte("data:"+block), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	// It shows the defaults: loading it gives the defaults (workers aside).
	def := DefaultConfig()
	cfg.Collector.Workers = def.Collector.Workers
	got, _ := yaml.Marshal(cfg)
	want, _ := yaml.Marshal(def)
	if string(got) != string(want) {
		t.Errorf("README's configuration differs from the defaults:\n%s\nwant:\n%s", got, want)
	}
}
