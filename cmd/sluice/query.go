package main

import (
	"context"
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

// cmdQuery runs one query of the library against a running sluice, through
// its read-only SQL endpoint, choosing the coarsest table that answers.
func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cf := newCommonFlags("query")
	fs := cf.fs
	addr := fs.String("addr", "http://127.0.0.1:8080", "URL of sluice's HTTP endpoint")
	format := fs.String("format", "table", "output format: table, csv, tsv, json, jsonl, or a ClickHouse format name")
	since := fs.Duration("since", time.Hour, "the range: from this long ago until now (ignored with --from)")
	fromFlag := fs.String("from", "", "start of the range, RFC 3339 (e.g. 2026-11-24T10:00:00Z)")
	toFlag := fs.String("to", "", "end of the range, RFC 3339 (default now)")
	exact := fs.Bool("exact", false, "keep the range as given, even if only the raw table can then answer exactly")
	showSQL := fs.Bool("sql", false, "print the SQL instead of running it")
	params := paramFlags{}
	fs.Var(params, "param", "query parameter key=value: limit=N, exporter=ADDRESS, baseline=DURATION (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluice query NAME [--since 1h | --from T --to T] [--param k=v] [--addr URL] [--format F]")
		fmt.Fprintln(fs.Output(), "       sluice query list")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return errUsage
	}
	name := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
		return fmt.Errorf("unknown query %q; known: %s", name, strings.Join(queries.Names(), ", "))
	}
	cfg, err := cf.load(nil) // the retentions decide which tables can answer
	if err != nil {
		return err
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
			if p.Baseline, err = time.ParseDuration(v); err != nil || p.Baseline <= 0 {
				return fmt.Errorf("--param baseline: want a positive duration, got %q", v)
			}
		default:
			return fmt.Errorf("--param %s: unknown parameter (limit, exporter, baseline)", k)
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
	fmt.Fprintf(stderr, "%s from %s, %s to %s\n", q.Name, built.Table,
		built.From.Format(time.RFC3339), built.To.Format(time.RFC3339))
	return cmdSQL(ctx, []string{"--addr", *addr, "--format", *format, built.SQL}, stdout)
}
