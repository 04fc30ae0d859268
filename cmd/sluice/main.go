// Command sluice collects NetFlow v5/v9, IPFIX and sFlow v5, and stores the
// flows in ClickHouse. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"
)

const usage = `sluice: network flow collector and analytics

usage:
  sluice run      [--config FILE] [--data DIR] [--http ADDR] ...      collector + storage in one process (embedded ClickHouse)
  sluice collect  [--config FILE] [--kafka-brokers LIST] ...          collector → Kafka (spools to --data while Kafka is down)
  sluice pipeline [--config FILE] [--kafka-brokers LIST] ...          Kafka consumer group → storage (embedded ClickHouse in --data, or --backend server)
  sluice sql      [--addr ADDR] [--config FILE] [--format F] "SQL"    query a running sluice
  sluice query    NAME [--since 1h] [--param k=v] [--addr ADDR] [--format F] ...   run a library query (sluice query list)
  sluice alerts   [--since 24h] [--detection NAME] [--state open|closed|all] [--addr ADDR] ...   list the detections' alerts (show ID: its flows)
  sluice demo     --target HOST:PORT [--rate N] [--duration D] ...    send demo NetFlow v5/v9, IPFIX and sFlow
  sluice migrate  [--config FILE] [--data DIR] [--check] [--allow-destructive] ...   create, upgrade or check the schema, then exit
  sluice config check FILE                                           validate a configuration file
  sluice version                                                     the version, VCS revision and Go version of this build
  sluice help [COMMAND]

The client commands (sql, query, alerts) find sluice at --addr, else $SLUICE_ADDR, else http.listen of
--config, else 127.0.0.1:8080.
Run "sluice help COMMAND" or "sluice COMMAND -h" for a command's flags.
`

var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, the default behaviour returns: a second
	// Ctrl-C or SIGTERM ends a shutdown that takes too long.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // help was asked for and given
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stderr)
	case "collect":
		return cmdCollect(ctx, args[1:], stderr)
	case "pipeline":
		return cmdPipeline(ctx, args[1:], stderr)
	case "sql":
		return runSQLCommand(ctx, args[1:], stdout, stderr)
	case "query":
		return cmdQuery(ctx, args[1:], stdout, stderr)
	case "alerts":
		return cmdAlerts(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout, stderr)
	case "config":
		if slices.ContainsFunc(args[1:], isHelpFlag) {
			return help(ctx, args[:1], stdout, stderr)
		}
		if len(args) == 3 && args[1] == "check" {
			return cmdConfigCheck(args[2], stdout)
		}
		fmt.Fprintln(stderr, configUsage)
		return errUsage
	case "version", "--version":
		if len(args) == 2 && isHelpFlag(args[1]) {
			return help(ctx, args[:1], stdout, stderr)
		}
		if len(args) > 1 {
			fmt.Fprintln(stderr, versionUsage)
			return errUsage
		}
		fmt.Fprintln(stdout, "sluice", version())
		return nil
	case "help", "-h", "--help":
		return help(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

const versionUsage = "usage: sluice version   (the module version, VCS revision and Go version of this build)"

const configUsage = "usage: sluice config check FILE   (validate a configuration file: unknown keys and bad values, by key path)"

// isHelpFlag tells the flags that ask for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// help prints sluice's usage, or with a command, that command's usage: the
// command is run with -h, and its flag set prints it. A command ending in
// flag.ErrHelp has done what was asked.
func help(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return nil
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "usage: sluice help [COMMAND]\n")
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, versionUsage)
		return nil
	case "config":
		fmt.Fprintln(stdout, configUsage)
		return nil
	case "run", "collect", "pipeline", "sql", "query", "alerts", "demo", "migrate":
		// The usage was asked for: it goes to stdout, where `sluice help run | less` reads
		// it, also for the commands whose flag sets print to their stderr.
		if err := dispatch(ctx, []string{args[0], "-h"}, stdout, stdout); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	default:
		fmt.Fprintf(stderr, "sluice help: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

// version describes this build from the build information that the Go
// toolchain records in the binary.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information) " + runtime.Version()
	}
	return describeBuild(stamped(info, buildVersion, buildRevision))
}

// buildVersion and buildRevision, set at link time with
// -ldflags "-X main.buildVersion=v1.4.0 -X main.buildRevision=5eeb0ec3a852",
// name a build made without VCS information: deploy/docker/Dockerfile
// builds from a copy of the tree without .git, and passes them in.
var buildVersion, buildRevision string

// stamped returns info with the link-time version and revision in place of
// what the toolchain recorded, where they are set; the toolchain's own VCS
// revision, when it has one, wins over a link-time one.
func stamped(info *debug.BuildInfo, version, revision string) *debug.BuildInfo {
	if version == "" && revision == "" {
		return info
	}
	out := *info
	if version != "" {
		out.Main.Version = version
	}
	if revision != "" && !slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "vcs.revision" }) {
		out.Settings = append(slices.Clone(info.Settings), debug.BuildSetting{Key: "vcs.revision", Value: revision})
	}
	return &out
}

// describeBuild writes the module version, the VCS revision (12 hex
// digits, "+dirty" when the tree had uncommitted changes) and its commit
// time, and the Go version, as in
//
//	v0.0.0-20261124091133-5eeb0ec3a852 (revision 5eeb0ec3a852, 2026-11-24T09:11:33Z; go1.26.8 linux/amd64)
//
// Since Go 1.24 `go build` in a git checkout writes a pseudo-version such
// as that one; a build without one says "(devel)", and the revision still
// tells what was built. A build without VCS information (-buildvcs=false,
// as a GOFLAGS setting can impose, or a copy of the tree without .git)
// says so.
func describeBuild(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	platform := info.GoVersion
	if goos, goarch := settings["GOOS"], settings["GOARCH"]; goos != "" && goarch != "" {
		platform += " " + goos + "/" + goarch
	}
	revision := settings["vcs.revision"]
	if revision == "" {
		return fmt.Sprintf("%s (no VCS revision: built with -buildvcs=false or outside a git checkout; %s)", info.Main.Version, platform)
	}
	revision = revision[:min(len(revision), 12)]
	if settings["vcs.modified"] == "true" {
		revision += "+dirty"
	}
	if t := settings["vcs.time"]; t != "" {
		revision += ", " + t
	}
	return fmt.Sprintf("%s (revision %s; %s)", info.Main.Version, revision, platform)
}

func cmdConfigCheck(path string, stdout io.Writer) error {
	if _, err := LoadConfig(path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return nil
}
