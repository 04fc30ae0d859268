package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// cmdSQL sends one query to a running `sluice run` and prints the answer.
func cmdSQL(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "URL of sluice's HTTP endpoint")
	format := fs.String("format", "table", "output format: table, csv, tsv, json, jsonl, or a ClickHouse format name")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluice sql [--addr URL] [--format table|csv|json] \"SELECT ...\"  (or the query on stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	query := strings.Join(fs.Args(), " ")
	if query == "" || query == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return fmt.Errorf("read query from stdin: %w", err)
		}
		query = string(b)
	}
	if strings.TrimSpace(query) == "" {
		fs.Usage()
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	endpoint := strings.TrimRight(*addr, "/") + "/api/v1/sql?format=" + url.QueryEscape(*format)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(query))
	if err != nil {
		return fmt.Errorf("--addr %q: %w", *addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("query %s (is `sluice run` running?): %w", *addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("query failed (%s): %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(stdout, resp.Body)
	return err
}
