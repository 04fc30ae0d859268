package main

// End-to-end tests of the split deployment: the real `sluice collect` and
// `sluice pipeline` binaries, a real Kafka broker (deploy/dev/kafka.sh), the
// embedded ClickHouse engine, traffic from the demo exporter. Every test
// reads back exactly the flows sent, with exact totals and no duplicate,
// across every store, whatever fault it injects.

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/demo"
	"sluice/internal/testenv"
)

// kafkaBroker is a broker of the test's own, for tests that stop it.
type kafkaBroker struct {
	t    *testing.T
	port int
	dir  string
	addr string
}

// newKafkaBroker reserves a port pair and a directory for a broker, without
// starting it; Cleanup stops it.
func newKafkaBroker(t *testing.T) *kafkaBroker {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		testenv.Missing(t, "java (the Kafka broker runs on Java 17)")
	}
	port := 0
	if p, err := strconv.Atoi(os.Getenv("SLUICE_KAFKA_OWN_PORT")); err == nil && p > 0 {
		port = p // a port pair reserved for the tests' own brokers, one at a time
	} else {
		port = freePortPair(t)
	}
	b := &kafkaBroker{t: t, port: port, dir: filepath.Join(t.TempDir(), "kafka")}
	b.addr = fmt.Sprintf("127.0.0.1:%d", b.port)
	t.Cleanup(func() { b.script("stop") })
	return b
}

// freePortPair finds a TCP port whose next port is free too (the broker's
// controller listens there).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := freePort(t, "tcp")
		if p >= 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

func (b *kafkaBroker) script(command string) {
	b.t.Helper()
	cmd := exec.Command("bash", filepath.Join(testenv.RepoRoot(b.t), "deploy/dev/kafka.sh"), command, b.dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SLUICE_KAFKA_PORT=%d", b.port))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		b.t.Fatalf("kafka.sh %s: %v\n%s", command, err, stderr.String())
	}
}

func (b *kafkaBroker) start()  { b.script("start") }
func (b *kafkaBroker) halt()   { b.script("halt") }
func (b *kafkaBroker) resume() { b.script("resume") }

// sharedBrokers is the broker `make test` runs (SLUICE_KAFKA_BROKERS), for
// tests that leave it running; without one, the test starts its own.
func sharedBrokers(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("SLUICE_KAFKA_BROKERS"); b != "" {
		return b
	}
	b := newKafkaBroker(t)
	b.start()
	return b.addr
}

// kafkaTestConfig writes a configuration for one test: its own topic and
// group, small batches and short group timeouts so that faults resolve
// within seconds.
func kafkaTestConfig(t *testing.T, brokers string, extra string) string {
	t.Helper()
	name := strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())
	suffix := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	cfg := fmt.Sprintf(`status-interval: 0s
collector:
  flush-interval: 200ms
pipeline:
  batch-rows: 2000
  flush-interval: 500ms
storage:
  writer:
    retry-max: 500ms
kafka:
  brokers: [%q]
  topic: sluice-test-%s
  topic-partitions: 4
  dial-timeout: 3s
  producer:
    batch-timeout: 20ms
    max-attempts: 3
    write-timeout: 5s
  consumer:
    group-id: sluice-test-%s
    session-timeout: 6s
    heartbeat-interval: 500ms
    rebalance-timeout: 10s
    max-wait: 200ms
%s`, strings.Split(brokers, ",")[0], suffix, suffix, extra)
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tier is one running `sluice collect` or `sluice pipeline`.
type tier = process

