package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"sluice/storage/queries"
)

// paramFlags collects repeated --param k=v.
type paramFlags map[string]string

func (p paramFlags) String() string { return fmt.Sprint(map[string]string(p)) }

func (p paramFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--param wants key=value, got %q", s)
	}
	p[k] = v
	return nil
}

// queryUsage is `sluice query`'s synopsis.
const queryUsage = `usage: sluice query NAME [--since 1h | --from T --to T] [--param k=v]... [--exact] [--sql]
                    [--addr ADDR] [--config FILE] [--format F] [--timeout D]
       sluice query list

Runs a query of the library against a running sluice (run or pipeline), from the coarsest
table that answers, and says on stderr which table and range answered.
The address is --addr, else $SLUICE_ADDR, else http.listen of --config, else 127.0.0.1:8080.
`

// cmdQuery runs one query of the library against a running sluice, through
// its read-only SQL endpoint, choosing the coarsest table that answers.
// Flags may come before or after NAME.
func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", addrFlagUsage)
	configPath := fs.String("config", "", "sluice's configuration file: its retentions decide which tables can answer, and its http.listen is the address (unless --addr or $"+serverAddrEnv+")")
	format := fs.String("format", "table", "output format: table, csv, tsv, json, jsonl, or a ClickHouse format name")
	since := fs.Duration("since", time.Hour, "the range: from this long ago until now (ignored with --from)")
	fromFlag := fs.String("from", "", "start of the range, RFC 3339 (e.g. 2026-11-24T10:00:00Z)")
	toFlag := fs.String("to", "", "end of the range, RFC 3339 (default now)")
	exact := fs.Bool("exact", false, "keep the range as given, even if only the raw table can then answer exactly")
	showSQL := fs.Bool("sql", false, "print the SQL instead of running it")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	params := paramFlags{}
	fs.Var(params, "param", "query parameter key=value (repeatable): limit=N (top-N queries: rows, default 10; traffic-by-*: the N series with the most bytes, default all), exporter=ADDRESS, baseline=DURATION (new-destinations, default 7d), address=A (host-timeline), alert=ID (alert-evidence)")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, queryUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	// The flag package stops at the first argument that is not a flag:
	// parse what comes before NAME, then what follows it.
	if err := parseFlags(fs, args, printUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		printUsage(stderr)
		return errUsage
	}
	name := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:], printUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice query: unexpected arguments after the flags: %s\n", strings.Join(fs.Args(), " "))
		return errUsage
	}
	if name == "list" {
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, q := range queries.Library {
			fmt.Fprintf(w, "%s\t%s\n", q.Name, q.Description)
		}
		return w.Flush()
	}
	q, ok := queries.Lookup(name)
	if !ok {
		return fmt.Errorf("unknown query %q; known: %s (sluice query list describes them)", name, strings.Join(queries.Names(), ", "))
	}
	cfg := DefaultConfig() // the retentions decide which tables can answer
	var err error
	if *configPath != "" {
		if cfg, err = LoadConfig(*configPath); err != nil {
			return err
		}
	}
	now := time.Now()
	p := queries.Params{From: now.Add(-*since), To: now, Align: !*exact}
	if *fromFlag != "" {
		if p.From, err = time.Parse(time.RFC3339, *fromFlag); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if *toFlag != "" {
		if p.To, err = time.Parse(time.RFC3339, *toFlag); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	for k, v := range params {
		switch k {
		case "limit":
			if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 {
				return fmt.Errorf("--param limit: want a positive number, got %q", v)
			}
		case "exporter":
			if p.Exporter, err = netip.ParseAddr(v); err != nil {
				return fmt.Errorf("--param exporter: %w", err)
			}
		case "baseline":
			if p.Baseline, err = parseDays(v); err != nil || p.Baseline <= 0 {
				return fmt.Errorf("--param baseline: want a positive duration (7d, 36h), got %q", v)
			}
		case "address":
			if p.Address, err = netip.ParseAddr(v); err != nil {
				return fmt.Errorf("--param address: %w", err)
			}
		case "alert":
			p.Alert = v
		default:
			return fmt.Errorf("--param %s: unknown parameter (limit, exporter, baseline, address, alert)", k)
		}
	}
	built, err := queries.Build(q, p, cfg.Storage.Schema, now)
	if err != nil {
		return err
	}
	if *showSQL {
		fmt.Fprintln(stdout, built.SQL)
		return nil
	}
	server, err := resolveServerAddress(*addr, *configPath, cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s from %s, %s to %s\n", q.Name, built.Table,
		built.From.Format(time.RFC3339), built.To.Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return postSQL(ctx, server, *format, built.SQL, stdout)
}

// parseDays parses a duration as time.ParseDuration does, and also a whole
// number of days: "7d".
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("%q: not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
