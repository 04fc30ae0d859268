package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline"
	"sluice/pipeline/kafka"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
	"sluice/storage/writer"
)

// TestKafkaReplayAfterCrash proves the replay path of `sluice pipeline`
// deterministically, in process: a real broker, the real storage writer and
// embedded engine (this test opens the process's one chDB session and closes
// it), and a crash placed exactly between a batch's insert and its commit.
//
// The topic holds 10 messages of 50 records (offsets 0-9), all produced
// before any worker starts. The first worker gathers 200 records per batch
// and never flushes on time: its first batch is offsets 0-3, which it stores
// and then "crashes" (the sink returns an error after the real insert, so
// nothing is committed). The second worker, another member of the group
// with nothing of the first (no data directory: the intent is committed to
// Kafka), gathers 300 records per batch: left to itself it would store
// offsets 0-5 under a new token, and 0-3 twice. Only the intent makes it
// rebuild 0-3 first (a rebuilt batch ends on its recorded last offset, not
// on size or time), under the same token, which the store drops.
func TestKafkaReplayAfterCrash(t *testing.T) {
	requireChdb(t)
	brokers := strings.Split(sharedBrokers(t), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	const messages, perMessage = 10, 50
	const total = messages * perMessage
	kcfg := kafka.DefaultConfig()
	kcfg.Brokers = brokers
	suffix := fmt.Sprintf("replay-%d", time.Now().UnixNano())
	kcfg.Topic = "sluice-test-" + suffix
	kcfg.Consumer.GroupID = "sluice-test-" + suffix
	kcfg.TopicPartitions = 1
	kcfg.DialTimeout = 3 * time.Second
	kcfg.Producer.BatchTimeout = 5 * time.Millisecond
	kcfg.Consumer.SessionTimeout = 6 * time.Second
	kcfg.Consumer.HeartbeatInterval = 500 * time.Millisecond
	kcfg.Consumer.RebalanceTimeout = 10 * time.Second
	kcfg.Consumer.MaxWait = 200 * time.Millisecond
	produceNumbered(t, ctx, reporter.New(logger), kcfg, messages, perMessage)

	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Storage.Writer.RetryMax = 500 * time.Millisecond
	cfg.ClickHouseHTTP.Listen = "" // not under test; its default port may be taken
	storeReporter := reporter.New(logger)
	st, err := newEmbeddedStore(storeReporter, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var storage component.List
	st.addTo(&storage)
	if err := storage.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer storage.Stop(context.WithoutCancel(ctx))
	engine, store := st.engine, st.writer

	// runWorker runs one pipeline worker until stop returns, with batches of
	// batchRows records, or flushInterval after a batch's first record.
	runWorker := func(sink *recordingSink, batchRows int, flushInterval time.Duration, stop func(context.Context)) {
		t.Helper()
		r := reporter.New(logger)
		group, err := kafka.NewGroup(r, kcfg, kafka.GroupDependencies{})
		if err != nil {
			t.Fatal(err)
		}
		pcfg := pipeline.Config{BatchRows: batchRows, FlushInterval: flushInterval}
		p, err := pipeline.NewFromKafka(r, pcfg, pipeline.KafkaDependencies{
			Group: group, Grace: 5 * time.Second, Sinks: []pipeline.Sink{sink},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := p.Stop(ctx); err != nil {
				t.Error(err)
			}
		}()
		stop(ctx)
	}

	// First worker: stores offsets 0-3, then dies before committing.
	crashing := &recordingSink{w: store, crash: true, crashed: make(chan struct{})}
	runWorker(crashing, 4*perMessage, time.Hour, func(ctx context.Context) {
		select {
		case <-crashing.crashed:
		case <-ctx.Done():
			t.Fatal("the first worker stored nothing")
		}
	})
	firstToken := fmt.Sprintf("%s/0/0-3", kcfg.Topic)
	if got := crashing.tokens(); len(got) != 1 || got[0] != firstToken {
		t.Fatalf("first worker wrote %q, want [%s]", got, firstToken)
	}
	// The crashed worker committed only its intent, at the offset the
	// batch starts from.
	if off := committedOffset(t, ctx, kcfg); off != 0 {
		t.Fatalf("offset %d committed by the crashed worker, want 0 (its intent)", off)
	}
	if n := flowCount(t, ctx, engine); n != 4*perMessage {
		t.Fatalf("%d rows stored before the crash, want %d", n, 4*perMessage)
	}

	// Second worker, same group, its own state: consumes everything.
	// Its flush interval only ends what follows the rebuilt batch (a
	// replay is not flushed on time), so that a failure ends soon too.
	second := &recordingSink{w: store}
	runWorker(second, 6*perMessage, 2*time.Second, func(ctx context.Context) {
		testenv.EventuallyState(t, time.Minute, "the second worker to commit every offset", func() (bool, string) {
			return committedOffset(t, ctx, kcfg) == messages, fmt.Sprintf("it wrote %q", second.tokens())
		})
	})
	got := second.tokens()
	t.Logf("second worker wrote %q", got)
	if len(got) == 0 || got[0] != firstToken {
		t.Errorf("second worker's first batch is %q, want %s: the uncommitted batch is not rebuilt with its range and token", got, firstToken)
	}

	// The writer inserted the replayed batch again (rows_inserted counts
	// it), and the store kept it once.
	var count, distinct, minBytes, maxBytes uint64
	out, err := engine.Query(ctx, "SELECT count(), uniqExact(Bytes), min(Bytes), max(Bytes) FROM flows", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(string(out), "%d\t%d\t%d\t%d", &count, &distinct, &minBytes, &maxBytes); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	inserted := gathered(t, storeReporter, "sluice_storage_writer_rows_inserted_total")
	t.Logf("writer inserted %v rows in %v batches; the store holds %d", inserted,
		gathered(t, storeReporter, "sluice_storage_writer_batches_inserted_total"), count)
	if count != total || distinct != total || minBytes != 1 || maxBytes != total {
		t.Fatalf("stored %d rows, %d distinct, Bytes %d-%d; want exactly records 1-%d once", count, distinct, minBytes, maxBytes, total)
	}
	if inserted != total+4*perMessage {
		t.Errorf("the writer inserted %v rows, want %d: the replayed batch must reach the store and be dropped there", inserted, total+4*perMessage)
	}
}

// produceNumbered writes messages messages of perMessage records to a
// fresh topic, one Kafka message each, with Bytes numbering the records
// from 1, and waits until Kafka has acknowledged them all.
func produceNumbered(t *testing.T, ctx context.Context, r *reporter.Reporter, cfg kafka.Config, messages, perMessage int) {
	t.Helper()
	p, err := kafka.NewProducer(r, cfg, kafka.ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	errs := make(chan error, 1)
	for m := range messages {
		var value []byte
		for i := range perMessage {
			f := recordpb.RandomFlow(rng)
			f.TimeReceived = now.UnixNano()
			f.TimeFlowStart, f.TimeFlowEnd = now.UnixMilli()-1000, now.UnixMilli()
			f.Bytes = uint64(m*perMessage + i + 1)
			value = recordpb.AppendBatchFlow(value, &f)
		}
		// One at a time, so that the offsets follow the numbering.
		err := p.SendEncoded(ctx, []byte("exporter"), value, perMessage, kafka.Identity{}, func(err error) { errs <- err })
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// recordingSink stores through the real writer and records each batch's
// token. With crash set, it fails every batch after storing it, as a
// process killed between the insert and the commit would.
type recordingSink struct {
	w       *writer.Writer
	crash   bool
	crashed chan struct{}
	once    sync.Once

	mu     sync.Mutex
	writes []string
}

var errCrash = errors.New("simulated crash after the insert")

func (s *recordingSink) WriteBatches(ctx context.Context, batches [][]record.Flow, token string) error {
	if err := s.w.WriteBatches(ctx, batches, token); err != nil {
		return err
	}
	s.mu.Lock()
	s.writes = append(s.writes, token)
	s.mu.Unlock()
	if s.crash {
		s.once.Do(func() { close(s.crashed) })
		return errCrash
	}
	return nil
}

func (s *recordingSink) tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

// committedOffset is the group's committed offset of partition 0, -1 when
// there is none.
func committedOffset(t *testing.T, ctx context.Context, cfg kafka.Config) int64 {
	t.Helper()
	offsets, err := committed(ctx, kafkaClient(cfg), cfg.Consumer.GroupID, cfg.Topic, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	off, ok := offsets[0]
	if !ok {
		t.Fatalf("no offset for %s/0", cfg.Topic)
	}
	return off
}

func flowCount(t *testing.T, ctx context.Context, e interface {
	Query(context.Context, string, string) ([]byte, error)
}) uint64 {
	t.Helper()
	out, err := e.Query(ctx, "SELECT count() FROM flows", "TSV")
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	if _, err := fmt.Sscanf(string(out), "%d", &n); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	return n
}

// gathered sums a metric's series.
func gathered(t *testing.T, r *reporter.Reporter, name string) float64 {
	t.Helper()
	families, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
