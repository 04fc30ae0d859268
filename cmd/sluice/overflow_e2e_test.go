package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"sluice/internal/demo"
	"sluice/internal/testenv"
)

// stallQuery holds the embedded engine, which runs one statement at a
// time, for about 12 s: four sleeps of 3 s at most (the engine's most per
// block), in scalar subqueries, which run one after the other whatever the
// cores; each differs, since identical ones would run once. An analyst's
// slow query, a detection's long window or a merge burst stall inserts the
// same way.
const stallQuery = "SELECT (SELECT sleep(3)) + (SELECT sleep(2.99)) + (SELECT sleep(2.98)) + (SELECT sleep(2.97))"

// While a query holds the engine, `sluice run` keeps taking records: the
// in-memory queue (one batch here) fills, the rest goes to the overflow on
// disk, and all of it is stored once the engine is free, every record
// exactly once. Then the same stall ends in a kill -9 while the overflow
// holds records: after a restart, what was on disk is stored, and nothing
// twice. Then in a SIGTERM: every record sent before it is stored, once.
func TestRunOverflowThroughStall(t *testing.T) {
	requireChdb(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	// Small batches and queue, so that a few seconds of a modest rate
	// overflow; the detections off, so that only the stall holds the engine.
	if err := os.WriteFile(config, []byte(`
collector: {batch-size: 64, flush-interval: 100ms}
queue: {batches: 1, overflow: {max-bytes: 33554432}}
pipeline: {batch-rows: 1000, flush-interval: 200ms}
detect: {enabled: false}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	var in *instance
	var chAddr string
	start := func() {
		chAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
		in = startSluice(t, data, "--config", config, "--clickhouse-listen", chAddr)
	}
	start()

	cfg := demo.DefaultConfig()
	cfg.Protocols = []string{demo.NetFlow9}
	cfg.Exporters = 2
	cfg.Seed = 7
	cfg.BindSources = true
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t)
	var want []string
	send := func(flows int) {
		emit := func(d *demo.Datagram) error {
			s.send(d.Source, in.netflow, d.Payload)
			for i := range d.Flows {
				want = append(want, expectedRow(&d.Flows[i], d.Source))
			}
			return nil
		}
		if err := gen.Generate(time.Now(), flows, emit); err != nil {
			t.Fatal(err)
		}
		if err := gen.Flush(time.Now(), emit); err != nil {
			t.Fatal(err)
		}
	}
	// stall runs stallQuery as an analyst would, with clickhouse-go over
	// the ClickHouse HTTP interface, and returns once it runs.
	stall := func() <-chan error {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{chAddr}, Protocol: clickhouse.HTTP,
			Auth: clickhouse.Auth{Username: "default"}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			defer conn.Close()
			rows, err := conn.Query(context.Background(), stallQuery)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			done <- err
		}()
		testenv.Eventually(t, 30*time.Second, "the stall query to run", func() bool {
			return in.metric("sluice_storage_chhttp_queries_running") >= 1
		})
		return done
	}
	overflowed := func() float64 { return in.metric("sluice_pipeline_queue_overflow_records_total") }

	// 1. A stall, the traffic during it, then everything stored once.
	done := stall()
	send(6000)
	if err := <-done; err != nil {
		t.Fatalf("stall query: %v", err)
	}
	if overflowed() == 0 {
		t.Fatalf("nothing went to the overflow during the stall: the test proves nothing\n%s", in.logText())
	}
	testenv.EventuallyState(t, 60*time.Second, "every flow stored", func() (bool, string) {
		n := in.count("")
		return n >= uint64(len(want)), fmt.Sprintf("%d of %d stored", n, len(want))
	})
	checkRows(t, in, want)
	if got := in.metric("sluice_pipeline_queue_overflow_returned_records_total"); got != overflowed() {
		t.Errorf("%v records returned from the overflow, %v written to it", got, overflowed())
	}

	// 2. A stall, traffic, then kill -9 while the overflow holds records:
	// they were collected, not stored; after the restart they are. The
	// stall holds the engine until the kill, so nothing of this traffic
	// was stored before it: what is stored after is what the restarted
	// process read back from the disk, exactly.
	done = stall()
	before := len(want)
	send(6000)
	testenv.EventuallyAtLeast(t, 30*time.Second, "records in the overflow", func() float64 {
		return overflowed() - in.metric("sluice_pipeline_queue_overflow_returned_records_total")
	}, 1000)
	in.kill()
	if err := <-done; err == nil {
		t.Fatal("the stall query ended before the kill: this machine took over 12 s to send 6,000 flows")
	}
	start()
	if !strings.Contains(in.logText(), "holds batches from an earlier run") {
		t.Errorf("the restart did not say it found the overflow's batches:\n%s", in.logText())
	}
	testenv.Eventually(t, 60*time.Second, "the overflow to empty", func() bool {
		return in.metric("sluice_pipeline_queue_overflow_batches") == 0
	})
	returned := in.metric("sluice_pipeline_queue_overflow_returned_records_total")
	if returned < 500 {
		t.Fatalf("%v records read back from the overflow after the restart, want most of the 6,000 sent", returned)
	}
	testenv.EventuallyState(t, 60*time.Second, "the overflow's records stored", func() (bool, string) {
		n := in.count("")
		return n == uint64(before)+uint64(returned), fmt.Sprintf("%d stored, want %d before the kill + %v read back", n, before, returned)
	})
	// What the kill lost was in memory (the queue, the pipeline's batch,
	// datagrams not yet decoded); nothing may be stored twice, and every
	// row stored must be one that was sent.
	got := noneTwice(t, in, want)
	t.Logf("phase 2: %d sent, %d stored, all of them from the overflow", len(want)-before, len(got)-before)

	// 3. A stall, traffic, then SIGTERM while the overflow holds records:
	// the stop waits for the engine and stores them, or leaves them on
	// disk for the next start; either way each is stored once.
	done = stall()
	stored := len(got)
	send(6000)
	testenv.EventuallyAtLeast(t, 30*time.Second, "batches in the overflow", func() float64 {
		return in.metric("sluice_pipeline_queue_overflow_batches")
	}, 15)
	in.stop()
	<-done
	start()
	testenv.Eventually(t, 60*time.Second, "the overflow to empty", func() bool {
		return in.metric("sluice_pipeline_queue_overflow_batches") == 0
	})
	testenv.EventuallyState(t, 60*time.Second, "every flow sent before the stop stored", func() (bool, string) {
		n := in.count("")
		return n == uint64(stored)+6000, fmt.Sprintf("%d stored, want %d + 6000", n, stored)
	})
	noneTwice(t, in, want)
	in.stop()
}

// noneTwice checks that every stored row was sent, and none stored more
// often than sent, and returns the rows.
func noneTwice(t *testing.T, in *instance, want []string) []string {
	t.Helper()
	got := rows(t, in)
	seen := map[string]int{}
	for _, r := range want {
		seen[r]++
	}
	for _, r := range got {
		if seen[r]--; seen[r] < 0 {
			t.Fatalf("row stored more often than sent (or never sent):\n%s", r)
		}
	}
	return got
}
