package main

import (
	"time"

	"context"
	"fmt"
	"io"

	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/kafka"
	"sluice/storage"
)

// cmdPipeline is the pipeline tier of the split deployment: a member of the
// Kafka consumer group, storing records in the embedded engine of its data
// directory or in a ClickHouse server (storage.backend) and committing
// offsets only once they are stored.
func cmdPipeline(ctx context.Context, args []string, stderr io.Writer) error {
	cf := newCommonFlags("pipeline")
	cf.fs.SetOutput(stderr)
	httpListen := cf.fs.String("http", "", "HTTP address for /metrics, /healthz, /readyz and SQL (key http.listen, default 127.0.0.1:8080)")
	kFlags := addKafkaFlags(cf.fs)
	chListen := addClickHouseListenFlag(cf.fs)
	backend := addBackendFlag(cf.fs)
	group := cf.fs.String("kafka-group", "", "consumer group of the pipeline workers (key kafka.consumer.group-id, default sluice-pipeline)")
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *Config) {
		if *httpListen != "" {
			c.HTTP.Listen = *httpListen
		}
		chListen.apply(c)
		kFlags.apply(c)
		backend.apply(c)
		if *group != "" {
			c.Kafka.Consumer.GroupID = *group
		}
	})
	if err != nil {
		return err
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	r.Info("starting sluice pipeline", "version", version(), "data", cfg.Data, "backend", cfg.Storage.Backend, "brokers", fmt.Sprint(cfg.Kafka.Brokers),
		"topic", cfg.Kafka.Topic, "group", cfg.Kafka.Consumer.GroupID)

	// Construction, in dependency order; nothing runs yet.
	store, err := newPipelineStore(r, cfg)
	if err != nil {
		return err
	}
	consumer, err := kafka.NewGroup(r, cfg.Kafka, kafka.GroupDependencies{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	enricher, err := newEnricher(r, cfg)
	if err != nil {
		return err
	}
	siemSinks, err := newSIEMSinks(r, cfg)
	if err != nil {
		return err
	}
	pipe, err := pipeline.NewFromKafka(r, cfg.Pipeline, pipeline.KafkaDependencies{
		Group: consumer,
		Grace: handoverGrace(cfg.Kafka.Consumer),
		Sinks: withKillAfterInserts(r, withSIEMSinks(store.sink(), siemSinks)),
		Stage: enricher,
	})
	if err != nil {
		stopSIEMSinks(siemSinks)
		return fmt.Errorf("pipeline: %w", err)
	}
	// The counter samples' own consumer: what was not stored is not
	// committed, and comes back.
	counterConsumer, err := kafka.NewCounterConsumer(r, cfg.Kafka,
		kafka.CounterConsumerDependencies{Store: store.sink().WriteCounters})
	if err != nil {
		stopSIEMSinks(siemSinks)
		return fmt.Errorf("kafka: %w", err)
	}
	// Workers run the detections only with detect.in-pipeline: each would
	// raise the same alerts, so it is meant for one of them.
	cfg.Detect.Enabled = cfg.Detect.Enabled && cfg.Detect.InPipeline
	if cfg.Detect.Enabled && cfg.Storage.Backend == storage.BackendEmbedded {
		r.Logger.Warn("detect.in-pipeline with the embedded backend: this worker's detections see only the flows it stored, not the other workers'")
	}
	detections, err := newDetections(r, cfg, store.detectStore(), siemSinks, nil)
	if err != nil {
		stopSIEMSinks(siemSinks)
		return err
	}

	// Only an explicit go-memory-limit: the records this command holds
	// (Kafka's fetches per claimed partition, the batches it gathers) have
	// no computed bound.
	applyGoMemoryLimit(r, cfg.GoMemoryLimit, nil)

	// Started in this order, stopped in reverse: at the stop each partition
	// stores and commits what it holds and leaves the group. Past the
	// deadline storage is given up on: what is not stored is not committed,
	// and the group's next member consumes it.
	var d component.List
	store.addTo(&d)
	httpSrv := newHTTPServer(r, cfg.HTTP.Listen, d.Ready, store.sqlRunner())
	d.Add("http", httpSrv)
	d.Add("enrich", enricher)
	d.Add("kafka.counters", counterConsumer)
	addSIEMSinks(&d, siemSinks)
	d.Add("pipeline", pipe)
	if detections != nil {
		d.Add("detect", detections)
	}
	d.Add("status", statusLine(r, cfg.Status, pipelineStatus))
	return serve(ctx, r, &d, func() {
		r.Info("sluice pipeline is running", "http", httpSrv.Addr(), "clickhouse_http", store.clickhouseAddr())
	}, "storing and committing what the pipeline holds")
}

// handoverGrace is how long a worker handing its partitions over may still
// store and commit what it holds: half the rebalance timeout, but within
// the session timeout less two heartbeats, since kafka-go stops
// heartbeating once a rebalance begins and the coordinator would evict a
// worker that drains longer (its last commits then fail, and the next
// owner stores the batch again under the same token).
func handoverGrace(c kafka.ConsumerConfig) time.Duration {
	return max(min(c.RebalanceTimeout/2, c.SessionTimeout-2*c.HeartbeatInterval), c.HeartbeatInterval)
}
