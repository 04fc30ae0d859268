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
	counters, err := pipeline.NewCounters(r, sink, interval)
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	coll.SetCounterOutput(counters)
	done := make(chan error, 1)
	go func() { done <- counters.Run(writeCtx) }()
	return func() error {
		counters.Close()
		return <-done
	}, nil
}
