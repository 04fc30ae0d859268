package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sluice/internal/testenv"
)

// commandFlags runs `sluice CMD -h` and lists the flags it prints.
func commandFlags(t *testing.T, bin, command string) []string {
	t.Helper()
	out, err := exec.Command(bin, command, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice %s -h: %v\n%s", command, err, out)
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags = append(flags, m[1])
	}
	if len(flags) == 0 {
		t.Fatalf("sluice %s -h lists no flags:\n%s", command, out)
	}
	return flags
}

// synopses reads the lines of a usage block that start with "sluice CMD",
// with their continuation lines, by command.
func synopses(block string) map[string]string {
	out := map[string]string{}
	command := ""
	for _, line := range strings.Split(block, "\n") {
		trimmed := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(trimmed, "sluice "); ok {
			command = strings.Fields(rest)[0]
			out[command] += " " + rest
		} else if command != "" && trimmed != "" && strings.HasPrefix(line, " ") {
			out[command] += " " + trimmed
		} else {
			command = ""
		}
	}
	return out
}

var synopsisFlag = regexp.MustCompile(`--([a-z0-9-]+)`)

// TestSynopses: README's synopsis of each command lists exactly the flags
// the command has, and main's usage text names none it lacks.
func TestSynopses(t *testing.T) {
	requireChdb(t) // the commands' -h runs the binary, which loads libchdb
	bin := sluiceBinary(t)
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, commands, ok := strings.Cut(string(readme), "## Commands\n\n```\n")
	if !ok {
		t.Fatal("README has no ## Commands block")
	}
	commands, _, _ = strings.Cut(commands, "```")
	readmeSynopses := synopses(commands)
	usageSynopses := synopses(usage)
	for _, command := range []string{"run", "collect", "pipeline", "sql", "query", "alerts", "demo", "migrate"} {
		flags := commandFlags(t, bin, command)
		var documented []string
		for _, m := range synopsisFlag.FindAllStringSubmatch(readmeSynopses[command], -1) {
			documented = append(documented, m[1])
		}
		for _, f := range flags {
			if !slices.Contains(documented, f) {
				t.Errorf("README's synopsis of sluice %s lacks --%s", command, f)
			}
		}
		for _, f := range documented {
			if !slices.Contains(flags, f) {
				t.Errorf("README's synopsis of sluice %s names --%s, which it does not have", command, f)
			}
		}
		if usageSynopses[command] == "" {
			t.Errorf("sluice's usage text has no line for %s", command)
		}
		for _, m := range synopsisFlag.FindAllStringSubmatch(usageSynopses[command], -1) {
			if !slices.Contains(flags, m[1]) {
				t.Errorf("sluice's usage text names --%s for %s, which it does not have", m[1], command)
			}
		}
	}
}
