package main

import (
	"context"
	"fmt"
	"time"

	"sluice/collector"
	"sluice/internal/reporter"
	"sluice/pipeline"
)

// startCounters runs the counter path to sink; the collector is handed
// out as its counter output. stop, called once the collector has stopped,
// writes what is held (bounded by writeCtx) and returns.
func startCounters(r *reporter.Reporter, sink pipeline.CounterSink, interval time.Duration, writeCtx context.Context) (out collector.CounterOutput, stop func() error, err error) {
	counters, err := pipeline.NewCounters(r, sink, interval)
	if err != nil {
		return nil, nil, fmt.Errorf("counters: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- counters.Run(writeCtx) }()
	return counters, func() error {
		counters.Close()
		return <-done
	}, nil
}
