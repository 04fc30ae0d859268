package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"sluice/collector"
	"sluice/internal/reporter"
	"sluice/pipeline/kafka"
	"sluice/pipeline/spool"
)

// spoolDirName is the spool's directory under the data directory.
const spoolDirName = "kafka-spool"

// drainStall is how long a stopping collector waits for Kafka to take
// spooled records while none goes through: what is left stays spooled for
// the next start.
const drainStall = 10 * time.Second

// kafkaFlags are the flags of the commands that talk to Kafka.
type kafkaFlags struct {
	brokers, topic *string
}

func addKafkaFlags(fs *flag.FlagSet) kafkaFlags {
	return kafkaFlags{
		brokers: fs.String("kafka-brokers", "", "comma-separated Kafka bootstrap brokers, host:port (key kafka.brokers, default 127.0.0.1:9092)"),
		topic:   fs.String("kafka-topic", "", "Kafka topic of the flow records (key kafka.topic, default "+kafka.DefaultConfig().Topic+")"),
	}
}

func (k kafkaFlags) apply(c *Config) {
	if *k.brokers != "" {
		c.Kafka.Brokers = splitList(*k.brokers)
	}
	if *k.topic != "" {
		c.Kafka.Topic = *k.topic
	}
}

// collectorFlags are the flags of the commands that run the collector.
type collectorFlags struct {
	netflow, sflow *string
}

func addCollectorFlags(fs *flag.FlagSet) collectorFlags {
	return collectorFlags{
		netflow: fs.String("netflow-listen", "", "comma-separated NetFlow/IPFIX UDP addresses (key collector.netflow.listen, default :2055,:4739)"),
		sflow:   fs.String("sflow-listen", "", "comma-separated sFlow UDP addresses (key collector.sflow.listen, default :6343)"),
	}
}

func (f collectorFlags) apply(c *Config) {
	if *f.netflow != "" {
		c.Collector.NetFlow.Listen = splitList(*f.netflow)
	}
	if *f.sflow != "" {
		c.Collector.SFlow.Listen = splitList(*f.sflow)
	}
}

// cmdCollect is the collector tier of the split deployment: collector →
// on-disk spool → Kafka. Kafka being unreachable never holds the collector
// up: records wait in the spool (data/kafka-spool), bounded by spool.max-bytes.
func cmdCollect(ctx context.Context, args []string, stderr io.Writer) error {
	cf := newCommonFlags("collect")
	cf.fs.SetOutput(stderr)
	httpListen := cf.fs.String("http", "", "HTTP address for /metrics, /healthz and /readyz (key http.listen, default 127.0.0.1:8080)")
	colFlags := addCollectorFlags(cf.fs)
	kFlags := addKafkaFlags(cf.fs)
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(func(c *Config) {
		if *httpListen != "" {
			c.HTTP.Listen = *httpListen
		}
		colFlags.apply(c)
		kFlags.apply(c)
	})
	if err != nil {
		return err
	}
	r := reporter.New(newLogger(cfg.Log, stderr))
	r.Info("starting sluice collect", "version", version(), "data", cfg.Data, "brokers", fmt.Sprint(cfg.Kafka.Brokers), "topic", cfg.Kafka.Topic)

	// Construction, in dependency order.
	producer, err := kafka.NewProducer(r, cfg.Kafka, kafka.ProducerDependencies{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	sp, err := spool.New(r, cfg.Spool, spool.Dependencies{Dir: filepath.Join(cfg.Data, spoolDirName)})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	fwd, err := kafka.NewForwarder(r, kafka.ForwarderConfig{DrainStall: drainStall}, kafka.ForwarderDependencies{Producer: producer, Spool: sp})
	if err != nil {
		sp.Stop(context.Background())
		return fmt.Errorf("kafka: %w", err)
	}
	cfg.Collector.StateDir = filepath.Join(cfg.Data, "collector") // templates survive a restart
	coll, err := collector.New(r.Sub("collector"), cfg.Collector, fwd)
	if err != nil {
		sp.Stop(context.Background())
		return fmt.Errorf("collector: %w", err)
	}
	counterProducer, err := kafka.NewCounterProducer(r, cfg.Kafka, kafka.CounterProducerDependencies{})
	if err != nil {
		sp.Stop(context.Background())
		return fmt.Errorf("kafka: %w", err)
	}
	counterCtx, cancelCounters := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCounters()
	stopCounters, err := startCounters(r.Sub("pipeline"), coll, counterProducer, cfg.Collector.FlushInterval, counterCtx)
	if err != nil {
		sp.Stop(context.Background())
		return err
	}
	defer func() {
		// After the collector stopped: send what is held, within the stop deadline.
		stopAfter := time.AfterFunc(shutdownTimeout, cancelCounters)
		defer stopAfter.Stop()
		if err := stopCounters(); err != nil {
			r.Warn("counter samples not sent to Kafka", "err", err)
		}
		if err := counterProducer.Stop(counterCtx); err != nil {
			r.Warn("closing the Kafka counter producer", "error", err)
		}
	}()
	ready := func() error {
		if !coll.Ready() {
			return errors.New("collector listeners not bound")
		}
		return nil // Kafka down is not unready: the spool takes the records
	}
	httpSrv, err := newHTTPServer(r.Sub("http"), cfg.HTTP.Listen, ready, nil)
	if err != nil {
		sp.Stop(context.Background())
		return err
	}

	// Start: the forwarder first, so spooled records from an earlier run go
	// first; stop in reverse.
	// None of these three fails to start: Kafka down is the spool's job.
	if err := errors.Join(producer.Start(ctx), sp.Start(ctx), fwd.Start(ctx)); err != nil {
		sp.Stop(ctx)
		return fmt.Errorf("kafka: %w", err)
	}
	// closeKafka drains the spool to Kafka while drain allows, then closes
	// the producer (waiting for what it holds, as before) and the spool.
	closeKafka := func(drain context.Context) {
		if err := fwd.Stop(drain); err != nil {
			r.Warn("stopping the Kafka forwarder", "error", err)
		}
		if err := producer.Stop(context.Background()); err != nil {
			r.Warn("closing the Kafka producer", "error", err)
		}
		if err := sp.Stop(context.Background()); err != nil {
			r.Warn("closing the spool", "error", err)
		}
	}
	stopHTTP := httpSrv.Start()
	defer stopHTTP()
	if err := coll.Start(ctx); err != nil {
		noDrain, cancel := context.WithCancel(context.Background())
		cancel()
		closeKafka(noDrain)
		return fmt.Errorf("collector: %w", err)
	}
	r.Info("sluice collect is running", "http", httpSrv.Addr(), "inputs", fmt.Sprint(coll.Addrs()))
	status := startStatus(ctx, r, cfg.Status, collectStatus)
	defer status()
	<-ctx.Done()

	// Stop intake and spool what the workers hold, then give Kafka what
	// it will take; the rest stays spooled for the next start.
	r.Info("stopping: spooling what the collector holds and draining the spool to Kafka")
	deadline, cancelDeadline := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelDeadline()
	coll.Stop(deadline)
	closeKafka(deadline)
	r.Info("stopped cleanly")
	return nil
}
