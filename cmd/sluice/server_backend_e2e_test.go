package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// TestServerBackendHTTP runs `sluice pipeline --backend server` against a
// ClickHouse server played by a second sluice process (`sluice run` serving
// ClickHouse's HTTP interface with its writer user), over protocol http:
// the pipeline runs without libchdb, migrates the server, stores what the
// real Kafka broker holds (fed by `sluice collect` and demo traffic),
// survives the server being killed and restarted mid-stream with every
// flow stored exactly once (per-row hashes), and answers `sluice sql` and
// `sluice query` by reading the server.
func TestServerBackendHTTP(t *testing.T) {
	srv, restart, chAddr := startClickHouseServer(t, "server-backend-test")

	config := serverBackendConfig(t, chAddr)
	// No libchdb for this role: the library is loaded only by an embedded
	// engine, which a server backend never opens.
	pipe, err := startProcessEnv(t, []string{"CHDB_LIB_PATH=" + t.TempDir() + "/no-libchdb.so"}, "pipeline",
		fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")),
		"pipeline", "--config", config, "--data", t.TempDir(), "--backend", "server", "--clickhouse-listen", "off")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pipe.logText(), "connected to ClickHouse server") {
		t.Fatalf("the pipeline did not log its connection to the server:\n%s", pipe.logText())
	}
	if maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pipe.cmd.Process.Pid)); err == nil && bytes.Contains(maps, []byte("libchdb")) {
		t.Fatal("the pipeline with a server backend has libchdb mapped")
	}
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 14)

	tr.send(5000, 5000)
	testenv.Eventually(t, 60*time.Second, "first flows stored on the server", func() bool { return pipe.count() > 0 })

	// Killed, not stopped: an insert in flight may have been stored
	// without its answer, and is retried with its deduplication token.
	srv.kill()
	tr.send(5000, 5000)
	testenv.Eventually(t, 60*time.Second, "the pipeline's inserts to fail, and it to say it is not ready", func() bool {
		return pipe.metric("sluice_storage_writer_insert_errors_total") > 0 && pipe.readyStatus() == http.StatusServiceUnavailable
	})
	srv = restart()
	testenv.Eventually(t, 60*time.Second, "the pipeline to be ready again", func() bool { return pipe.readyStatus() == http.StatusOK })
	tr.send(5000, 5000)
	waitDecoded(t, coll, 15000)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)

	// sluice query through the pipeline (reading the server) answers what
	// the server's own engine answers.
	query := func(addr string) string {
		var out bytes.Buffer
		if err := cmdQuery(context.Background(), []string{"top-sources", "--addr", "http://" + addr,
			"--since", "2h", "--format", "tsv"}, &out, &bytes.Buffer{}); err != nil {
			t.Fatalf("sluice query --addr %s: %v", addr, err)
		}
		return out.String()
	}
	viaServer, direct := query(pipe.http), query(srv.http)
	if strings.Count(viaServer, "\n") < 2 || viaServer != direct {
		t.Fatalf("top-sources through the server backend:\n%s\nfrom the server's engine:\n%s", viaServer, direct)
	}
	// sluice migrate --check reads the server's schema: what the pipeline
	// migrated has no drift.
	var check bytes.Buffer
	if err := cmdMigrate(context.Background(), []string{"--config", config, "--backend", "server", "--check"}, &check, &check); err != nil {
		t.Fatalf("sluice migrate --backend server --check: %v\n%s", err, check.String())
	}
	// A query's own error comes back as the server words it.
	var out bytes.Buffer
	err = cmdSQL(context.Background(), []string{"--addr", "http://" + pipe.http, "SELECT nope FROM flows"}, &out)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a bad column: %v", err)
	}
	pipe.term()
	srv.stop()
}

// startClickHouseServer starts the ClickHouse server of the server backend
// tests: a `sluice run` serving ClickHouse's HTTP interface with its writer
// user, whose password (also the pipelines' SLUICE_CLICKHOUSE_PASSWORD) it
// sets for the test. restart starts it again on the same data and address,
// after a kill.
func startClickHouseServer(t *testing.T, password string) (srv *instance, restart func() *instance, addr string) {
	t.Helper()
	requireChdb(t)
	t.Setenv("SLUICE_WRITER_PASSWORD", password)
	t.Setenv("SLUICE_CLICKHOUSE_PASSWORD", password)
	addr = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	config := writeTestFile(t, "server.yaml", "status-interval: 0s\nclickhouse-http:\n  writer: true\n")
	data := t.TempDir()
	restart = func() *instance {
		t.Helper()
		return startSluice(t, data, "--config", config, "--clickhouse-listen", addr)
	}
	return restart(), restart, addr
}

// writeTestFile writes a file of the test's temporary directory.
func writeTestFile(t *testing.T, name, content string) string {
	t.Helper()
	path := t.TempDir() + "/" + name
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverBackendConfig is a kafkaTestConfig on the shared broker whose
// storage is the ClickHouse server at chAddr (see startClickHouseServer),
// over HTTP as its writer user.
func serverBackendConfig(t *testing.T, chAddr string) string {
	t.Helper()
	config := kafkaTestConfig(t, sharedBrokers(t), "")
	setStorage(t, config, fmt.Sprintf(`  server:
    addrs: [%q]
    protocol: http
    username: sluice_writer
`, chAddr))
	return config
}

// setStorage makes a kafkaTestConfig file's storage backend server, with
// server (lines indented under storage:).
func setStorage(t *testing.T, config, server string) {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "storage:\n", "storage:\n  backend: server\n"+server, 1)
	if err := os.WriteFile(config, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
