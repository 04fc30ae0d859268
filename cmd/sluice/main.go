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
	"runtime/debug"
	"syscall"
)

const usage = `sluice: network flow collector and analytics

usage:
  sluice run      [--config FILE] [--data DIR] ...   collector + storage in one process (embedded ClickHouse)
  sluice collect  [--config FILE] [--kafka-brokers LIST] ...   collector → Kafka (spools to --data while Kafka is down)
  sluice pipeline [--config FILE] [--kafka-brokers LIST] ...   Kafka consumer group → storage (embedded ClickHouse in --data)
  sluice sql      [--addr URL] [--format F] "SQL"    query a running sluice
  sluice query    NAME [--since 1h] [--param k=v]    run a library query (sluice query list)
  sluice demo     --target HOST:PORT [--rate N] [--duration D]   send demo NetFlow v9, IPFIX and sFlow
  sluice migrate  [--config FILE] [--data DIR] [--check] [--allow-destructive]   create, upgrade or check the schema, then exit
  sluice config check FILE                           validate a configuration file
  sluice version

Run "sluice COMMAND -h" for a command's flags.
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
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
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
		return cmdSQL(ctx, args[1:], stdout)
	case "query":
		return cmdQuery(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) == 3 && args[1] == "check" {
			return cmdConfigCheck(args[2], stdout)
		}
		fmt.Fprintln(stderr, "usage: sluice config check FILE")
		return errUsage
	case "version", "--version":
		fmt.Fprintln(stdout, "sluice", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

func cmdConfigCheck(path string, stdout io.Writer) error {
	if _, err := LoadConfig(path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return nil
}
