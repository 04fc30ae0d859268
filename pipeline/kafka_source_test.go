package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/kafka"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// A batch whose intent cannot be committed is not stored: it waits,
// uncommitted, and the failures are counted, until the intent can be
// committed; then it is stored once, whole, and its commit clears the
// intent.
func TestFromKafkaIntentFailureHoldsBatch(t *testing.T) {
	const records = 300
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := reporter.New(slog.New(slog.DiscardHandler))
	cluster, kcfg := kfakeTopic(t, ctx, r, "sluice-intent-test", records)
	// Commits that carry an intent fail until refuse is cleared.
	var refuse atomic.Bool
	refuse.Store(true)
	cluster.ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		for _, topic := range req.(*kmsg.OffsetCommitRequest).Topics {
			for _, p := range topic.Partitions {
				if refuse.Load() && p.Metadata != nil && strings.Contains(*p.Metadata, "sluice-intent") {
					return nil, errors.New("intent refused"), true
				}
			}
		}
		return nil, nil, false
	})
	group, err := kafka.NewGroup(r, kcfg, kafka.GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	pr := r.Sub("pipeline")
	// Only size flushes: the batch is all 300 records however slowly
	// they are fetched, so the one write has them all.
	p, err := NewFromKafka(pr, Config{BatchRows: records, FlushInterval: time.Hour},
		KafkaDependencies{Group: group, Grace: time.Second, Sinks: []Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	defer runFromKafka(t, ctx, p)()

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
	testenv.Eventually(t, 30*time.Second, "intent failures to be counted", func() bool { return intentErrors() >= 3 })
	if writes, _ := sink.snapshot(); len(writes) != 0 {
		t.Fatalf("stored %v without an intent", writes)
	}

	// The intent can be committed again: the batch is stored once, then
	// committed without intent.
	refuse.Store(false)
	testenv.Eventually(t, 30*time.Second, "the batch to be stored and committed", func() bool {
		off, _ := kfakeCommitted(t, ctx, kcfg)
		return off == records // one message per record
	})
	if writes, _ := sink.snapshot(); len(writes) != 1 || writes[0] != records {
		t.Fatalf("writes %v, want one of %d records", writes, records)
	}
	if _, metadata := kfakeCommitted(t, ctx, kcfg); strings.Contains(metadata, "sluice-intent") {
		t.Fatalf("the intent is still committed after the batch: %q", metadata)
	}
}

// A worker killed between a batch's insert and its commit leaves the
// batch's intent in Kafka: ANOTHER worker (its own process and disk) that
// takes the partition rebuilds that batch with the same range and token,
// though it would gather differently on its own, then goes on.
func TestFromKafkaIntentRebuiltByAnotherWorker(t *testing.T) {
	const messages, perMessage = 8, 50
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := reporter.New(slog.New(slog.DiscardHandler))
	_, kcfg := kfakeTopic(t, ctx, r, "sluice-intent-handover-test", slices.Repeat([]int{perMessage}, messages)...)

	// The producer sends one message per record. The first worker
	// gathers 150 records, stores them and "dies": its
	// sink fails after the store, so nothing is committed.
	first := &tokenSink{fail: errors.New("killed after the insert")}
	g1, err := kafka.NewGroup(r, kcfg, kafka.GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := NewFromKafka(r.Sub("first"), Config{BatchRows: 3 * perMessage, FlushInterval: time.Hour},
		KafkaDependencies{Group: g1, Grace: time.Second, Sinks: []Sink{first}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runFromKafka(t, ctx, p1)
	testenv.Eventually(t, 30*time.Second, "the first worker to store a batch", func() bool {
		tokens, _ := first.snapshot()
		return len(tokens) > 0
	})
	stop()
	want := fmt.Sprintf("%s/0/0-149", kcfg.Topic)
	if tokens, _ := first.snapshot(); len(tokens) != 1 || tokens[0] != want {
		t.Fatalf("first worker wrote %v, want [%s]", tokens, want)
	}
	if off, metadata := kfakeCommitted(t, ctx, kcfg); off != 0 || !strings.Contains(metadata, "sluice-intent-1:0-149") {
		t.Fatalf("committed %d %q, want offset 0 with the intent 0-149", off, metadata)
	}

	// Another worker, gathering 250 records at a time: it rebuilds 0-149
	// first (on its own it would gather 0-249), then 150-399.
	second := &tokenSink{}
	r2 := reporter.New(slog.New(slog.DiscardHandler))
	g2, err := kafka.NewGroup(r2, kcfg, kafka.GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := NewFromKafka(r2, Config{BatchRows: 5 * perMessage, FlushInterval: 500 * time.Millisecond},
		KafkaDependencies{Group: g2, Grace: time.Second, Sinks: []Sink{second}})
	if err != nil {
		t.Fatal(err)
	}
	defer runFromKafka(t, ctx, p2)()
	testenv.Eventually(t, 30*time.Second, "every offset to be committed", func() bool {
		off, _ := kfakeCommitted(t, ctx, kcfg)
		return off == messages*perMessage
	})
	tokens, _ := second.snapshot()
	if len(tokens) != 2 || tokens[0] != want || tokens[1] != fmt.Sprintf("%s/0/150-399", kcfg.Topic) {
		t.Fatalf("second worker wrote %v, want [%s %s/0/150-399]", tokens, want, kcfg.Topic)
	}
}

// kfakeCommitted reads the group's committed offset of partition 0 and its
// metadata (-1 when none).
func kfakeCommitted(t *testing.T, ctx context.Context, kcfg kafka.Config) (int64, string) {
	t.Helper()
	client := &kafkago.Client{Addr: kafkago.TCP(kcfg.Brokers...)}
	res, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: kcfg.Consumer.GroupID, Topics: map[string][]int{kcfg.Topic: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Topics[kcfg.Topic] {
		if p.Partition == 0 {
			return p.CommittedOffset, p.Metadata
		}
	}
	return -1, ""
}

// kfakeTopic starts an in-process broker and writes one message of n random
// records per element of messages to a one-partition topic.
func kfakeTopic(t *testing.T, ctx context.Context, r *reporter.Reporter, topic string, messages ...int) (*kfake.Cluster, kafka.Config) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	kcfg := kafka.DefaultConfig()
	kcfg.Brokers = cluster.ListenAddrs()
	kcfg.Topic = topic
	kcfg.Consumer.GroupID = topic
	kcfg.TopicPartitions = 1
	kcfg.Producer.BatchTimeout = 20 * time.Millisecond
	kcfg.Consumer.SessionTimeout = 6 * time.Second
	kcfg.Consumer.HeartbeatInterval = 200 * time.Millisecond
	kcfg.Consumer.RebalanceTimeout = 5 * time.Second
	kcfg.Consumer.MaxWait = 100 * time.Millisecond

	producer, err := kafka.NewProducer(r, kcfg, kafka.ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Stop(context.Background())
	if err := producer.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range messages {
		flows := make([]record.Flow, n)
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
	}
	return cluster, kcfg
}

// runFromKafka runs p until the returned function is called, which waits
// for it to store, commit and leave the group (within ctx).
func runFromKafka(t *testing.T, ctx context.Context, p *FromKafka) (stop func()) {
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := p.Stop(ctx); err != nil {
			t.Error(err)
		}
	}
}

// tokenSink records the deduplication token of every write, and how many
// records each token stored.
type tokenSink struct {
	mu      sync.Mutex
	tokens  []string
	records map[string]int
	onWrite func()
	// fail, when set, is returned after every write is recorded.
	fail error
}

func (s *tokenSink) WriteBatches(_ context.Context, batches [][]record.Flow, token string) error {
	s.mu.Lock()
	s.tokens = append(s.tokens, token)
	if s.records == nil {
		s.records = map[string]int{}
	}
	n := 0
	for _, flows := range batches {
		n += len(flows)
	}
	s.records[token] = n
	hook := s.onWrite
	s.onWrite = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return s.fail
}

func (s *tokenSink) snapshot() (tokens []string, stored int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.records {
		stored += n
	}
	return append([]string(nil), s.tokens...), stored
}

// When the coordinator goes away right after a batch is stored, its commit
// fails and the partition is handed over while the worker still holds
// fetched messages. The worker must stop there: a second batch stored
// uncommitted would have no intent, so the next owner, starting at the
// last committed offset, would store it again under another token. Every
// offset must be stored under one token only.
func TestFromKafkaCommitFailureStopsClaim(t *testing.T) {
	const messages, perMessage = 8, 50
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := reporter.New(slog.New(slog.DiscardHandler))
	sizes := make([]int, messages)
	for i := range sizes {
		sizes[i] = perMessage
	}
	cluster, kcfg := kfakeTopic(t, ctx, r, "sluice-commit-failure-test", sizes...)
	kcfg.Consumer.QueueMessages = messages // the reader holds them all when the claim ends
	group, err := kafka.NewGroup(r, kcfg, kafka.GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	// After the first store, every commit and heartbeat closes its
	// connection to the coordinator (so the generation ends too), for a
	// second.
	var failing atomic.Bool
	for _, key := range []int16{kmsg.OffsetCommit.Int16(), kmsg.Heartbeat.Int16()} {
		cluster.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			cluster.KeepControl()
			if failing.Load() {
				return nil, errors.New("coordinator lost"), true
			}
			return nil, nil, false
		})
	}
	sink := &tokenSink{onWrite: func() {
		failing.Store(true)
		time.AfterFunc(time.Second, func() { failing.Store(false) })
	}}
	p, err := NewFromKafka(r.Sub("pipeline"), Config{BatchRows: perMessage, FlushInterval: time.Minute},
		KafkaDependencies{Group: group, Grace: time.Second, Sinks: []Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	defer runFromKafka(t, ctx, p)()

	owner := map[int64]string{}
	testenv.Eventually(t, 30*time.Second, "every record stored", func() bool {
		tokens, stored := sink.snapshot()
		for _, token := range tokens {
			var first, last int64
			if _, err := fmt.Sscanf(token[strings.LastIndexByte(token, '/')+1:], "%d-%d", &first, &last); err != nil {
				t.Fatalf("token %q: %v", token, err)
			}
			for o := first; o <= last; o++ {
				if prev, ok := owner[o]; ok && prev != token {
					t.Fatalf("offset %d stored under %q and %q (tokens %v)", o, prev, token, tokens)
				}
				owner[o] = token
			}
		}
		return stored == messages*perMessage
	})
	// Stored once per distinct token; the batch whose commit failed, again.
	tokens, _ := sink.snapshot()
	distinct := map[string]bool{}
	for _, token := range tokens {
		distinct[token] = true
	}
	if len(tokens) == len(distinct) {
		t.Fatalf("tokens %v: the failed commit was not followed by a replay", tokens)
	}
}

// A gathering's identity token names its messages, not where they are:
// the same messages at other offsets or in another partition give the same
// token, other messages another one, and a message without identity counts
// by its place.
func TestIdentityToken(t *testing.T) {
	batches := func(offset int64, ids ...uint64) []Batch {
		var bs []Batch
		for i, id := range ids {
			b := Batch{Offset: offset + int64(i)}
			if id != 0 {
				b.Producer, b.Seq = "0123456789abcdef", id
			}
			bs = append(bs, b)
		}
		return bs
	}
	a := identityToken("flows", 1, batches(10, 5, 6, 7))
	if !strings.HasPrefix(a, "sluice-ids/") || len(a) != len("sluice-ids/")+32 {
		t.Fatalf("token %q", a)
	}
	if b := identityToken("flows", 3, batches(900, 5, 6, 7)); b != a {
		t.Errorf("same messages elsewhere: %s, want %s", b, a)
	}
	for _, other := range [][]Batch{batches(10, 5, 6), batches(10, 5, 7, 6), batches(10, 5, 6, 8), batches(10, 5, 6, 0)} {
		if b := identityToken("flows", 1, other); b == a {
			t.Errorf("other messages %+v share the token %s", other, a)
		}
	}
	if identityToken("flows", 1, batches(10, 5, 0)) == identityToken("flows", 1, batches(11, 5, 0)) {
		t.Error("a message without identity does not count by its offset")
	}
}
