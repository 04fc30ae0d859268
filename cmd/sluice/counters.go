package main

import (
	"context"
	"fmt"
	"time"

	"sluice/collector"
	"sluice/internal/reporter"
	"sluice/pipeline"
)

// startCounters runs the counter path from coll to sink. stop, called once
// the collector has stopped, writes what is held (bounded by writeCtx) and
// returns.
func startCounters(r *reporter.Reporter, coll *collector.Collector, sink pipeline.CounterSink, interval time.Duration, writeCtx context.Context) (stop func() error, err error) {
	counters, err := pipeline.NewCounters(r, pipeline.CountersConfig{FlushInterval: interval}, pipeline.CountersDependencies{Sink: sink})
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	coll.SetCounterOutput(counters)
	if err := counters.Start(writeCtx); err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	return func() error { return counters.Stop(writeCtx) }, nil
}
