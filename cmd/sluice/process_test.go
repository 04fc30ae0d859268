package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// process is one running sluice command started by a test: `run`,
// `collect` or `pipeline`, with its HTTP endpoint and its log.
type process struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	http   string
	log    *bytes.Buffer
	logMu  *sync.Mutex
	exited chan error
	reaped bool // exited has been received from
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startProcess starts `sluice ARGS --http HTTP` and waits until /readyz
// answers 200. An exit before that, or 90 s without it, is an error (which
// carries the log), so a caller can retry when a port was taken meanwhile.
// The process is killed at the end of the test if still running.
func startProcess(t *testing.T, name, httpAddr string, args ...string) (*process, error) {
	t.Helper()
	return startProcessEnv(t, nil, name, httpAddr, args...)
}

// startProcessEnv is startProcess with env added to the test's environment
// (a later entry wins).
func startProcessEnv(t *testing.T, env []string, name, httpAddr string, args ...string) (*process, error) {
	t.Helper()
	p := &process{
		t: t, name: name, http: httpAddr,
		log: &bytes.Buffer{}, logMu: &sync.Mutex{}, exited: make(chan error, 1),
	}
	args = append(args, "--http", httpAddr)
	if (name == "run" || name == "pipeline") && !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--clickhouse-listen") }) {
		// Not ClickHouse's port: tests run side by side.
		args = append(args, "--clickhouse-listen", "127.0.0.1:0")
	}
	p.cmd = exec.Command(sluiceBinary(t), args...)
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = syncWriter{p.logMu, p.log}
	p.cmd.Stderr = syncWriter{p.logMu, p.log}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.reaped {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("sluice %s log:\n%s", p.name, p.logText())
		}
	})
	var exited error
	ready := testenv.Poll(90*time.Second, func() bool {
		select {
		case err := <-p.exited:
			p.reaped, exited = true, fmt.Errorf("sluice %s exited before being ready: %v\n%s", p.name, err, p.logText())
			return true
		default:
		}
		return p.readyStatus() == http.StatusOK
	})
	switch {
	case exited != nil:
		return nil, exited
	case !ready:
		return nil, fmt.Errorf("sluice %s not ready after 90 s:\n%s", p.name, p.logText())
	}
	return p, nil
}

func (p *process) readyStatus() int {
	resp, err := http.Get("http://" + p.http + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *process) logText() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.log.String()
}

// term sends SIGTERM and expects a clean exit.
func (p *process) term() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.reaped = true
		if err != nil {
			p.t.Fatalf("sluice %s exited with %v after SIGTERM:\n%s", p.name, err, p.logText())
		}
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("sluice %s still running 2 minutes after SIGTERM:\n%s", p.name, p.logText())
	}
}

// kill sends SIGKILL: no chance to store, commit or flush anything.
func (p *process) kill() {
	p.t.Helper()
	p.cmd.Process.Kill()
	<-p.exited
	p.reaped = true
}

// metric sums the series of a metric (every label set).
func (p *process) metric(name string) float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func (p *process) sql(query string) string {
	p.t.Helper()
	var out bytes.Buffer
	if err := cmdSQL(context.Background(), []string{"--addr", "http://" + p.http, "--format", "TSV", query}, &out); err != nil {
		p.t.Fatalf("sql %q: %v", query, err)
	}
	return out.String()
}
