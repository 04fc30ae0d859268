package kafka

import (
	"context"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// brokerProbe asks a broker for its API versions every
// health-check-interval, each request bounded by the same interval, so that
// a health gauge sees Kafka go away within about two intervals whether or
// not records are flowing. Deliveries and fetches alone notice only once
// kafka-go's retries and timeouts run out (6-8 s for the producer), and
// never while idle.
type brokerProbe struct {
	cfg Config
	ok  atomic.Bool
}

func newBrokerProbe(cfg Config) *brokerProbe { return &brokerProbe{cfg: cfg} }

// up says whether the brokers answered the last probe.
func (p *brokerProbe) up() bool { return p.ok.Load() }

// run probes until ctx ends, the first time at once.
func (p *brokerProbe) run(ctx context.Context) {
	interval := p.cfg.HealthCheckInterval
	// A transport of its own: the probe's failures and reconnections do
	// not touch the producer's or the consumer's connections.
	transport := p.cfg.transport()
	defer transport.CloseIdleConnections()
	client := &kafkago.Client{Addr: kafkago.TCP(p.cfg.Brokers...), Transport: transport, Timeout: interval}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		probeCtx, cancel := context.WithTimeout(ctx, interval)
		// ApiVersions: a round trip to a broker (the transport answers
		// metadata requests from its cache).
		res, err := client.ApiVersions(probeCtx, &kafkago.ApiVersionsRequest{})
		cancel()
		if err == nil {
			err = res.Error
		}
		if ctx.Err() != nil {
			return
		}
		p.ok.Store(err == nil)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