// startTier starts sluice with args plus a free --http port and waits until
// /readyz answers 200.
func startTier(t *testing.T, args ...string) *tier {
	t.Helper()
	p, err := startProcess(t, args[0], fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp")), args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *tier) count() uint64 {
	p.t.Helper()
	n, err := strconv.ParseUint(strings.TrimSpace(p.sql("SELECT count() FROM flows")), 10, 64)
	if err != nil {
		p.t.Fatal(err)
	}
	return n
}

// traffic sends demo flows to a collector and keeps the generator's exact
// account of them.
type traffic struct {
	t              *testing.T
	gen            *demo.Generator
	s              *sender
	netflow, sflow string
	// route, when set, picks the collector (its NetFlow and sFlow
	// addresses) of each datagram, as a load balancer in front of several
	// collectors would.
	route func(d *demo.Datagram) (netflow, sflow string)
}

func newTraffic(t *testing.T, netflow, sflow string, seed uint64) *traffic {
	t.Helper()
	cfg := demo.DefaultConfig()
	cfg.Protocols = []string{demo.NetFlow9, demo.IPFIX, demo.SFlow5, demo.NetFlow5}
	cfg.Exporters = 3
	cfg.Seed = seed
	cfg.BindSources = true
	gen, err := demo.NewGenerator(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &traffic{t: t, gen: gen, s: newSender(t), netflow: netflow, sflow: sflow}
}

func (tr *traffic) emit(d *demo.Datagram) error {
	to, sflow := tr.netflow, tr.sflow
	if tr.route != nil {
		to, sflow = tr.route(d)
	}
	if d.Protocol == demo.SFlow5 {
		to = sflow
	}
	tr.s.send(d.Source, to, d.Payload)
	return nil
}

// send sends n more flows, in chunks spread over about n/rate seconds, and
// every open datagram at the end.
func (tr *traffic) send(n, rate int) {
	tr.t.Helper()
	const chunk = 250
	for sent := 0; sent < n; sent += chunk {
		if err := tr.gen.Generate(time.Now(), min(chunk, n-sent), tr.emit); err != nil {
			tr.t.Fatal(err)
		}
		time.Sleep(time.Duration(chunk) * time.Second / time.Duration(rate))
	}
	if err := tr.gen.Flush(time.Now(), tr.emit); err != nil {
		tr.t.Fatal(err)
	}
}

// expectStored waits until the stores together hold every flow sent and
// the pipelines are done with the topic (see settled), then checks that
// they hold exactly those: the same count, byte and packet totals, and no
// row twice within or across stores. config is the test's configuration,
// which names the topic and consumer group.
func expectStored(t *testing.T, config string, stats demo.Stats, stores ...*tier) {
	t.Helper()
	count, bytes, packets, seen, twice := readStored(t, config, stats, stores...)
	for _, r := range twice {
		t.Errorf("a flow is stored twice (row hash %s)", r)
	}
	// sFlow bytes are the sampled packets' IP length, 22 bytes below the
	// frame length the demo counts (see expectedRow).
	wantBytes := stats.Bytes - 22*stats.SFlow5.Flows
	if count != stats.Flows || bytes != wantBytes || packets != stats.Packets {
		t.Fatalf("stored %d flows, %d bytes, %d packets; sent %d flows, %d bytes, %d packets",
			count, bytes, packets, stats.Flows, wantBytes, stats.Packets)
	}
	if uint64(len(seen)) != count {
		t.Fatalf("%d distinct rows among %d", len(seen), count)
	}
}

// readStored waits until the stores together hold at least every flow
// sent and the pipelines are done with the topic (see settled), then reads
// their totals and every row's hash (over 14 columns): seen holds the
// distinct hashes, twice the hashes of rows stored more than once (once
// per extra copy).
func readStored(t *testing.T, config string, stats demo.Stats, stores ...*tier) (count, bytes, packets uint64, seen map[string]bool, twice []string) {
	t.Helper()
	total := func() uint64 {
		var n uint64
		for _, s := range stores {
			n += s.count()
		}
		return n
	}
	testenv.EventuallyState(t, 90*time.Second, "every flow sent to be stored", func() (bool, string) {
		n := total()
		return n >= stats.Flows, fmt.Sprintf("%d flows stored, %d sent", n, stats.Flows)
	})
	var hashes [][]string
	settled(t, flowsGroup(t, config), stores, flowWrites, func() {
		count, bytes, packets, hashes = 0, 0, 0, nil
		for _, s := range stores {
			var c, b, p uint64
			if _, err := fmt.Sscanf(s.sql("SELECT count(), sum(Bytes), sum(Packets) FROM flows"), "%d\t%d\t%d", &c, &b, &p); err != nil {
				t.Fatal(err)
			}
			count, bytes, packets = count+c, bytes+b, packets+p
			hashes = append(hashes, strings.Fields(s.sql(`SELECT cityHash64(ExporterAddress, TimeReceived, SrcAddr, DstAddr, SrcPort, DstPort,
				Proto, Bytes, Packets, TimeFlowStart, TimeFlowEnd, InIfIndex, OutIfIndex, TCPFlags) FROM flows`)))
		}
	})
	seen = map[string]bool{}
	for _, rows := range hashes {
		for _, r := range rows {
			if seen[r] {
				twice = append(twice, r)
			}
			seen[r] = true
		}
	}
	return count, bytes, packets, seen, twice
}

// waitDecoded waits until the collector has decoded n flows: a datagram
// still in the socket's buffer when the collector stops is not the spool's
// to save.
func waitDecoded(t *testing.T, coll *tier, n uint64) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("the collector to decode %d flows", n), func() bool {
		return coll.metric("sluice_collector_flows_total") == float64(n)
	})
}

