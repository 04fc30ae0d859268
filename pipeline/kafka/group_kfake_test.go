package kafka

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"sluice/internal/testenv"
	"sluice/pipeline/record"
	"sluice/pipeline/recordpb"
)

// groupMember runs a Group whose handler reads its partitions and commits
// only when the claim ends (a rebalance or shutdown): what the next owner of
// a partition reads shows whether that commit happened before it started.
type groupMember struct {
	t        *testing.T
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once

	mu     sync.Mutex
	starts map[int][]int64 // claim start offsets, by partition
}

// groupLog is what every member read, shared by the members of a test.
type groupLog struct {
	mu      sync.Mutex
	seen    map[[2]int64]int // (partition, offset) → times read
	records int
	next    map[int]int64 // partition → offset after the last message read
}

func (l *groupLog) add(partition int, msg ClaimMessage, records int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[[2]int64{int64(partition), msg.Offset}]++
	l.records += records
	l.next[partition] = max(l.next[partition], msg.Offset+1)
}

func (l *groupLog) snapshot() (records int, duplicates int, next map[int]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.seen {
		duplicates += n - 1
	}
	next = make(map[int]int64, len(l.next))
	for p, o := range l.next {
		next[p] = o
	}
	return l.records, duplicates, next
}

func startMember(t *testing.T, ctx context.Context, cfg Config, log *groupLog) (*groupMember, func() float64) {
	t.Helper()
	r := newTestReporter(t)
	g, err := NewGroup(r, cfg, GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	m := &groupMember{t: t, done: make(chan error, 1), starts: map[int][]int64{}}
	runCtx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	go func() {
		m.done <- g.Run(runCtx, func(c *Claim) {
			m.mu.Lock()
			m.starts[c.Partition] = append(m.starts[c.Partition], c.Start)
			m.mu.Unlock()
			last := int64(-1)
			var flows []record.Flow
			for {
				msg, err := c.Fetch(c.Context(), flows[:0])
				if err != nil {
					break // the claim ended
				}
				log.add(c.Partition, msg, len(msg.Flows))
				last = msg.Offset
			}
			if last >= 0 {
				if err := c.Commit(last + 1); err != nil {
					t.Errorf("commit on revocation of partition %d: %v", c.Partition, err)
				}
			}
		})
	}()
	assigned := func() float64 { return metricValue(t, r.Gatherer(), "consumer_partitions_assigned") }
	return m, assigned
}

// stop ends the member (its handlers commit what they read) and waits
// until it left the group.
func (m *groupMember) stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		if err := <-m.done; err != nil {
			m.t.Error(err)
		}
	})
}

func (m *groupMember) claimStarts() map[int][]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int][]int64, len(m.starts))
	for p, s := range m.starts {
		out[p] = append([]int64(nil), s...)
	}
	return out
}

// TestGroupKfakeRebalance runs Group against franz-go's in-process fake
// Kafka: one member gets every partition; a second member joins, the first
// commits what it read as its partitions are revoked, and the second starts
// each partition it gets exactly there: nothing read twice, nothing
// skipped, before and after the rebalance.
func TestGroupKfakeRebalance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const partitions = 2
	_, cfg, p := kfakeGroupTopic(t, ctx, partitions)
	first := randomFlows(5, 2000, 16)
	produceAll(t, ctx, p, first, 100)

	log := &groupLog{seen: map[[2]int64]int{}, next: map[int]int64{}}
	a, assignedA := startMember(t, ctx, cfg, log)
	defer a.stop()
	testenv.Eventually(t, 30*time.Second, "the first member to read every record", func() bool {
		n, _, _ := log.snapshot()
		return n == len(first)
	})
	if n := assignedA(); n != partitions {
		t.Fatalf("the only member holds %v partitions, want %d", n, partitions)
	}
	_, _, before := log.snapshot()
	if len(before) != partitions {
		t.Fatalf("records landed on partitions %v; the test needs all %d", before, partitions)
	}
	if off := committed(t, ctx, cfg, partitions); off[0] >= 0 || off[1] >= 0 {
		t.Fatalf("offsets %v committed before any revocation", off)
	}

	b, assignedB := startMember(t, ctx, cfg, log)
	defer b.stop()
	testenv.Eventually(t, 30*time.Second, "the partitions to be shared", func() bool {
		return assignedA() == 1 && assignedB() == 1
	})
	// The first member committed on revocation, before the second started.
	if off := committed(t, ctx, cfg, partitions); off[0] != before[0] || off[1] != before[1] {
		t.Fatalf("committed %v after the rebalance, want %v", off, before)
	}
	for partition, starts := range b.claimStarts() {
		if len(starts) != 1 || starts[0] != before[partition] {
			t.Fatalf("the second member started partition %d at %v, want [%d]", partition, starts, before[partition])
		}
	}

	second := randomFlows(6, 2000, 16)
	produceAll(t, ctx, p, second, 100)
	testenv.Eventually(t, 30*time.Second, "every record of both rounds", func() bool {
		n, _, _ := log.snapshot()
		return n >= len(first)+len(second)
	})
	// Stopped, the members read nothing more: what they read twice is in
	// the log now.
	a.stop()
	b.stop()
	if n, dups, _ := log.snapshot(); n != len(first)+len(second) || dups != 0 {
		t.Fatalf("read %d records (%d messages twice), want %d once", n, dups, len(first)+len(second))
	}
	_, _, end := log.snapshot()
	if off := committed(t, ctx, cfg, partitions); off[0] != end[0] || off[1] != end[1] {
		t.Fatalf("committed %v after shutdown, want %v", off, end)
	}
}

