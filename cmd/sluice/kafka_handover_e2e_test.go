package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// TestKafkaKilledAfterInsertOtherWorker kills a `sluice pipeline` worker
// (SIGKILL, from inside: SLUICE_FAULT_KILL_AFTER_INSERTS) right after one
// of its gatherings is stored on the ClickHouse server and before it is
// committed, then starts ANOTHER worker with its own empty data directory,
// as a rescheduled pod would be. The new owner gathers the backlog
// differently (by size, where the killed worker flushed on time), so only
// the intent committed to Kafka with the partition's offset makes it
// rebuild the stored gathering under the same token, which the server
// drops: every flow is stored once (per-row hashes), none lost.
func TestKafkaKilledAfterInsertOtherWorker(t *testing.T) {
	srv, _, chAddr := startClickHouseServer(t, "handover-test")
	config := serverBackendConfig(t, chAddr)
	noChdb := "CHDB_LIB_PATH=" + t.TempDir() + "/no-libchdb.so"
	startPipeline := func(env ...string) *tier {
		p, err := startProcessEnv(t, append(env, noChdb), "pipeline", fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")),
			"pipeline", "--config", config, "--data", t.TempDir(), "--clickhouse-listen", "off")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The 6th insert: past the first round of the four partitions'
	// time flushes, while traffic flows.
	doomed := startPipeline(killAfterInsertsEnv + "=6")
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 23)

	// Traffic keeps flowing until the worker dies: how many gatherings a
	// burst makes depends on how far behind the consumer reads (under
	// -race on a busy machine it can fetch a whole burst as one gathering
	// per partition), so a fixed amount of traffic may never reach the 6th.
	var exit error
	deadline := time.After(60 * time.Second)
	for killed := false; !killed; {
		tr.send(500, 4000)
		select {
		case exit = <-doomed.exited:
			doomed.reaped, killed = true, true
		case <-deadline:
			t.Fatalf("the worker did not kill itself after its 6th insert:\n%s", doomed.logText())
		case <-time.After(100 * time.Millisecond):
		}
	}
	var ee *exec.ExitError
	if !errors.As(exit, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL ||
		!strings.Contains(doomed.logText(), "killed after storing a gathering") {
		t.Fatalf("the worker exited with %v, want SIGKILL after an insert:\n%s", exit, doomed.logText())
	}
	tr.send(4000, 4000)

	// Another worker, nothing of the first's: it takes every partition
	// once the group has given up on the killed one.
	survivor := startPipeline()
	testenv.Eventually(t, 60*time.Second, "the new worker to take every partition", func() bool {
		return survivor.metric("sluice_pipeline_kafka_consumer_partitions_assigned") == 4
	})
	tr.send(2000, 4000)
	waitDecoded(t, coll, tr.gen.Stats().Flows)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), survivor)
	rebuilt := strings.Count(survivor.logText(), "rebuilding a batch written before but not committed")
	t.Logf("sent %d flows; the new worker rebuilt %d gathering(s) the killed one left stored or half-done", tr.gen.Stats().Flows, rebuilt)
	if rebuilt == 0 {
		t.Errorf("the new worker rebuilt no gathering: the intent committed to Kafka was not found\n%s", survivor.logText())
	}
	survivor.term()
	srv.stop()
}
