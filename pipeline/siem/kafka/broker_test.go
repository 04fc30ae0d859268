package kafka_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/record"
	"sluice/pipeline/siem"
	"sluice/pipeline/siem/ecs"
	siemkafka "sluice/pipeline/siem/kafka"
	"sluice/pipeline/siem/ocsf"
	"sluice/pipeline/siem/schematest"
)

// broker starts a broker of its own (the test halts and resumes it, which
// a shared one must not suffer) on SLUICE_SIEM_KAFKA_PORT, else on a free
// pair of ports (the controller takes the next one).
type broker struct {
	t       *testing.T
	script  string
	dir     string
	env     []string
	brokers []string
}

func startBroker(t *testing.T) *broker {
	testenv.SkipIfShort(t, "a Kafka broker")
	if _, err := exec.LookPath("java"); err != nil {
		testenv.Missing(t, "java, for the Kafka broker")
		return nil
	}
	port := os.Getenv("SLUICE_SIEM_KAFKA_PORT")
	if port == "" {
		port = strconv.Itoa(freePortPair(t))
	}
	b := &broker{t: t, script: filepath.Join(testenv.RepoRoot(t), "deploy/dev/kafka.sh"), dir: t.TempDir(),
		env: append(os.Environ(), "SLUICE_KAFKA_PORT="+port)}
	out := b.run("start")
	b.brokers = []string{strings.TrimSpace(out)}
	t.Cleanup(func() { b.run("stop") })
	return b
}

func (b *broker) run(cmd string) string {
	c := exec.Command(b.script, cmd, b.dir)
	c.Env = b.env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		b.t.Fatalf("kafka.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	return string(out)
}

// TestSinkDeliversEveryEventThroughABrokerOutage runs a sink of each
// delivery mode against the real broker: a first write, then the broker
// halted for 20 s while more flows and alerts are written, then resumed.
// A consumer then reads the topic: every event arrives (counted by ID,
// duplicates allowed and counted) and every document is valid against
// the ECS definitions or the OCSF schema.
func TestSinkDeliversEveryEventThroughABrokerOutage(t *testing.T) {
	ecsDefs := schematest.LoadECS(t)
	ocsfSchema := schematest.LoadOCSF(t, filepath.Join(testenv.RepoRoot(t), "pipeline/siem/ocsf/testdata/ocsf-"+ocsf.Version+"-schema.json"))
	b := startBroker(t)
	for _, mode := range []struct {
		delivery string
		format   siem.Format
		check    func([]byte) []string
	}{
		{siem.DeliveryWait, ecs.New(), ecsDefs.Check},
		{siem.DeliverySpool, ocsf.New(), func(doc []byte) []string {
			class := "network_activity"
			if strings.Contains(string(doc), `"class_uid":2004`) {
				class = "detection_finding"
			}
			return ocsfSchema.Check(class, doc)
		}},
	} {
		t.Run(mode.delivery, func(t *testing.T) {
			topic := "siem-" + mode.delivery + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			kc := siemkafka.DefaultConfig()
			kc.Brokers, kc.Topic, kc.TopicPartitions, kc.WriteTimeout = b.brokers, topic, 1, 3*time.Second
			tr, err := siemkafka.New(kc)
			if err != nil {
				t.Fatal(err)
			}
			cfg := siem.DefaultConfig()
			cfg.Name, cfg.Type, cfg.Format, cfg.Delivery = "test", "kafka", mode.format.Name(), mode.delivery
			cfg.RetryMax = time.Second
			cfg.Spool = siem.SpoolConfig{MaxBytes: 8 << 20, SegmentBytes: 1 << 20}
			r := reporter.New(testLogger(t))
			sink, err := siem.New(r, cfg, siem.Dependencies{Format: mode.format, Transport: tr, DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if err := sink.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer sink.Stop(ctx)

			flows := schematest.Flows(500)
			alerts := schematest.Alerts()
			if err := sink.WriteBatches(ctx, [][]record.Flow{flows[:200], flows[200:300]}, "before"); err != nil {
				t.Fatal(err)
			}
			if err := sink.Ready(); err != nil {
				t.Fatalf("ready with the broker up: %v", err)
			}
			b.run("halt")
			resumed := false
			defer func() {
				if !resumed {
					b.run("resume")
				}
			}()
			// A wait sink holds the pipeline back: not ready. A spool
			// sink takes writes: ready, the outage in receiver_up.
			if err := sink.Ready(); (err == nil) != (mode.delivery == siem.DeliverySpool) {
				t.Fatalf("%s sink ready with the broker down: %v", mode.delivery, err)
			}
			if up := receiverUp(t, r); up != 0 {
				t.Fatalf("receiver_up %v with the broker down", up)
			}
			written := make(chan error, 1)
			go func() {
				err := sink.WriteBatches(ctx, [][]record.Flow{flows[300:]}, "during")
				if err == nil {
					err = sink.WriteAlerts(ctx, alerts)
				}
				written <- err
			}()
			if mode.delivery == siem.DeliverySpool {
				// The spool takes them while the broker is down.
				if err := <-written; err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Second)
			b.run("resume")
			resumed = true
			if mode.delivery == siem.DeliveryWait {
				if err := <-written; err != nil {
					t.Fatal(err)
				}
			}

			want := map[string]bool{}
			for i := range 300 {
				want[string(siem.FlowEventID(nil, "before", i))] = true
			}
			for i := range 200 {
				want[string(siem.FlowEventID(nil, "during", i))] = true
			}
			for i := range alerts {
				want[siem.AlertEventID(&alerts[i])] = true
			}
			seen, dups := consume(t, ctx, b.brokers, topic, want, mode.check)
			t.Logf("%s: %d events delivered, %d duplicates", mode.delivery, seen, dups)
		})
	}
}

// consume reads topic until every wanted ID arrived, checking each
// document and its ID (the key).
func consume(t *testing.T, ctx context.Context, brokers []string, topic string, want map[string]bool, check func([]byte) []string) (seen, dups int) {
	rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer rd.Close()
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for len(got) < len(want) {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			missing := 0
			for id := range want {
				if got[id] == 0 {
					missing++
				}
			}
			t.Fatalf("reading %s: %v; %d of %d events missing", topic, err, missing, len(want))
		}
		id := string(m.Key)
		if !want[id] {
			t.Fatalf("unexpected event ID %q", id)
		}
		if p := check(m.Value); len(p) > 0 {
			t.Fatalf("event %s: %s\n%s", id, strings.Join(p, "\n"), m.Value)
		}
		var doc map[string]any
		if err := json.Unmarshal(m.Value, &doc); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Value), fmt.Sprintf("%q", id)) {
			t.Fatalf("event %s: the document does not carry its ID: %s", id, m.Value)
		}
		got[id]++
		if got[id] > 1 {
			dups++
		}
	}
	return len(got), dups
}