// collectArgs runs `sluice collect` on free UDP ports.
func collectArgs(t *testing.T, config, data string) (args []string, netflow, sflow string) {
	netflow = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	sflow = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	return []string{"collect", "--config", config, "--data", data, "--netflow-listen", netflow, "--sflow-listen", sflow}, netflow, sflow
}

// TestKafkaStream streams demo traffic through collect → Kafka → pipeline →
// embedded ClickHouse and reads back exactly what was sent.
func TestKafkaStream(t *testing.T) {
	requireChdb(t)
	// The pipeline tier enriches what it consumes, as `sluice run` does.
	config := kafkaTestConfig(t, sharedBrokers(t), `enrich:
  own-networks: [0.0.0.0/0, "::/0"]
  rules:
    - name: tenant
      set: {ExporterTenant: kafka-tier}
`)
	pipe := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 1)
	tr.send(20000, 10000)
	// SIGTERM right after the last record is decoded: what the collector
	// holds must reach Kafka before it exits.
	waitDecoded(t, coll, 20000)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	testenv.Eventually(t, 10*time.Second, "consumer lag 0", func() bool { return pipe.metric("sluice_pipeline_kafka_consumer_lag_records") == 0 })
	if n := pipe.metric("sluice_pipeline_kafka_consumer_decode_errors_total"); n != 0 {
		t.Errorf("%v decode errors", n)
	}
	if out := strings.TrimSpace(pipe.sql("SELECT countIf(ExporterTenant != 'kafka-tier' OR TrafficDirection != 'internal'), countIf(CommunityID != '') FROM flows")); !strings.HasPrefix(out, "0\t") || strings.HasSuffix(out, "\t0") {
		t.Errorf("enrichment in the pipeline tier: %q (want no record missed, some Community IDs)", out)
	}
	pipe.term()
}

// TestKafkaBrokerRestart stops the broker mid-stream (the collector spools)
// and starts it again: nothing lost, nothing twice.
func TestKafkaBrokerRestart(t *testing.T) {
	requireChdb(t)
	broker := newKafkaBroker(t)
	broker.start()
	config := kafkaTestConfig(t, broker.addr, "")
	pipe := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 2)
	tr.send(5000, 5000)
	testenv.Eventually(t, 60*time.Second, "first flows stored", func() bool { return pipe.count() > 0 })

	broker.halt()
	tr.send(5000, 5000)
	testenv.Eventually(t, 60*time.Second, "the collector to spool", func() bool {
		return coll.metric("sluice_pipeline_spool_entries") > 0 && coll.metric("sluice_pipeline_kafka_forwarder_kafka_up") == 0
	})
	broker.resume()
	tr.send(5000, 5000)
	waitDecoded(t, coll, 15000)
	testenv.Eventually(t, 60*time.Second, "the spool to drain", func() bool { return coll.metric("sluice_pipeline_spool_entries") == 0 })
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	pipe.term()
}

// startPipelineAndCollector starts, on the shared broker, a pipeline on a
// data directory of its own and a collector fed by demo traffic (seed).
func startPipelineAndCollector(t *testing.T, seed uint64) (config, data string, pipe, coll *tier, tr *traffic) {
	t.Helper()
	requireChdb(t)
	config = kafkaTestConfig(t, sharedBrokers(t), "")
	data = t.TempDir()
	pipe = startTier(t, "pipeline", "--config", config, "--data", data)
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll = startTier(t, args...)
	return config, data, pipe, coll, newTraffic(t, nf, sf, seed)
}

// TestKafkaPipelineKilled kills the pipeline with SIGKILL while it inserts
// and restarts it on the same data directory: batches written but not
// committed are rebuilt with the same offsets and token, so the store keeps
// them once.
func TestKafkaPipelineKilled(t *testing.T) {
	config, data, pipe, coll, tr := startPipelineAndCollector(t, 3)
	tr.send(4000, 4000)
	testenv.Eventually(t, 60*time.Second, "inserts under way", func() bool { return pipe.metric("sluice_storage_writer_batches_inserted_total") >= 2 })
	pipe.kill()
	tr.send(4000, 4000)
	pipe = startTier(t, "pipeline", "--config", config, "--data", data)
	tr.send(2000, 4000)
	waitDecoded(t, coll, 10000)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	pipe.term()
}

