package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"sluice/internal/testenv"
)

// TestBrokerProbe: the probe says up while the brokers answer, and down
// once they are gone, with no traffic to notice it.
func TestBrokerProbe(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, cluster.ListenAddrs(), 1)
	cfg.HealthCheckInterval = 100 * time.Millisecond
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
