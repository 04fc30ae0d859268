package main

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"sluice/internal/demo"
	"sluice/internal/testenv"
)

// TestDeploySplitExamples runs the split deployment as deploy/README.md
// describes it, from deploy/examples/collect.yaml and pipeline.yaml with
// only their addresses and names changed to this machine's: two `sluice
// collect` on their own ports behind a "load balancer" that hashes on the
// exporter's address, the real Kafka broker with the examples' four
// partitions, two `sluice pipeline` workers with the server backend over
// HTTP against a ClickHouse interface (a `sluice run` with its writer user
// plays the server), fed with demo traffic from several exporters. One
// worker is killed mid-stream; the other takes its partitions, and every
// flow sent is stored exactly once (per-row hashes).
//
// A batch the killed worker stored but had not committed is rebuilt by the
// survivor with the same range and token (the intent is committed to Kafka
// with the offset), and the server drops it. Before the intent moved there
// from the worker's data directory, this test found such duplicates in two
// of three runs with 8 partitions (333 of 12,000 rows).
func TestDeploySplitExamples(t *testing.T) {
	srv, _, chAddr := startClickHouseServer(t, "deploy-split-test")
	brokers := sharedBrokers(t)
	suffix := fmt.Sprintf("deploy-split-%d", time.Now().UnixNano())

	// The examples, with this machine's broker and server, and a topic and
	// group of the test's own; everything else as shipped.
	pipeConfig := exampleConfig(t, "pipeline.yaml", map[string]any{
		"kafka.brokers": []string{brokers}, "kafka.topic": suffix, "kafka.consumer.group-id": suffix,
		"storage.server.addrs": []string{chAddr},
	}, map[string]any{"storage.backend": "server", "storage.server.protocol": "http", "storage.server.username": "sluice_writer",
		"kafka.topic-partitions": 4})
	collConfig := exampleConfig(t, "collect.yaml", map[string]any{
		"kafka.brokers": []string{brokers}, "kafka.topic": suffix, "kafka.consumer.group-id": suffix,
	}, map[string]any{"kafka.topic-partitions": 4, "kafka.create-topic": true})

	// The pipelines need no libchdb; the first migrates the server before
	// the second starts.
	noChdb := []string{"CHDB_LIB_PATH=" + t.TempDir() + "/no-libchdb.so"}
	startPipeline := func() *tier {
		p, err := startProcessEnv(t, noChdb, "pipeline", fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")),
			"pipeline", "--config", pipeConfig, "--data", t.TempDir(), "--clickhouse-listen", "off")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pipe1 := startPipeline()
	pipe2 := startPipeline()

	// Two collectors, each on its own ports; the route hashes on the
	// exporter's address, as a UDP load balancer would.
	var colls []*tier
	var addrs [][2]string
	for range 2 {
		args, nf, sf := collectArgs(t, collConfig, t.TempDir())
		c, err := startProcessEnv(t, noChdb, "collect", fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), args...)
		if err != nil {
			t.Fatal(err)
		}
		colls = append(colls, c)
		addrs = append(addrs, [2]string{nf, sf})
	}
	tr := newTraffic(t, "", "", 19)
	tr.route = func(d *demo.Datagram) (string, string) {
		h := fnv.New32a()
		h.Write(d.Source.AsSlice())
		a := addrs[h.Sum32()%uint32(len(addrs))]
		return a[0], a[1]
	}

	tr.send(4000, 4000)
	testenv.Eventually(t, 60*time.Second, "both workers to hold partitions and store flows", func() bool {
		return pipe1.metric("sluice_pipeline_kafka_consumer_partitions_assigned") > 0 &&
			pipe2.metric("sluice_pipeline_kafka_consumer_partitions_assigned") > 0 && pipe2.count() > 0
	})
	assigned := pipe1.metric("sluice_pipeline_kafka_consumer_partitions_assigned") + pipe2.metric("sluice_pipeline_kafka_consumer_partitions_assigned")
	if assigned != 4 {
		t.Fatalf("the workers hold %v partitions; the examples make the topic with 4", assigned)
	}
	// Killed, not stopped: what it held uncommitted is the survivor's to
	// store, once the group has waited out its session.
	pipe1.kill()
	tr.send(4000, 4000)
	testenv.Eventually(t, 60*time.Second, "the surviving worker to take every partition", func() bool {
		return pipe2.metric("sluice_pipeline_kafka_consumer_partitions_assigned") == assigned
	})
	tr.send(4000, 4000)
	stats := tr.gen.Stats()
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("the collectors to decode the %d flows sent", stats.Flows), func() bool {
		return colls[0].metric("sluice_collector_flows_total")+colls[1].metric("sluice_collector_flows_total") == float64(stats.Flows)
	})
	t.Logf("sent %d flows from %d exporters: collector 0 decoded %v, collector 1 %v; %v partitions moved to the survivor",
		stats.Flows, len(tr.gen.Exporters()), colls[0].metric("sluice_collector_flows_total"), colls[1].metric("sluice_collector_flows_total"), assigned)
	for i, c := range colls {
		if c.metric("sluice_collector_flows_total") == 0 {
			t.Errorf("collector %d received nothing: the route sent every exporter to the other", i)
		}
		c.term()
	}
	// Both workers wrote the one server: the survivor reads it all.
	expectStored(t, pipeConfig, stats, pipe2)
	pipe2.term()
	srv.stop()
}

// exampleConfig writes deploy/examples/NAME with the keys of set (dotted
// paths) replaced, after checking that the example says what the test
// relies on (expect).
func exampleConfig(t *testing.T, name string, set, expect map[string]any) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	at := func(path string) (map[string]any, string) {
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				t.Fatalf("deploy/examples/%s has no %s", name, path)
			}
			m = next
		}
		return m, keys[len(keys)-1]
	}
	for path, want := range expect {
		m, k := at(path)
		if fmt.Sprint(m[k]) != fmt.Sprint(want) {
			t.Fatalf("deploy/examples/%s: %s is %v; the test expects %v", name, path, m[k], want)
		}
	}
	for path, v := range set {
		m, k := at(path)
		if _, ok := m[k]; !ok {
			t.Fatalf("deploy/examples/%s has no %s", name, path)
		}
		m[k] = v
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return writeTestFile(t, name, string(out))
}