// kfakeGroupTopic starts an in-process broker and a producer to a topic of
// the given partitions, with group timers short enough for rebalances to
// take a second.
func kfakeGroupTopic(t *testing.T, ctx context.Context, partitions int) (*kfake.Cluster, Config, *Producer) {
	t.Helper()
	cluster, cfg := fakeKafka(t, partitions)
	cfg.Consumer.SessionTimeout = 6 * time.Second
	cfg.Consumer.HeartbeatInterval = 200 * time.Millisecond
	cfg.Consumer.RebalanceTimeout = 5 * time.Second
	p, err := NewProducer(newTestReporter(t), cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopic(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background()) })
	return cluster, cfg, p
}

// committed is the group's committed offset of each partition, -1 when
// there is none.
func committed(t *testing.T, ctx context.Context, cfg Config, partitions int) map[int]int64 {
	t.Helper()
	ids := make([]int, partitions)
	for i := range ids {
		ids[i] = i
	}
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: 5 * time.Second}
	res, err := client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: cfg.Consumer.GroupID, Topics: map[string][]int{cfg.Topic: ids}})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int]int64, partitions)
	for i := range partitions {
		out[i] = -1
	}
	for _, p := range res.Topics[cfg.Topic] {
		if p.Error != nil {
			t.Fatalf("partition %d: %v", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// TestGroupSkipsRetriedCopies writes copies of messages under the same
// sluice-message-id, as a producer's retry does, on both sides of a
// rebalance: a copy is skipped even when the claim that read the first one
// has ended, while a message read again because it was not committed is not
// mistaken for a copy of itself.
func TestGroupSkipsRetriedCopies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cluster, cfg, p := kfakeGroupTopic(t, ctx, 1)
	flows := randomFlows(7, 1, 1)
	value := recordpb.AppendBatchFlow(nil, &flows[0])
	write := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			done := make(chan error, 1)
			if err := p.SendEncoded(ctx, []byte("exporter"), value, 1, Identity{ID: id}, func(err error) { done <- err }); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	write("a", "b", "a") // offsets 0, 1, 2

	g, err := NewGroup(newTestReporter(t), cfg, GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	type read struct {
		claim   int
		offset  int64
		skipped string
	}
	var mu sync.Mutex
	var reads []read
	snapshot := func() []read {
		mu.Lock()
		defer mu.Unlock()
		return append([]read(nil), reads...)
	}
	claims := 0
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- g.Run(runCtx, func(c *Claim) {
			claims++
			for {
				msg, err := c.Fetch(c.Context(), nil)
				if err != nil {
					return
				}
				mu.Lock()
				reads = append(reads, read{claims, msg.Offset, msg.Skipped})
				mu.Unlock()
				if msg.Offset == 0 {
					// Only the first message is handled for good: the next
					// claim reads offset 1 onwards again.
					if err := c.Commit(1); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	testenv.Eventually(t, 30*time.Second, "the first claim to read three messages", func() bool { return len(snapshot()) == 3 })
	// The coordinator drops the next heartbeat's connection: the
	// generation ends and the worker joins the next one.
	cluster.ControlKey(kmsg.Heartbeat.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, errors.New("coordinator lost"), true
	})
	testenv.Eventually(t, 30*time.Second, "the second claim to read offsets 1 and 2 again", func() bool { return len(snapshot()) == 5 })
	write("b", "c") // offsets 3, 4
	testenv.Eventually(t, 30*time.Second, "the second claim to read the new messages", func() bool { return len(snapshot()) == 7 })

	want := []read{
		{1, 0, ""}, {1, 1, ""}, {1, 2, "duplicate"},
		{2, 1, ""}, {2, 2, "duplicate"}, // b is read again, not a copy of itself
		{2, 3, "duplicate"}, {2, 4, ""}, // b was read before the rebalance
	}
	if got := snapshot(); !slices.Equal(got, want) {
		t.Fatalf("reads (claim, offset, skipped):\n got %v\nwant %v", got, want)
	}
}
