package main

import (
	"context"
	"fmt"
	"time"

	"sluice/collector"
	"sluice/internal/reporter"
	"sluice/pipeline"
	"sluice/pipeline/record"
	"sluice/storage/embedded"
	"sluice/storage/migrate"
)

// storeCounters writes counter samples into interface_counters of the
// embedded engine, one insert per batch under the batch's token.
type storeCounters struct{ engine *embedded.Engine }

func (s storeCounters) WriteCounters(ctx context.Context, rows []record.Counter, token string) error {
	if err := s.engine.Exec(ctx, migrate.InsertCounters(rows, token)); err != nil {
		return fmt.Errorf("insert into %s: %w", migrate.CountersTable, err)
	}
	return nil
}

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