// freePortPair finds a free TCP port whose next port is free too.
func freePortPair(t *testing.T) int {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p >= 65535 {
			continue
		}
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

func receiverUp(t *testing.T, r *reporter.Reporter) float64 {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sluice_pipeline_siem_receiver_up" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no receiver_up")
	return 0
}

// TestCancelledSendKeepsKeysWithTheirValues: kafka-go's WriteMessages
// returned on a cancelled context while the batch was still queued, its
// values pointing into the caller's buffer, which the next send
// overwrote: the broker then acknowledged messages whose key was one
// event's ID and whose value another's. Each send here is given a context
// that ends within a few milliseconds and, as the sink does, reuses the
// bodies' buffer after a send that succeeded and leaves it behind after
// one that failed (a produce that outlives write-timeout, when the broker
// stalls, may still be encoding it). With the caller's cancellation
// passed on, nearly every send failed; now only a stall fails one, and
// every message read back must carry its own ID.
func TestCancelledSendKeepsKeysWithTheirValues(t *testing.T) {
	b := startBroker(t)
	topic := "siem-cancel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	kc := siemkafka.DefaultConfig()
	kc.Brokers, kc.Topic, kc.TopicPartitions, kc.WriteTimeout = b.brokers, topic, 1, 5*time.Second
	tr, err := siemkafka.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var body []byte
	batch := func(prefix string, n int) []siem.Event {
		body = body[:0] // reused, as the sink reuses its encoding buffer
		events := make([]siem.Event, n)
		for i := range events {
			id := prefix + "-" + strconv.Itoa(i)
			b0 := len(body)
			body = fmt.Appendf(body, `{"id":%q,"pad":%q}`, id, strings.Repeat(prefix, 20))
			events[i] = siem.Event{Kind: siem.KindFlow, ID: id, Time: time.Now(), Body: body[b0:len(body):len(body)]}
		}
		return events
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	body = make([]byte, 0, 1<<20)
	if err := tr.Send(ctx, batch("warmup", 1)); err != nil {
		t.Fatal(err)
	}
	const rounds, maxFailed = 40, 10
	failed := 0
	for round := range rounds {
		// Cancelled while the batch waits in kafka-go's queue (an
		// already cancelled context never gets that far).
		cctx, stop := context.WithTimeout(ctx, time.Duration(100+round*50)*time.Microsecond)
		if err := tr.Send(cctx, batch("r"+strconv.Itoa(round), 100)); err != nil {
			failed++
			t.Logf("round %d: %v", round, err)
			body = make([]byte, 0, 1<<20) // what failed may still be read
		}
		stop()
	}
	if failed > maxFailed {
		t.Fatalf("%d of %d sends failed once their context ended: the caller's cancellation reaches the produce", failed, rounds)
	}
	if err := tr.Send(ctx, batch("final", 10)); err != nil {
		t.Fatal(err)
	}
	rd := kafkago.NewReader(kafkago.ReaderConfig{Brokers: b.brokers, Topic: topic, Partition: 0, MaxWait: 200 * time.Millisecond})
	defer rd.Close()
	finals, n := 0, 0
	for finals < 10 {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s after %d messages: %v", topic, n, err)
		}
		n++
		var doc struct{ ID string }
		if err := json.Unmarshal(m.Value, &doc); err != nil || doc.ID != string(m.Key) {
			t.Fatalf("message with key %q carries another event's body: %.80s", m.Key, m.Value)
		}
		if strings.HasPrefix(doc.ID, "final-") {
			finals++
		}
	}
	t.Logf("%d messages read back, each with its own body; %d of %d sends failed", n, failed, rounds)
}
