package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/component"
	"sluice/internal/reporter"
)

// statusCounters name what the status line reports: the counter of flows
// coming in and of flows handed on (stored, or sent to Kafka).
type statusCounters struct {
	received, stored, storedKey string
}

var (
	runStatus      = statusCounters{"sluice_collector_flows_total", "sluice_pipeline_records_written_total", "flows_stored"}
	collectStatus  = statusCounters{"sluice_collector_flows_total", "sluice_pipeline_kafka_producer_records_total", "flows_sent"}
	pipelineStatus = statusCounters{"sluice_pipeline_records_received_total", "sluice_pipeline_records_written_total", "flows_stored"}
)

// statusLine logs, every interval, what came in and what was stored, so an
// operator watching the log sees flows arrive. A zero interval logs nothing.
func statusLine(r *reporter.Reporter, interval time.Duration, counters statusCounters) component.Component {
	if interval <= 0 {
		return component.Funcs{}
	}
	var stop context.CancelFunc
	done := make(chan struct{})
	return component.Funcs{
		StartFunc: func(context.Context) error {
			var ctx context.Context
			ctx, stop = context.WithCancel(context.Background())
			go func() {
				defer close(done)
				logStatus(ctx, r, interval, counters)
			}()
			return nil
		},
		StopFunc: func(context.Context) error {
			stop()
			<-done
			return nil
		},
	}
}

func logStatus(ctx context.Context, r *reporter.Reporter, interval time.Duration, counters statusCounters) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastFlows float64
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			g := r.Gatherer()
			flows := counterSum(g, counters.received)
			r.Info("status",
				"flows_per_s", int((flows-lastFlows)/now.Sub(last).Seconds()),
				"flows_received", uint64(flows),
				counters.storedKey, uint64(counterSum(g, counters.stored)),
				"decode_errors", uint64(counterSum(g, "sluice_collector_decode_errors_total")),
				"datagrams_dropped", uint64(counterValue(g, "sluice_collector_dropped_total", "reason", "queue_full")),
				"kernel_drops", uint64(counterSum(g, "sluice_collector_socket_drops_total")))
			lastFlows, last = flows, now
		}
	}
}

// counterSum adds up every series of a counter (all label values).
func counterSum(g prometheus.Gatherer, name string) float64 {
	families, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
		}
	}
	return sum
}

// counterValue is one series of a counter, chosen by one label.
func counterValue(g prometheus.Gatherer, name, label, value string) float64 {
	families, err := g.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
