package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"sluice/internal/component"
	"sluice/internal/reporter"
	"sluice/pipeline"
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

	// Construction, in dependency order; nothing runs yet.
	sp, err := spool.New(r, cfg.Spool, spool.Dependencies{Dir: filepath.Join(cfg.Data, spoolDirName)})
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	producer, err := kafka.NewProducer(r, cfg.Kafka, kafka.ProducerDependencies{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	fwd, err := kafka.NewForwarder(r, kafka.ForwarderConfig{DrainStall: drainStall},
		kafka.ForwarderDependencies{Producer: producer, Spool: sp})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	counterProducer, err := kafka.NewCounterProducer(r, cfg.Kafka, kafka.CounterProducerDependencies{})
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	counters, err := pipeline.NewCounters(r, pipeline.CountersConfig{FlushInterval: cfg.Collector.FlushInterval},
		pipeline.CountersDependencies{Sink: counterProducer})
	if err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	coll, err := newCollector(r, cfg, fwd, counters)
	if err != nil {
		return err
	}

	// Only an explicit go-memory-limit: the records this command holds
	// (the producer's batches, the spool's reads) have no computed bound.
	applyGoMemoryLimit(r, cfg.GoMemoryLimit, nil)

	// Started in this order, stopped in reverse: the forwarder starts
	// before the collector, so spooled records of an earlier run go first;
	// at the stop the collector spools what its workers hold, the
	// forwarder gives Kafka what it takes within drain-stall (the rest
	// stays spooled for the next start), and then the counter samples are
	// sent. Kafka being down is not unready: the spool takes the records.
	var d component.List
	httpSrv := newHTTPServer(r, cfg.HTTP.Listen, d.Ready, nil)
	d.Add("http", httpSrv)
	d.Add("kafka.counters", counterProducer)
	d.Add("counters", counters)
	d.Add("spool", sp)
	d.Add("kafka.producer", producer)
	d.Add("kafka.forwarder", fwd)
	d.Add("collector", coll)
	d.Add("status", statusLine(r, cfg.Status, collectStatus))
	return serve(ctx, r, &d, func() {
		r.Info("sluice collect is running", "http", httpSrv.Addr(), "inputs", fmt.Sprint(coll.Addrs()))
	}, "spooling what the collector holds and draining the spool to Kafka")
}
