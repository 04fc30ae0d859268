package main

// Recovery-time measurements of the split deployment on the real broker,
// with the consumer group's shipped timeouts (not the short ones of
// kafkaTestConfig): how long a surviving worker takes to hold a killed
// worker's partitions, how long after a broker restart storing resumes,
// and how soon the Kafka health gauges see the broker gone. The figures are
// logged (README's reliability section quotes them); the bounds asserted
// are loose, to catch a regression to the half-minute standstills of
// before, not to time the machine.

import (
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"sluice/internal/testenv"
)

// recoveryBound is the loose bound each recovery is held to (the target is
// under 10 s).
const recoveryBound = 30 * time.Second

// defaultGroupTimeouts rewrites a kafkaTestConfig configuration without its
// short consumer-group timeouts, so the group runs with the defaults an
// operator gets.
func defaultGroupTimeouts(t *testing.T, config string) string {
	t.Helper()
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`(?m)^    (session-timeout|heartbeat-interval|rebalance-timeout): .*\n`).ReplaceAll(b, nil)
	if err := os.WriteFile(config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return config
}

// since polls every condition every 50 ms, for up to limit, and returns
// how long after start each first held (limit for those that never did),
// and whether all did.
func since(start time.Time, limit time.Duration, conds ...func() bool) ([]time.Duration, bool) {
	took := make([]time.Duration, len(conds))
	left := len(conds)
	for left > 0 && time.Since(start) < limit {
		for i, cond := range conds {
			if took[i] == 0 && cond() {
				took[i] = max(time.Since(start), time.Nanosecond)
				left--
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range took {
		if took[i] == 0 {
			took[i] = limit
		}
	}
	return took, left == 0
}

// background sends demo traffic at rate until the returned stop is called.
func background(tr *traffic, rate int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
				tr.send(250, rate)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// streaming starts, with the default group timeouts, a pipeline and a
// collector fed with demo traffic (seed) at 2,000 flows/s until stop.
func streaming(t *testing.T, brokers string, seed uint64) (config string, pipe, coll *tier, tr *traffic, stop func()) {
	t.Helper()
	config = defaultGroupTimeouts(t, kafkaTestConfig(t, brokers, ""))
	pipe = startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	args, nf, sf := collectArgs(t, config, t.TempDir())
	coll = startTier(t, args...)
	tr = newTraffic(t, nf, sf, seed)
	stop = background(tr, 2000)
	t.Cleanup(stop)
	return config, pipe, coll, tr, stop
}

// TestKafkaWorkerKilledTakeover kills one of two pipeline workers with
// SIGKILL mid-stream and measures how long the other takes to hold every
// partition and to store from them: the group notices the dead worker only
// when its session times out.
func TestKafkaWorkerKilledTakeover(t *testing.T) {
	requireChdb(t)
	config, first, coll, _, stop := streaming(t, sharedBrokers(t), 21)
	second := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	const partitions = 4
	testenv.Eventually(t, 90*time.Second, "both workers to hold partitions", func() bool {
		a, b := first.metric("sluice_pipeline_kafka_consumer_partitions_assigned"), second.metric("sluice_pipeline_kafka_consumer_partitions_assigned")
		return a > 0 && b > 0 && a+b == partitions
	})
	testenv.Eventually(t, 60*time.Second, "both workers to store", func() bool { return first.count() > 0 && second.count() > 0 })

	killed := time.Now()
	first.kill()
	took, ok := since(killed, 2*recoveryBound, func() bool {
		return second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") == partitions
	})
	held := took[0]
	inserts := second.metric("sluice_storage_writer_batches_inserted_total")
	took, storedOK := since(killed, 2*recoveryBound, func() bool {
		return second.metric("sluice_storage_writer_batches_inserted_total") > inserts
	})
	stored := took[0]
	t.Logf("worker kill -9: the other worker held every partition after %.1f s, stored from them after %.1f s",
		held.Seconds(), stored.Seconds())
	if !ok || !storedOK || held > recoveryBound || stored > recoveryBound {
		t.Errorf("takeover after a worker's kill -9 took %.1f s (stored after %.1f s), want well under %s", held.Seconds(), stored.Seconds(), recoveryBound)
	}

	// A worker that stops cleanly leaves the group at once: the other
	// takes its partitions without waiting for a session to time out.
	third := startTier(t, "pipeline", "--config", config, "--data", t.TempDir())
	testenv.Eventually(t, 90*time.Second, "the new worker to hold partitions", func() bool {
		return third.metric("sluice_pipeline_kafka_consumer_partitions_assigned") > 0 &&
			second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") < partitions
	})
	stopping := time.Now()
	third.term()
	stopped := time.Since(stopping)
	took, ok = since(stopping, 2*recoveryBound, func() bool {
		return second.metric("sluice_pipeline_kafka_consumer_partitions_assigned") == partitions
	})
	t.Logf("worker stopped cleanly (SIGTERM, exit after %.1f s): the other worker held every partition after %.1f s",
		stopped.Seconds(), took[0].Seconds())
	if !ok {
		t.Errorf("takeover after a clean stop took over %s", 2*recoveryBound)
	}
	stop()
	coll.term()
	second.term()
}

// TestKafkaBrokerRestartRecovery stops the broker mid-stream and measures
// how soon the collector's and the pipeline's Kafka gauges turn 0, then
// starts it again and measures how soon the pipeline stores again; then
// checks that every flow sent is stored once.
func TestKafkaBrokerRestartRecovery(t *testing.T) {
	requireChdb(t)
	broker := newKafkaBroker(t)
	broker.start()
	config, pipe, coll, tr, stop := streaming(t, broker.addr, 22)
	testenv.Eventually(t, 90*time.Second, "flows stored", func() bool { return pipe.count() > 0 })
	testenv.Eventually(t, 30*time.Second, "both gauges up", func() bool {
		return coll.metric("sluice_pipeline_kafka_forwarder_kafka_up") == 1 && pipe.metric("sluice_pipeline_kafka_consumer_kafka_up") == 1
	})

	// The gauges are watched from the SIGTERM on, while the broker shuts
	// down (kafka.sh halt waits for its exit).
	halting := time.Now()
	halted := make(chan time.Duration, 1)
	go func() {
		broker.halt()
		halted <- time.Since(halting)
	}()
	took, ok := since(halting, recoveryBound,
		func() bool { return coll.metric("sluice_pipeline_kafka_forwarder_kafka_up") == 0 },
		func() bool { return pipe.metric("sluice_pipeline_kafka_consumer_kafka_up") == 0 })
	exit := <-halted
	t.Logf("broker stopped (SIGTERM; it exited after %.1f s): forwarder_kafka_up 0 after %.1f s, consumer_kafka_up 0 after %.1f s",
		exit.Seconds(), took[0].Seconds(), took[1].Seconds())
	if !ok {
		t.Errorf("a Kafka gauge stayed 1 for %s with the broker stopping or stopped", recoveryBound)
	}
	time.Sleep(3 * time.Second)

	before := pipe.count()
	broker.resume()
	resumed := time.Now()
	took, ok = since(resumed, 2*recoveryBound,
		func() bool { return pipe.count() > before },
		func() bool {
			return coll.metric("sluice_pipeline_kafka_forwarder_kafka_up") == 1 && coll.metric("sluice_pipeline_spool_entries") == 0
		},
		func() bool { return pipe.metric("sluice_pipeline_kafka_consumer_kafka_up") == 1 })
	t.Logf("broker restarted: storing resumed after %.1f s; collector's spool drained after %.1f s; consumer_kafka_up 1 after %.1f s",
		took[0].Seconds(), took[1].Seconds(), took[2].Seconds())
	if !ok || took[0] > recoveryBound {
		t.Errorf("storing resumed %.1f s after the broker restart, want well under %s", took[0].Seconds(), recoveryBound)
	}
	stop()
	waitDecoded(t, coll, tr.gen.Stats().Flows)
	coll.term()
	expectStored(t, config, tr.gen.Stats(), pipe)
	pipe.term()
}
