package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"sluice/internal/reporter"
	"sluice/internal/testenv"
	"sluice/pipeline/spool"
)

// fakeKafka is a kfake cluster, closed by the test or at its end, and a
// configuration for it that probes every 100 ms.
func fakeKafka(t *testing.T, partitions int) (*kfake.Cluster, Config) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := testConfig(t, cluster.ListenAddrs(), partitions)
	cfg.HealthCheckInterval = 100 * time.Millisecond
	return cluster, cfg
}

// testSpool is an empty spool of 1 MiB, stopped at the end of the test.
func testSpool(t *testing.T, r *reporter.Reporter) *spool.Spool {
	t.Helper()
	sp, err := spool.New(r, spool.Config{MaxBytes: 1 << 20, SegmentBytes: 64 << 10, Policy: spool.DropNewest}, spool.Dependencies{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Stop(context.Background()) })
	return sp
}

// gaugeFollows waits for the gauge to say 1, closes the cluster and waits
// for it to say 0.
func gaugeFollows(t *testing.T, r *reporter.Reporter, gauge string, cluster *kfake.Cluster) {
	t.Helper()
	up := func() float64 { return metricValue(t, r.Gatherer(), gauge) }
	testenv.Eventually(t, 30*time.Second, gauge+" 1", func() bool { return up() == 1 })
	cluster.Close()
	testenv.Eventually(t, 30*time.Second, gauge+" 0 with the broker gone", func() bool { return up() == 0 })
}

// TestBrokerProbe: the probe says up while the brokers answer, and down
// once they are gone, with no traffic to notice it.
func TestBrokerProbe(t *testing.T) {
	cluster, cfg := fakeKafka(t, 1)
	p := newBrokerProbe(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(ctx)
	}()
	testenv.Eventually(t, 30*time.Second, "the probe to see the broker", p.up)
	cluster.Close()
	testenv.Eventually(t, 30*time.Second, "the probe to see the broker gone", func() bool { return !p.up() })
	cancel()
	<-done
}

// TestForwarderGaugeIdle: forwarder_kafka_up follows the brokers while
// nothing is delivered (it used to stay at its last delivery's outcome).
func TestForwarderGaugeIdle(t *testing.T) {
	cluster, cfg := fakeKafka(t, 1)
	r := newTestReporter(t)
	p, err := NewProducer(r, cfg, ProducerDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewForwarder(r, ForwarderConfig{DrainStall: 100 * time.Millisecond}, ForwarderDependencies{Producer: p, Spool: testSpool(t, r)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	gaugeFollows(t, r, "forwarder_kafka_up", cluster)
	if err := f.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestGroupGauge: consumer_kafka_up is 1 once the worker is a member of
// its group and the brokers answer, 0 once they are gone.
func TestGroupGauge(t *testing.T) {
	cluster, cfg := fakeKafka(t, 2)
	r := newTestReporter(t)
	g, err := NewGroup(r, cfg, GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	if metricValue(t, r.Gatherer(), "consumer_kafka_up") != 0 {
		t.Fatal("consumer_kafka_up 1 before joining")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx, func(c *Claim) { <-c.Context().Done() })
	}()
	gaugeFollows(t, r, "consumer_kafka_up", cluster)
	cancel()
	<-done
}

// TestGroupLeavesStaleMember: leaveStale removes a member from the group
// on the real broker (that member, still heartbeating, sees its generation
// end: nothing else would end it), and stops asking, for a member the
// group no longer has, once the session timeout has passed. (Its use after
// a broker restart is measured by cmd/sluice's
// TestKafkaBrokerRestartRecovery.)
func TestGroupLeavesStaleMember(t *testing.T) {
	brokers := brokersForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig(t, brokers, 2)
	// leaveStale goes on for a session timeout after the coordinator's
	// first answer: the brokers' least.
	cfg.Consumer.SessionTimeout = 6 * time.Second
	if err := ensureTopic(ctx, cfg.transport(), cfg); err != nil {
		t.Fatal(err)
	}
	// A member that kafka-go's group keeps alive with heartbeats.
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID: cfg.Consumer.GroupID, Brokers: cfg.Brokers, Topics: []string{cfg.Topic},
		SessionTimeout: cfg.Consumer.SessionTimeout, HeartbeatInterval: 500 * time.Millisecond,
		JoinGroupBackoff: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	gen, err := cg.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	gen.Start(func(genCtx context.Context) {
		<-genCtx.Done()
		close(ended)
	})

	g, err := NewGroup(newTestReporter(t), cfg, GroupDependencies{})
	if err != nil {
		t.Fatal(err)
	}
	client := &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Transport: cfg.transport()}
	g.leaveStale(ctx, client, gen.MemberID)
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the member removed by leaveStale kept its generation")
	}
	// Gone already: the coordinator says so, and leaveStale stops asking.
	g.leaveStale(ctx, client, gen.MemberID)
	if ctx.Err() != nil {
		t.Fatal("leaveStale kept retrying for a member the group no longer has")
	}
	res, err := client.LeaveGroup(ctx, &kafkago.LeaveGroupRequest{GroupID: cfg.Consumer.GroupID,
		Members: []kafkago.LeaveGroupRequestMember{{ID: gen.MemberID}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Members) != 1 || !errors.Is(res.Members[0].Error, kafkago.UnknownMemberId) {
		t.Fatalf("leaving again: %+v, want UNKNOWN_MEMBER_ID", res)
	}
}
