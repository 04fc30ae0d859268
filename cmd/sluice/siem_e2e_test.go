package main

// End-to-end tests of the SIEM sinks: demo traffic over UDP into the real
// `sluice run` and `sluice pipeline`, ECS and OCSF documents produced to
// the real Kafka broker, read back by a consumer and checked against the
// official definitions.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/testenv"
	"sluice/pipeline/siem/ocsf"
	"sluice/pipeline/siem/schematest"
)

// siemConfig is the siem: section of two sinks, ECS (delivery wait) and
// OCSF (delivery spool), each to its own topic on brokers.
func siemConfig(t *testing.T, brokers string) (extra, ecsTopic, ocsfTopic string) {
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	ecsTopic, ocsfTopic = "siem-ecs-"+suffix, "siem-ocsf-"+suffix
	feed := filepath.Join(t.TempDir(), "feed.txt")
	// Every address outside the own networks is "listed": threat
	// enrichments on every flow that leaves 10/8.
	if err := os.WriteFile(feed, []byte("0.0.0.0/0\n::/0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := strings.Split(brokers, ",")[0]
	extra = fmt.Sprintf(`enrich:
  own-networks: [10.0.0.0/8]
  threat:
    feeds:
      - {name: everything, format: plain, file: %q}
siem:
  sinks:
    - name: elastic
      type: kafka
      format: ecs
      delivery: wait
      retry-max: 1s
      kafka: {brokers: [%q], topic: %s, topic-partitions: 2, write-timeout: 3s}
    - name: sentinel
      type: kafka
      format: ocsf
      delivery: spool
      retry-max: 1s
      spool: {max-bytes: 67108864, segment-bytes: 1048576}
      kafka: {brokers: [%q], topic: %s, topic-partitions: 2, write-timeout: 3s}
`, feed, broker, ecsTopic, broker, ocsfTopic)
	return extra, ecsTopic, ocsfTopic
}

// siemRead reads every partition of topic until want documents with
// distinct IDs arrived (or a minute passes), checking each against check,
// and returns the documents by ID and the number of duplicates.
func siemRead(t *testing.T, brokers, topic string, want int, check func([]byte) []string) (docs map[string][]byte, dups int) {
	t.Helper()
	broker := strings.Split(brokers, ",")[0]
	docs = map[string][]byte{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	msgs := topicMessages(ctx, broker, topic, 2)
	for len(docs) < want {
		select {
		case m := <-msgs:
			id := string(m.Key)
			if _, ok := docs[id]; ok {
				dups++
				continue
			}
			if p := check(m.Value); len(p) > 0 {
				t.Fatalf("%s: event %s: %s\n%s", topic, id, strings.Join(p, "\n"), m.Value)
			}
			docs[id] = m.Value
		case <-ctx.Done():
			t.Fatalf("%s: %d events with distinct IDs read, want %d", topic, len(docs), want)
		}
	}
	// Anything more is a duplicate or an extra: give it a moment to show.
	for {
		select {
		case m := <-msgs:
			if _, ok := docs[string(m.Key)]; !ok {
				t.Fatalf("%s: more events than flows: %s", topic, m.Key)
			}
			dups++
		case <-time.After(2 * time.Second):
			return docs, dups
		}
	}
}

// topicMessages reads every partition of topic from the start until ctx
// ends.
func topicMessages(ctx context.Context, broker, topic string, partitions int) <-chan kafkago.Message {
	msgs := make(chan kafkago.Message, 1024)
	for p := range partitions {
		rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p, MaxWait: 200 * time.Millisecond})
		go func() {
			defer rd.Close()
			for {
				m, err := rd.ReadMessage(ctx)
				if err != nil {
					return
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return msgs
}

func siemCheckers(t *testing.T) (ecsCheck, ocsfCheck func([]byte) []string) {
	defs := schematest.LoadECS(t)
	schema := schematest.LoadOCSF(t, filepath.Join(testenv.RepoRoot(t), "pipeline/siem/ocsf/testdata/ocsf-"+ocsf.Version+"-schema.json"))
	return defs.Check, func(doc []byte) []string { return schema.Check("network_activity", doc) }
}

// TestSIEMRunToKafka sends demo traffic to `sluice run` with an ECS and
// an OCSF sink: every stored flow arrives once in each topic, as a valid
// document, with threat enrichments where the feed matched.
func TestSIEMRunToKafka(t *testing.T) {
	requireChdb(t)
	ecsCheck, ocsfCheck := siemCheckers(t)
	brokers := sharedBrokers(t)
	extra, ecsTopic, ocsfTopic := siemConfig(t, brokers)
	config := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(config, []byte("status-interval: 0s\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	in := startSluice(t, t.TempDir(), "--config", config)
	tr := newTraffic(t, in.netflow, in.sflow, 7)
	tr.send(3000, 5000)
	flows := tr.gen.Stats().Flows
	testenv.EventuallyState(t, 60*time.Second, "every flow stored", func() (bool, string) {
		n := in.count("")
		return n >= flows, fmt.Sprintf("%d of %d", n, flows)
	})
	ecsDocs, ecsDups := siemRead(t, brokers, ecsTopic, int(flows), ecsCheck)
	ocsfDocs, ocsfDups := siemRead(t, brokers, ocsfTopic, int(flows), ocsfCheck)
	threat := 0
	for _, doc := range ecsDocs {
		var m struct {
			Threat struct {
				Enrichments []json.RawMessage `json:"enrichments"`
			} `json:"threat"`
		}
		json.Unmarshal(doc, &m)
		if len(m.Threat.Enrichments) > 0 {
			threat++
		}
	}
	t.Logf("%d flows: ECS %d (%d duplicates, %d with threat.enrichments), OCSF %d (%d duplicates)",
		flows, len(ecsDocs), ecsDups, threat, len(ocsfDocs), ocsfDups)
	if threat == 0 {
		t.Error("no ECS document carries threat.enrichments")
	}
	t.Logf("retried: %v", in.metrics("sluice_pipeline_siem_events_retried_total"))
	if ocsfDups > 0 || ecsDups > 0 {
		t.Logf("log: %s", in.logText())
	}
	// The sinks' metric names are pinned as the others are (-update
	// rewrites testdata/metrics/run-siem.txt).
	checkMetricNames(t, "run-siem", in.process)
	m := in.metrics("sluice_pipeline_siem_events_dropped_total")
	for k, v := range m {
		if v != 0 {
			t.Errorf("%s = %v", k, v)
		}
	}
	if len(m) == 0 {
		t.Error("no sluice_pipeline_siem_events_dropped_total series")
	}
	in.stop()
}

// TestSIEMPipelineKilled kills `sluice pipeline` (SIGKILL) while it feeds
// both sinks and restarts it: every flow still arrives in both topics
// (what was not acknowledged is consumed again, under the same IDs;
// duplicates are allowed and counted).
func TestSIEMPipelineKilled(t *testing.T) {
	requireChdb(t)
	ecsCheck, ocsfCheck := siemCheckers(t)
	brokers := sharedBrokers(t)
	extra, ecsTopic, ocsfTopic := siemConfig(t, brokers)
	config := kafkaTestConfig(t, brokers, extra)
	data := t.TempDir()
	pipe := startTier(t, "pipeline", "--config", config, "--data", data)
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll := startTier(t, args...)
	tr := newTraffic(t, nf, sf, 8)
	tr.send(3000, 3000)
	testenv.Eventually(t, 60*time.Second, "events acknowledged by both sinks", func() bool {
		return pipe.metric(`sluice_pipeline_siem_events_acknowledged_total{kind="flow",sink="elastic"}`) > 0 &&
			pipe.metric(`sluice_pipeline_siem_events_acknowledged_total{kind="flow",sink="sentinel"}`) > 0
	})
	pipe.kill()
	tr.send(3000, 3000)
	pipe = startTier(t, "pipeline", "--config", config, "--data", data)
	tr.send(1000, 3000)
	flows := tr.gen.Stats().Flows
	waitDecoded(t, coll, flows)
	coll.term()
	ecsDocs, ecsDups := siemRead(t, brokers, ecsTopic, int(flows), ecsCheck)
	ocsfDocs, ocsfDups := siemRead(t, brokers, ocsfTopic, int(flows), ocsfCheck)
	t.Logf("%d flows: ECS %d distinct IDs (%d duplicates), OCSF %d distinct IDs (%d duplicates)",
		flows, len(ecsDocs), ecsDups, len(ocsfDocs), ocsfDups)
	pipe.term()
}
