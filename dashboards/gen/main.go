// Command gen writes sluice's Grafana dashboards into dashboards/json, from
// the definitions in package dashboards and the query library. Run it from
// dashboards/ (go generate ./dashboards) or give the directory:
//
//	go run ./dashboards/gen [DIR]
//
// Files of dashboards no longer defined are removed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sluice/dashboards"
)

func main() {
	dir := dashboards.Dir
	if len(os.Args) > 1 {
		dir = os.Args[1]
	} else if _, err := os.Stat("dashboard.go"); err != nil {
		dir = filepath.Join("dashboards", dashboards.Dir) // run from the repository's root
	}
	if err := run(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := dashboards.Render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if _, ok := files[filepath.Base(f)]; !ok && strings.HasPrefix(filepath.Base(f), "sluice-") {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
