package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestParseServerAddress: client commands take a URL or host:port, as
// http.listen is written, and an error names where the address came from.
func TestParseServerAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9090":                "http://127.0.0.1:9090",
		"localhost:9090":                "http://localhost:9090",
		"http://127.0.0.1:9090":         "http://127.0.0.1:9090",
		"http://127.0.0.1:9090/":        "http://127.0.0.1:9090",
		"https://flows.example.net":     "https://flows.example.net",
		"https://example.net/sluice/":   "https://example.net/sluice",
		":9090":                         "http://127.0.0.1:9090",
		"0.0.0.0:9090":                  "http://127.0.0.1:9090",
		"[::]:9090":                     "http://[::1]:9090",
		"[2001:db8::1]:9090":            "http://[2001:db8::1]:9090",
		" 127.0.0.1:9090 ":              "http://127.0.0.1:9090",
		"http://[2001:db8::1]:9090/api": "http://[2001:db8::1]:9090/api",
	} {
		got, err := parseServerAddress(in, "SLUICE_ADDR")
		if err != nil || got.url != want {
			t.Errorf("%q: %q, %v; want %q", in, got.url, err, want)
		}
	}
	for _, in := range []string{"127.0.0.1", "localhost", "ftp://127.0.0.1:21", "http://", "http://h:1/?q=1", "127.0.0.1:", ""} {
		_, err := parseServerAddress(in, "http.listen in sluice.yaml")
		if err == nil || !strings.Contains(err.Error(), "http.listen in sluice.yaml") {
			t.Errorf("%q: err = %v, want an error naming http.listen in sluice.yaml", in, err)
		}
	}
}

// TestResolveServerAddress: --addr, else SLUICE_ADDR, else --config's
// http.listen, else the default.
func TestResolveServerAddress(t *testing.T) {
	for _, tc := range []struct {
		name, flag, env, config, listen string
		want, origin                    string
	}{
		{"flag first", "127.0.0.1:1", "127.0.0.1:2", "c.yaml", "127.0.0.1:3", "http://127.0.0.1:1", "--addr"},
		{"then the environment", "", "127.0.0.1:2", "c.yaml", "127.0.0.1:3", "http://127.0.0.1:2", "SLUICE_ADDR"},
		{"then the configuration", "", "", "c.yaml", "127.0.0.1:3", "http://127.0.0.1:3", "http.listen in c.yaml"},
		{"then the default", "", "", "", "", "http://127.0.0.1:8080", "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(serverAddrEnv, tc.env)
			got, err := resolveServerAddress(tc.flag, tc.config, tc.listen)
			if err != nil || got.url != tc.want || got.origin != tc.origin {
				t.Errorf("got %+v, %v; want %s from %s", got, err, tc.want, tc.origin)
			}
			if tc.origin == "default" && !strings.Contains(got.describe(), "set --addr, SLUICE_ADDR or --config") {
				t.Errorf("the default address does not say how to choose another: %s", got.describe())
			}
		})
	}
}

// TestClientAddressErrorsNameTheirOrigin: a sluice that cannot be reached
// is named with where its address came from, and the default says how to
// choose another.
func TestClientAddressErrorsNameTheirOrigin(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp")) // nothing listens there
	t.Setenv(serverAddrEnv, addr)
	err := dispatch(context.Background(), []string{"sql", "SELECT 1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "http://"+addr+" (from SLUICE_ADDR)") {
		t.Errorf("unreachable SLUICE_ADDR: %v", err)
	}
	err = dispatch(context.Background(), []string{"query", "top-sources"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "http://"+addr+" (from SLUICE_ADDR)") {
		t.Errorf("sluice query, unreachable SLUICE_ADDR: %v", err)
	}
	t.Setenv(serverAddrEnv, "not an address")
	err = dispatch(context.Background(), []string{"sql", "SELECT 1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `SLUICE_ADDR "not an address"`) {
		t.Errorf("bad SLUICE_ADDR: %v", err)
	}
}

// TestClientHelp: `sluice query --help`, `sluice sql -h` and `sluice help
// COMMAND` print the command's usage to stdout and succeed; a bad flag
// prints it to stderr and is a usage error.
func TestClientHelp(t *testing.T) {
	for _, args := range [][]string{
		{"query", "--help"}, {"query", "-h"}, {"query", "top-sources", "-h"}, {"help", "query"},
		{"sql", "--help"}, {"sql", "-h"}, {"help", "sql"},
	} {
		var stdout, stderr bytes.Buffer
		err := dispatch(context.Background(), args, &stdout, &stderr)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("sluice %s: %v", strings.Join(args, " "), err)
		}
		want := "usage: sluice sql"
		if slices.Contains(args, "query") {
			want = "usage: sluice query"
		}
		if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "-addr") || stderr.Len() != 0 {
			t.Errorf("sluice %s: stdout %q, stderr %q; want the usage on stdout", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	err := dispatch(context.Background(), []string{"query", "top-sources", "--no-such-flag"}, &stdout, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "usage: sluice query") || stdout.Len() != 0 {
		t.Errorf("a bad flag: err %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if err := dispatch(context.Background(), []string{"help"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "sluice help [COMMAND]") {
		t.Errorf("sluice help: %v\n%s", err, stdout.String())
	}
	if err := dispatch(context.Background(), []string{"help", "nonsense"}, &stdout, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("sluice help nonsense: err = %v, want a usage error", err)
	}
}

// TestHelpOnStdout: `sluice help COMMAND` prints every command's flags on
// stdout, where a pager reads them.
func TestHelpOnStdout(t *testing.T) {
	for command, flag := range map[string]string{"run": "-config", "collect": "-kafka-brokers", "pipeline": "-config", "migrate": "-check", "demo": "-target"} {
		var stdout, stderr bytes.Buffer
		if err := dispatch(context.Background(), []string{"help", command}, &stdout, &stderr); err != nil {
			t.Errorf("sluice help %s: %v", command, err)
		}
		if !strings.Contains(stdout.String(), flag) || stderr.Len() != 0 {
			t.Errorf("sluice help %s: stdout %q, stderr %q; want the flags on stdout", command, stdout.String(), stderr.String())
		}
	}
}
