package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"sluice/storage/clickhouse"
	"sluice/storage/detect"
	"sluice/storage/migrate"
	"sluice/storage/queries"
)

// alertsUsage is `sluice alerts`' synopsis.
const alertsUsage = `usage: sluice alerts [--since 24h | --from T --to T] [--detection NAME] [--state open|closed|all] [--limit N]
                     [--addr ADDR] [--config FILE] [--format F] [--timeout D] [--sql]
       sluice alerts show ID [--limit N] ...

Lists the alerts the detections raised whose evidence (by flow time) overlaps the range, newest
first, one row per alert in its last state; "show ID" lists the flows behind one alert.
The address is --addr, else $SLUICE_ADDR, else http.listen of --config, else 127.0.0.1:8080.
`

// cmdAlerts lists alerts, or one alert's evidence, from a running sluice.
func cmdAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("alerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", addrFlagUsage)
	configPath := fs.String("config", "", "sluice's configuration file: its http.listen is the address (unless --addr or $"+serverAddrEnv+")")
	format := fs.String("format", "table", "output format: table, csv, tsv, json, jsonl, or a ClickHouse format name")
	since := fs.Duration("since", 24*time.Hour, "the range: from this long ago until now (ignored with --from)")
	fromFlag := fs.String("from", "", "start of the range, RFC 3339")
	toFlag := fs.String("to", "", "end of the range, RFC 3339 (default now)")
	detection := fs.String("detection", "", "only this detection: "+strings.Join(detect.Names(), ", "))
	state := fs.String("state", "all", "open (ongoing: open or updated), closed, or all")
	limit := fs.Int("limit", 100, "at most this many rows")
	showSQL := fs.Bool("sql", false, "print the SQL instead of running it")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, alertsUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := parseFlags(fs, args, printUsage, stdout, stderr); err != nil {
		return err
	}
	var show string
	if fs.NArg() > 0 {
		if fs.Arg(0) != "show" || fs.NArg() < 2 {
			printUsage(stderr)
			return errUsage
		}
		show = fs.Arg(1)
		if err := parseFlags(fs, fs.Args()[2:], printUsage, stdout, stderr); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "sluice alerts: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
			return errUsage
		}
	}
	now := time.Now()
	from, to := now.Add(-*since), now
	var err error
	if *fromFlag != "" {
		if from, err = time.Parse(time.RFC3339, *fromFlag); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if *toFlag != "" {
		if to, err = time.Parse(time.RFC3339, *toFlag); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	if *limit < 1 {
		return fmt.Errorf("--limit: want a positive number, got %d", *limit)
	}
	var sql string
	if show != "" {
		q, _ := queries.Lookup("alert-evidence")
		built, err := queries.Build(q, queries.Params{From: from, To: to, Alert: show, Limit: *limit}, migrate.Config{}, now)
		if err != nil {
			return err
		}
		sql = built.SQL
	} else {
		if sql, err = alertsSQL(from, to, *detection, *state, *limit); err != nil {
			return err
		}
	}
	if *showSQL {
		fmt.Fprintln(stdout, sql)
		return nil
	}
	return postSQLTimeout(ctx, *addr, *configPath, *timeout, *format, sql, stdout)
}

// alertsSQL lists alerts overlapping [from, to), filtered.
func alertsSQL(from, to time.Time, detection, state string, limit int) (string, error) {
	where := fmt.Sprintf("LastSeen >= fromUnixTimestamp64Milli(%d) AND FirstSeen < fromUnixTimestamp64Milli(%d)", from.UnixMilli(), to.UnixMilli())
	if detection != "" {
		if !slices.Contains(detect.Names(), detection) {
			return "", fmt.Errorf("--detection: unknown detection %q; known: %s", detection, strings.Join(detect.Names(), ", "))
		}
		where += " AND Detection = " + clickhouse.QuoteString(detection)
	}
	switch state {
	case "all":
	case "open":
		where += " AND State != 'closed'"
	case "closed":
		where += " AND State = 'closed'"
	default:
		return "", fmt.Errorf("--state: want open, closed or all, got %q", state)
	}
	return "SELECT Time AS Updated, Detection, Severity, State, FirstSeen, LastSeen, Summary, AlertID FROM " + migrate.AlertsTable +
		" FINAL WHERE " + where + fmt.Sprintf(" ORDER BY LastSeen DESC, AlertID LIMIT %d", limit), nil
}
