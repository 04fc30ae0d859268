package check

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// units are sluice's systemd units and the configuration each runs.
var units = map[string]string{
	"sluice-run.service":      "/etc/sluice/run.yaml",
	"sluice-collect.service":  "/etc/sluice/collect.yaml",
	"sluice-pipeline.service": "/etc/sluice/pipeline.yaml",
}

// securityLevels are the ratings of `systemd-analyze security` at "OK" or
// better (the next, MEDIUM, starts at an exposure of 5.0).
var securityLevels = map[string]bool{"OK": true, "SAFE": true, "PERFECT": true}

// TestSystemdUnits: each unit passes `systemd-analyze verify` (with its
// binary path pointed at the sluice the test built, the only change: verify
// insists the command exists), scores "OK" or better in `systemd-analyze
// security`, the score deploy/README.md gives, and runs a role with the
// hardening the issue asks for.
func TestSystemdUnits(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "systemd")
	dir := filepath.Join(repoRoot(t), "deploy/systemd")
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	bin := sluiceBinary(t)
	for unit, config := range units {
		t.Run(unit, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, unit))
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			role := strings.TrimSuffix(strings.TrimPrefix(unit, "sluice-"), ".service")
			for _, want := range []string{
				"ExecStart=/usr/local/bin/sluice " + role + " --config " + config,
				"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=sluice-" + role, "NoNewPrivileges=yes",
				"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
			} {
				if !slices.ContainsFunc(strings.Split(text, "\n"), func(l string) bool { return l == want || strings.HasPrefix(l, want+" ") }) {
					t.Errorf("%s lacks %q", unit, want)
				}
			}
			caps := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindStringSubmatch(text)
			wantCaps := "CAP_NET_BIND_SERVICE" // collectors may bind low UDP ports
			if role == "pipeline" {
				wantCaps = ""
			}
			if caps == nil || caps[1] != wantCaps {
				t.Errorf("%s: CapabilityBoundingSet=%v, want %q", unit, caps, wantCaps)
			}
			local := filepath.Join(t.TempDir(), unit)
			if err := os.WriteFile(local, []byte(strings.ReplaceAll(text, "/usr/local/bin/sluice", bin)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(analyze, "verify", local).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
			}
			// The credentials the unit offers commented out verify once
			// uncommented, and the README names where they land.
			if strings.Contains(text, "#LoadCredential=") {
				uncommented := filepath.Join(t.TempDir(), unit)
				if err := os.WriteFile(uncommented, []byte(strings.ReplaceAll(strings.ReplaceAll(text, "#LoadCredential=", "LoadCredential="),
					"/usr/local/bin/sluice", bin)), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command(analyze, "verify", uncommented).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
					t.Errorf("systemd-analyze verify %s with its LoadCredential= lines: %v\n%s", unit, err, out)
				}
				if dir := "/run/credentials/" + unit + "/"; !strings.Contains(string(readme), dir) {
					t.Errorf("deploy/README.md does not say the credentials land in %s", dir)
				}
			} else if role != "run" {
				t.Errorf("%s offers no LoadCredential= for its TLS keys and password files (DynamicUser cannot read them)", unit)
			}
			out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", local).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
			}
			m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("no overall exposure in:\n%s", out)
			}
			if score, err := strconv.ParseFloat(m[1], 64); err != nil || score >= 5 || !securityLevels[m[2]] {
				t.Errorf("%s: exposure %s %s, want OK or better", unit, m[1], m[2])
			}
			t.Logf("%s: systemd-analyze security %s %s", unit, m[1], m[2])
			if row := fmt.Sprintf("| `%s` | %s %s |", unit, m[1], m[2]); !strings.Contains(string(readme), row) {
				t.Errorf("deploy/README.md lacks the row %q", row)
			}
		})
	}
}
