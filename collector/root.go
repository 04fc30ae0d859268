// Package collector receives flow exports over UDP, decodes them and hands
// batches of canonical records to the next stage. It wires three layers
// that know nothing of each other: collector/udp (sockets), the protocol
// decoders (collector/netflow, collector/sflow) and the Output.
//
// Every datagram of one exporter goes to the same worker, so a template is
// always handled before the data that follows it; a worker owns the batch it
// fills, so the per-record path takes no lock and allocates nothing.
package collector

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"sluice/collector/sampling"
	"sluice/collector/udp"
	"sluice/internal/reporter"
	"sluice/pipeline/record"
)

// Output receives full batches and owns them from then on (it calls
// Release). Put blocks while the next stage is saturated; it fails only when
// ctx ends.
type Output interface {
	Put(ctx context.Context, b *record.Batch) error
}

// CounterOutput receives sFlow interface counter samples. PutCounter must
// not block (a full queue drops and counts); the sample is only valid
// during the call.
type CounterOutput interface {
	PutCounter(c *record.Counter)
}

// Dependencies are what the collector hands its output to.
type Dependencies struct {
	// Output receives the batches of flow records; required.
	Output Output
	// Counters receives sFlow interface counter samples; nil: they are
	// counted, not kept.
	Counters CounterOutput
}

// Collector is the collector component: New builds it, Start binds the
// sockets, Stop drains it.
type Collector struct {
	r       *reporter.Reporter
	cfg     Config
	out     Output
	metrics metrics
	perExp  *exporterMetrics
	limiter *reporter.Limiter

	netflow  *netflowDecoder
	sflow    flowDecoder
	counters CounterOutput   // nil: counter samples are counted, not kept
	state    *statePersister // nil when Config.StateDir is empty
	allowed  exporterFilter

	listeners []*udp.Listener
	workers   []*worker
	wg        sync.WaitGroup
	ready     atomic.Bool
	dropped   atomic.Uint64 // records the Output did not take by Stop's deadline

	// flushCtx bounds the workers' hand-offs to the Output: it ends only
	// when Stop's deadline passes, so back-pressure waits while running
	// and shutdown cannot hang on a stage that no longer consumes.
	flushCtx    context.Context
	cancelFlush context.CancelFunc
}

// New checks the configuration and builds the decoders; it binds nothing.
// Its logger and metrics are those of r's package (collector).
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Collector, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Output == nil {
		return nil, errors.New("no output")
	}
	c := &Collector{
		r:        r,
		cfg:      cfg,
		out:      deps.Output,
		counters: deps.Counters,
		limiter:  r.NewLimiter(5, 10*time.Second),
	}
	var err error
	if c.metrics, err = newMetrics(r.Registerer()); err != nil {
		return nil, err
	}
	if c.perExp, err = newExporterMetrics(r.Registerer(), cfg.ExporterMetrics); err != nil {
		return nil, err
	}
	if c.allowed, err = newExporterFilter(cfg.AllowedExporters); err != nil {
		return nil, fmt.Errorf("allowed-exporters: %w", err)
	}
	c.flushCtx, c.cancelFlush = context.WithCancel(context.Background())
	// Parsed once: both decoders apply the same overrides.
	overrides, err := sampling.NewOverrides(cfg.Sampling.Overrides)
	if err != nil {
		return nil, fmt.Errorf("sampling: %w", err)
	}
	nf, err := newNetFlowDecoder(cfg, overrides, &c.metrics, r.Registerer())
	if err != nil {
		return nil, err
	}
	c.netflow = nf
	nf.d.Templates().SetReporter(r) // evictions and refusals are logged, naming the exporter
	if cfg.StateDir != "" {
		if c.state, err = newStatePersister(r, cfg.StateDir, nf.d.Templates(), cfg.Templates.SaveInterval, r.Registerer()); err != nil {
			return nil, err
		}
	}
	if c.sflow, err = newSFlowDecoder(cfg, overrides, &c.metrics, r.Registerer()); err != nil {
		return nil, err
	}
	return c, nil
}

// Start restores the template state saved by the last run, binds every
// input and starts the workers. A bind error names the address and leaves
// nothing running.
func (c *Collector) Start(ctx context.Context) error {
	if c.state != nil {
		c.state.load(time.Now())
		c.state.start()
	}
	for i := 0; i < c.cfg.Workers; i++ {
		w := newWorker(c, i)
		c.workers = append(c.workers, w)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			w.run()
		}()
	}
	for _, in := range []InputConfig{c.cfg.NetFlow, c.cfg.SFlow.Input()} {
		for _, address := range in.Listen {
			l, err := udp.Listen(ctx, udp.Config{Listen: address, Sockets: in.Sockets, ReceiveBuffer: in.ReceiveBuffer})
			if err != nil {
				c.Stop(ctx)
				return err
			}
			c.listeners = append(c.listeners, l)
			if err := c.metrics.registerListener(c.r.Registerer(), l); err != nil {
				c.Stop(ctx)
				return err
			}
			c.r.Info("listening", "address", l.Addr().String(), "sockets", in.Sockets,
				"receive_buffer", l.ReceiveBuffer())
		}
	}
	for _, l := range c.listeners {
		l.Serve(c.dispatch, func(err error) {
			c.metrics.readErrors.Inc()
			c.limiter.Log(c.r.Logger, "read", "UDP read error", "err", err)
		})
	}
	c.ready.Store(true)
	return nil
}

// Ready returns nil while every listener is bound and serving.
func (c *Collector) Ready() error {
	if !c.ready.Load() {
		return errors.New("listeners not bound")
	}
	return nil
}

// Addrs lists the bound addresses (port 0 resolved), in configuration order:
// NetFlow inputs first, then sFlow.
func (c *Collector) Addrs() []netip.AddrPort {
	addrs := make([]netip.AddrPort, 0, len(c.listeners))
	for _, l := range c.listeners {
		addrs = append(addrs, l.Addr())
	}
	return addrs
}

// Stop closes the sockets, lets every worker decode what it has queued and
// hands the last partial batches to the Output before returning. If ctx
// ends first, whatever the Output has not taken by then is dropped and
// counted (reason "shutdown"), so Stop always returns, with an error saying
// how many records it dropped.
func (c *Collector) Stop(ctx context.Context) error {
	c.ready.Store(false)
	for _, l := range c.listeners {
		l.Close()
	}
	c.listeners = nil
	for _, w := range c.workers {
		close(w.in)
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.cancelFlush()
		case <-stopped:
		}
	}()
	c.wg.Wait()
	close(stopped)
	c.workers = nil
	if c.state != nil {
		c.state.close() // every datagram is decoded: the state is final
	}
	c.limiter.Stop() // say now how many error lines a last burst held back
	c.netflow.d.Templates().Close()
	if n := c.dropped.Load(); n > 0 {
		return fmt.Errorf("%d records dropped: the stop deadline passed before the next stage took them", n)
	}
	return nil
}
