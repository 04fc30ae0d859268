package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// serverAddrEnv names the environment variable that tells client commands
// (sql, query) where a running sluice serves HTTP.
const serverAddrEnv = "SLUICE_ADDR"

// addrFlagUsage describes --addr, and where the address comes from without it.
const addrFlagUsage = "sluice's HTTP address, host:port or URL (default: $" + serverAddrEnv +
	", else http.listen of --config, else 127.0.0.1:8080)"

// serverAddress is the HTTP endpoint of a running sluice that a client
// command talks to, and where that address came from, which its errors name.
type serverAddress struct {
	url    string // http://host:port, with no trailing slash
	origin string // "--addr", "SLUICE_ADDR", "http.listen in FILE" or "default"
}

// describe names the address and its origin for an error message; for the
// default, it says how to choose another.
func (a serverAddress) describe() string {
	if a.origin == "default" {
		return a.url + " (the default address; set --addr, " + serverAddrEnv + " or --config if sluice listens elsewhere)"
	}
	return a.url + " (from " + a.origin + ")"
}

// resolveServerAddress chooses the address of a client command: --addr,
// else $SLUICE_ADDR, else http.listen of the --config file (configListen,
// read by the caller when configPath is set), else http.listen's default.
func resolveServerAddress(addrFlag, configPath, configListen string) (serverAddress, error) {
	if addrFlag != "" {
		return parseServerAddress(addrFlag, "--addr")
	}
	if env := os.Getenv(serverAddrEnv); env != "" {
		return parseServerAddress(env, serverAddrEnv)
	}
	if configPath != "" {
		return parseServerAddress(configListen, "http.listen in "+configPath)
	}
	return parseServerAddress(DefaultConfig().HTTP.Listen, "default")
}

// parseServerAddress accepts a URL (http:// or https://, with an optional
// path prefix for a reverse proxy) or host:port, as http.listen is written.
// A listen address on every interface (":8080", "0.0.0.0:8080",
// "[::]:8080") is reached on loopback.
func parseServerAddress(s, origin string) (serverAddress, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return serverAddress{}, fmt.Errorf("%s %q: %w", origin, s, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return serverAddress{}, fmt.Errorf("%s %q: the scheme must be http or https", origin, s)
		}
		if u.Host == "" {
			return serverAddress{}, fmt.Errorf("%s %q: no host", origin, s)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return serverAddress{}, fmt.Errorf("%s %q: want no query or fragment", origin, s)
		}
		return serverAddress{url: strings.TrimRight(u.String(), "/"), origin: origin}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return serverAddress{}, fmt.Errorf("%s %q: want host:port or http://host:port", origin, s)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return serverAddress{url: "http://" + net.JoinHostPort(host, port), origin: origin}, nil
}

// sqlUsage is `sluice sql`'s synopsis.
const sqlUsage = `usage: sluice sql [--addr ADDR] [--config FILE] [--format F] [--timeout D] "SQL"   (or the SQL on stdin)

Sends one read-only query to a running sluice (run or pipeline) and prints the answer.
The address is --addr, else $SLUICE_ADDR, else http.listen of --config, else 127.0.0.1:8080.
`

// cmdSQL sends one query to a running `sluice run` and prints the answer.
// Its usage, asked for with -h, goes to stdout, and on a mistake to stderr.
func cmdSQL(ctx context.Context, args []string, stdout io.Writer) error {
	return runSQLCommand(ctx, args, stdout, os.Stderr)
}

func runSQLCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", addrFlagUsage)
	configPath := fs.String("config", "", "sluice's configuration file: the address is its http.listen (unless --addr or $"+serverAddrEnv+")")
	format := fs.String("format", "table", "output format: table, csv, tsv, json, jsonl, or a ClickHouse format name")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, sqlUsage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := parseFlags(fs, args, printUsage, stdout, stderr); err != nil {
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
		printUsage(stderr)
		return errUsage
	}
	return postSQLTimeout(ctx, *addr, *configPath, *timeout, *format, query, stdout)
}

// postSQLTimeout runs a query of a client command (sql, alerts): it finds
// sluice from --addr and --config, and gives up after timeout.
func postSQLTimeout(ctx context.Context, addr, configPath string, timeout time.Duration, format, query string, stdout io.Writer) error {
	var configListen string
	if configPath != "" {
		cfg, err := LoadConfig(configPath)
		if err != nil {
			return err
		}
		configListen = cfg.HTTP.Listen
	}
	server, err := resolveServerAddress(addr, configPath, configListen)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return postSQL(ctx, server, format, query, stdout)
}

// parseFlags parses a client command's flags. Help asked for (-h, --help)
// prints the usage to stdout and ends the command with flag.ErrHelp, which
// is no failure; a mistake prints the flag package's error and the usage
// to stderr, and is an errUsage.
func parseFlags(fs *flag.FlagSet, args []string, printUsage func(io.Writer), stdout, stderr io.Writer) error {
	fs.Usage = func() {} // printed below, to the right writer
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return err
	default:
		printUsage(stderr)
		return fmt.Errorf("%w: %v", errUsage, err)
	}
}

// postSQL runs a query on sluice's SQL endpoint and copies the answer to
// stdout. A query the server refuses fails with the server's message: for
// an SQL error, the engine's code and message.
func postSQL(ctx context.Context, server serverAddress, format, query string, stdout io.Writer) error {
	endpoint := server.url + "/api/v1/sql?format=" + url.QueryEscape(format)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(query))
	if err != nil {
		return fmt.Errorf("sluice at %s: %w", server.describe(), err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach sluice at %s: %w", server.describe(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		msg := strings.TrimSpace(string(body))
		switch resp.StatusCode {
		case http.StatusBadRequest:
			// The query's own fault: the message is the whole story.
			return errors.New(msg)
		case http.StatusNotFound:
			return fmt.Errorf("sluice at %s has no SQL endpoint (%s): is it `sluice run` or `sluice pipeline`, not `sluice collect`?", server.describe(), resp.Status)
		default:
			return fmt.Errorf("sluice at %s answered %s: %s", server.describe(), resp.Status, msg)
		}
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("read the answer of sluice at %s: %w", server.describe(), err)
	}
	return nil
}
