package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// TestKafkaCollectorKilled kills the collector with SIGKILL once
// everything it decoded was spooled and delivered, and brings it back only
// after the pipeline changed: restarted (clean), or with partitions moved
// to a second worker. The collector then sends again what its cursor does
// not cover. The crash is the worst case: the cursor file is put back as it
// was when the collector started (as if every write since was lost), so the
// whole run's spool is sent again, at new offsets, to pipeline workers that
// never saw the first copies. Every flow must be stored exactly once,
// counted by a hash of each row, not only by count().
func TestKafkaCollectorKilled(t *testing.T) {
	t.Run("pipeline-restart", func(t *testing.T) { collectorKilled(t, false) })
	t.Run("partitions-move", func(t *testing.T) { collectorKilled(t, true) })
}

func collectorKilled(t *testing.T, move bool) {
	requireChdb(t)
	const before, after = 20000, 5000
	config := kafkaTestConfig(t, sharedBrokers(t), "")
	pipeData := t.TempDir()
	pipe := startTier(t, "pipeline", "--config", config, "--data", pipeData)
	collData := t.TempDir()
	args, nf, sf := collectArgs(t, config, collData)
	coll := startTier(t, args...)
	cursor := filepath.Join(collData, spoolDirName, "cursor")
	atStart, err := os.ReadFile(cursor)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTraffic(t, nf, sf, 7)
	tr.send(before, 10000)
	waitDecoded(t, coll, before)
	testenv.Eventually(t, 60*time.Second, "every flow spooled and delivered", func() bool {
		return coll.metric("sluice_pipeline_spool_appended_records_total") == before &&
			coll.metric("sluice_pipeline_spool_entries") == 0
	})
	testenv.Eventually(t, 60*time.Second, "every flow stored", func() bool { return pipe.count() == before })
	// The templates are saved every 10 s: a collector killed before would
	// come back without them, and drop the first data of its exporters.
	testenv.Eventually(t, 30*time.Second, "the templates saved", func() bool {
		_, err := os.Stat(filepath.Join(collData, "collector", "templates.json"))
		return err == nil
	})
	coll.kill()
	if err := os.WriteFile(cursor, atStart, 0o640); err != nil {
		t.Fatal(err)
	}

	stores := []*tier{pipe}
	if move {
		second := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
		testenv.Eventually(t, 60*time.Second, "the second worker to take partitions", func() bool {
			return second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") > 0 &&
				pipe.metric("sluice_pipeline_kafka_consumer_partitions_assigned") < 4
		})
		stores = append(stores, second)
	} else {
		pipe.term()
		pipe = startTier(t, "pipeline", "--config", config, "--data", pipeData)
		stores = []*tier{pipe}
	}

	coll = startTier(t, args...)
	if !strings.Contains(coll.logText(), "spool holds entries from an earlier run") {
		t.Fatal("the restarted collector has nothing to send again: the test does not test")
	}
	tr.send(after, 10000)
	waitDecoded(t, coll, after)
	testenv.Eventually(t, 60*time.Second, "the spool to drain", func() bool { return coll.metric("sluice_pipeline_spool_entries") == 0 })
	coll.term()

	stats := tr.gen.Stats()
	count, _, _, seen, twice := readStored(t, config, stats, stores...)
	var skipped float64
	for _, s := range stores {
		skipped += s.metric("sluice_pipeline_kafka_consumer_duplicates_total")
	}
	lost := int64(stats.Flows) - int64(len(seen))
	t.Logf("sent %d flows; stored %d rows, %d distinct: %d duplicated, %d lost; %v messages skipped as copies",
		stats.Flows, count, len(seen), len(twice), lost, skipped)
	if len(twice) != 0 || lost != 0 {
		t.Fatalf("%d rows stored twice, %d flows lost", len(twice), lost)
	}
	if skipped == 0 {
		t.Error("no message skipped as a copy, though the collector sent its spool again")
	}
	expectStored(t, config, stats, stores...)
}
