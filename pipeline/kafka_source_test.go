package pipeline

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"sluice/pipeline/kafka"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/reporter"
)

// The intent of a partition's last batch survives a restart, and a broken
// file is ignored rather than trusted.
func TestIntentLog(t *testing.T) {
	l := intentLog{dir: t.TempDir()}
	if _, ok := l.load("flows", 3); ok {
		t.Fatal("intent found in an empty directory")
	}
	if err := l.save("flows", 3, 100, 180); err != nil {
		t.Fatal(err)
	}
	if err := l.save("flows", 4, 7, 7); err != nil {
		t.Fatal(err)
	}
	if in, ok := l.load("flows", 3); !ok || in != (intent{100, 180}) {
		t.Fatalf("partition 3: %+v %v", in, ok)
	}
	if in, ok := l.load("flows", 4); !ok || in != (intent{7, 7}) {
		t.Fatalf("partition 4: %+v %v", in, ok)
	}
	if err := l.save("flows", 3, 181, 200); err != nil {
		t.Fatal(err)
	}
	if in, _ := l.load("flows", 3); in != (intent{181, 200}) {
		t.Fatalf("after overwrite: %+v", in)
	}
	for _, bad := range []string{"", "garbage", "10 5\n", "-1 4\n"} {
		os.WriteFile(filepath.Join(l.dir, "flows.9.intent"), []byte(bad), 0o600)
		if in, ok := l.load("flows", 9); ok {
			t.Errorf("%q accepted as %+v", bad, in)
		}
	}
}

// A batch whose intent cannot be recorded is not stored: it waits,
// uncommitted, and the failures are counted, until the intent can be
// written; then it is stored once, whole.
func TestFromKafkaIntentFailureHoldsBatch(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	r := reporter.New(slog.New(slog.DiscardHandler))
	kcfg := kafka.DefaultConfig()
	kcfg.Brokers = cluster.ListenAddrs()
	kcfg.Topic = "sluice-intent-test"
	kcfg.Consumer.GroupID = "sluice-intent-test"
	kcfg.TopicPartitions = 1
	kcfg.Producer.BatchTimeout = 20 * time.Millisecond
	kcfg.Consumer.SessionTimeout = 6 * time.Second
	kcfg.Consumer.HeartbeatInterval = 200 * time.Millisecond
	kcfg.Consumer.RebalanceTimeout = 5 * time.Second
	kcfg.Consumer.MaxWait = 100 * time.Millisecond

	producer, err := kafka.NewProducer(r.Sub("producer"), kcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const records = 300
	rnd := rand.New(rand.NewPCG(1, 2))
	flows := make([]record.Flow, records)
	for i := range flows {
		flows[i] = recordpb.RandomFlow(rnd)
	}
	sent := make(chan error, 1)
	if err := producer.Send(ctx, flows, func(err error) { sent <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	producer.Close()

	group, err := kafka.NewGroup(r.Sub("group"), kcfg)
	if err != nil {
		t.Fatal(err)
	}
	intentDir := filepath.Join(t.TempDir(), "intents")
	sink := &recordingSink{}
	pr := r.Sub("pipeline")
	p, err := NewFromKafka(pr, Config{BatchRows: records, FlushInterval: 100 * time.Millisecond}, group, intentDir, time.Second, sink)
	if err != nil {
		t.Fatal(err)
	}
	// The intent directory becomes a file: no intent can be written.
	if err := os.RemoveAll(intentDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(intentDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx, ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	intentErrors := func() float64 {
		mfs, err := pr.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if strings.HasSuffix(mf.GetName(), "intent_errors_total") {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	waitFor(t, "intent failures to be counted", func() bool { return intentErrors() >= 3 })
	if writes, _ := sink.snapshot(); len(writes) != 0 {
		t.Fatalf("stored %v without an intent", writes)
	}

	// The directory is back: the batch is recorded, then stored once.
	if err := os.Remove(intentDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(intentDir, 0o750); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the batch to be stored", func() bool {
		writes, _ := sink.snapshot()
		return len(writes) > 0
	})
	if writes, _ := sink.snapshot(); len(writes) != 1 || writes[0] != records {
		t.Fatalf("writes %v, want one of %d records", writes, records)
	}
	if in, ok := (intentLog{dir: intentDir}).load(kcfg.Topic, 0); !ok || in.first != 0 {
		t.Fatalf("intent %+v %v after the store", in, ok)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