// TestKafkaStorageUnavailable makes the pipeline's store refuse inserts for
// a while (its insert directory is replaced by a file, so every insert
// fails on a real filesystem error): the pipeline stops consuming and
// committing, reports not ready, and resumes when the store is back.
func TestKafkaStorageUnavailable(t *testing.T) {
	config, data, pipe, coll, tr := startPipelineAndCollector(t, 4)
	tr.send(3000, 5000)
	testenv.Eventually(t, 60*time.Second, "the first flows stored", func() bool { return pipe.count() == tr.gen.Stats().Flows })

	insertDir := filepath.Join(data, "spool")
	if err := os.Rename(insertDir, insertDir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(insertDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stored := pipe.count()
	tr.send(3000, 5000)
	testenv.Eventually(t, 60*time.Second, "inserts to fail", func() bool {
		return pipe.metric("sluice_storage_writer_insert_errors_total") > 2 && pipe.readyStatus() == http.StatusServiceUnavailable
	})
	// The offsets, not the commits: a gathering's intent is committed at
	// the offset already committed before its insert is tried (and the
	// last batch stored may still be inserting its exporters rows).
	group := flowsGroup(t, config)
	offsets := func() map[int]int64 {
		o, err := committed(t.Context(), group.client, group.group, group.topic, []int{0, 1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := offsets()
	// Two more failed inserts (the writer's retries) are two more chances
	// to commit wrongly.
	failures := pipe.metric("sluice_storage_writer_insert_errors_total")
	testenv.EventuallyAtLeast(t, 60*time.Second, "more inserts to fail", func() float64 {
		return pipe.metric("sluice_storage_writer_insert_errors_total")
	}, failures+2)
	if after := offsets(); !maps.Equal(after, before) {
		t.Fatalf("offsets committed while storage was failing: %v → %v", before, after)
	}
	if n := pipe.count(); n != stored {
		t.Fatalf("%d flows stored while inserts failed, had %d", n, stored)
	}
	if err := os.Remove(insertDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(insertDir+".away", insertDir); err != nil {
		t.Fatal(err)
	}
	tr.send(1000, 5000)
	waitDecoded(t, coll, 7000)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	testenv.Eventually(t, 10*time.Second, "ready again", func() bool { return pipe.readyStatus() == http.StatusOK })
	pipe.term()
}

// TestKafkaRebalance starts a second pipeline worker mid-stream: the first
// stores and commits what it holds of the partitions it gives up before the
// second takes them, so no flow is stored in both stores.
func TestKafkaRebalance(t *testing.T) {
	requireChdb(t)
	config := kafkaTestConfig(t, sharedBrokers(t), "")
	first := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 5)
	tr.send(4000, 4000)

	// Traffic goes on while the second worker starts, joins and gets its
	// partitions, and for a while after.
	stop := background(tr, 2000)
	second := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	testenv.Eventually(t, 60*time.Second, "the second worker to get partitions", func() bool {
		return second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") > 0
	})
	testenv.Eventually(t, 60*time.Second, "the second worker to store flows", func() bool { return second.count() > 0 })
	stop()
	waitDecoded(t, coll, tr.gen.Stats().Flows)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), first, second)
	if second.count() == 0 || second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") == 0 {
		t.Fatalf("the second worker got no partition (%d flows)", second.count())
	}
	first.term()
	second.term()
}

// TestKafkaCollectorSpoolsUntilKafka starts the collector while Kafka is
// down, restarts it (the spool survives), then starts Kafka: the spool
// drains and every flow is stored once.
func TestKafkaCollectorSpoolsUntilKafka(t *testing.T) {
	requireChdb(t)
	broker := newKafkaBroker(t) // not started yet
	config := kafkaTestConfig(t, broker.addr, "")
	collData := t.TempDir()
	args, nf, sf := collectArgs(t, config, collData)
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 6)
	tr.send(3000, 5000)
	testenv.Eventually(t, 30*time.Second, "every flow spooled", func() bool {
		return coll.metric("sluice_pipeline_spool_appended_records_total") == float64(tr.gen.Stats().Flows)
	})
	// A stop while Kafka is down keeps the spool for the next start.
	coll.term()
	coll = startTier(t, args...)
	tr.send(2000, 5000)
	testenv.Eventually(t, 30*time.Second, "every new flow spooled", func() bool {
		return coll.metric("sluice_pipeline_spool_appended_records_total") == 2000
	})
	if n := coll.metric("sluice_pipeline_spool_entries"); n == 0 {
		t.Fatal("nothing in the spool while Kafka is down")
	}

	broker.start()
	pipe := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	testenv.Eventually(t, 60*time.Second, "the spool to drain", func() bool { return coll.metric("sluice_pipeline_spool_entries") == 0 })
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	pipe.term()
}
