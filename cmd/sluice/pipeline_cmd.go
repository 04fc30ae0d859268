package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/kafka"
)

// intentDirName holds the Kafka pipeline's batch intents, beside the store
// they describe.
const intentDirName = "kafka-consumer"

// cmdPipeline is the pipeline tier of the split deployment: a member of the
// Kafka consumer group, storing records in the embedded engine of its data
// directory and committing offsets only once they are stored.
func cmdPipeline(ctx context.Context, args []string, stderr io.Writer) error {
	cf := newCommonFlags("pipeline")
	cf.fs.SetOutput(stderr)
	httpListen := cf.fs.String("http", "", "HTTP address for /metrics, /healthz, /readyz and SQL (key http.listen, default 127.0.0.1:8080)")
	kFlags := addKafkaFlags(cf.fs)
	group := cf.fs.String("kafka-group", "", "consumer group of the pipeline workers (key kafka.consumer.group-id, default sluice-pipeline)")
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *Config) {
		if *httpListen != "" {
			c.HTTP.Listen = *httpListen
		}
		kFlags.apply(c)
		if *group != "" {
			c.Kafka.Consumer.GroupID = *group
		}
	})
	if err != nil {
		return err
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	r.Info("starting sluice pipeline", "version", version(), "data", cfg.Data, "brokers", fmt.Sprint(cfg.Kafka.Brokers),
		"topic", cfg.Kafka.Topic, "group", cfg.Kafka.Consumer.GroupID)

	engine, store, err := openStore(ctx, cfg, r)
	if err != nil {
		return err
	}
	defer engine.Close()
	consumer, err := kafka.NewGroup(r, cfg.Kafka, kafka.GroupDependencies{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	enricher, stopEnricher, err := startEnricher(cfg, r)
	if err != nil {
		return err
	}
	defer stopEnricher()
	pipe, err := pipeline.NewFromKafka(r.Sub("pipeline"), cfg.Pipeline, consumer,
		filepath.Join(cfg.Data, intentDirName), cfg.Kafka.Consumer.RebalanceTimeout/2, store)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	pipe.WithStage(enricher)
	var stopped atomic.Bool
	ready := func() error {
		if stopped.Load() {
			return fmt.Errorf("stopped")
		}
		return store.Err() // nil unless inserts are failing right now
	}
	httpSrv, err := newHTTPServer(r.Sub("http"), cfg.HTTP.Listen, ready, engine)
	if err != nil {
		return err
	}

	counterConsumer, err := kafka.NewCounterConsumer(r, cfg.Kafka, kafka.CounterConsumerDependencies{Store: store.WriteCounters})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	done := make(chan error, 1)
	go func() { done <- pipe.Run(ctx, writeCtx) }()
	// The counter samples' own consumer; a failure (Kafka, storage) is
	// logged and the consumer joins again: what was not committed comes back.
	if err := counterConsumer.Start(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := counterConsumer.Stop(stopCtx); err != nil {
			r.Warn("counter samples", "err", err)
		}
	}()
	stopHTTP := httpSrv.Start()
	defer stopHTTP()
	r.Info("sluice pipeline is running", "http", httpSrv.Addr())
	status := startStatus(ctx, r, cfg.Status, pipelineStatus)
	defer status()

	select {
	case err := <-done:
		stopped.Store(true)
		return fmt.Errorf("pipeline: %w", err)
	case <-ctx.Done():
	}
	// Stop fetching, store and commit what each partition holds, leave the
	// group. Past the deadline, give up on storage: what is not stored is
	// not committed, and the group's next member consumes it.
	r.Info("stopping: storing and committing what the pipeline holds", "deadline", shutdownTimeout)
	giveUp := time.AfterFunc(shutdownTimeout, cancelWrites)
	defer giveUp.Stop()
	if err := <-done; err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	r.Info("stopped cleanly")
	return nil
}
