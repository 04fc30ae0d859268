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
	"encoding/binary"
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
	if n := c.dropped.Load(); n > 0 {
		return fmt.Errorf("%d records dropped: the stop deadline passed before the next stage took them", n)
	}
	return nil
}

// dispatch runs on a socket reader: pick the exporter's worker, never block.
func (c *Collector) dispatch(d *udp.Datagram) {
	if !c.allowed.allows(d.Source.Addr()) {
		c.metrics.droppedNotAllowed.Inc()
		if ok, suppressed := c.limiter.Allow("not_allowed"); ok {
			c.r.Warn("datagram from an exporter not in allowed-exporters dropped", "exporter", d.Source.Addr(),
				"suppressed", suppressed)
		}
		d.Release()
		return
	}
	w := c.workers[workerIndex(d.Source.Addr(), len(c.workers))]
	select {
	case w.in <- d:
	default:
		c.metrics.droppedQueueFull.Inc()
		if ok, suppressed := c.limiter.Allow("queue_full"); ok {
			c.r.Warn("worker queue full, datagram dropped", "exporter", d.Source.Addr(),
				"worker", w.id, "suppressed", suppressed)
		}
		d.Release()
	}
}

func workerIndex(addr netip.Addr, n int) int {
	a := addr.As16()
	h := binary.LittleEndian.Uint64(a[:8]) ^ binary.LittleEndian.Uint64(a[8:])
	// MurmurHash3's finalizer: every input bit reaches every output bit, so
	// exporters that differ only in their last octets still spread out.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % uint64(n))
}

// worker decodes the datagrams of the exporters hashed to it and fills a
// batch that it alone touches.
type worker struct {
	c           *Collector
	id          int
	in          chan *udp.Datagram
	batch       *record.Batch
	started     time.Time             // when the current batch got its first record
	counterFunc func(*record.Counter) // nil without a CounterOutput
	emitted     int                   // records of the datagram being decoded, counted once after it

	exporters *exporterTable // per-exporter metrics of the exporters hashed here
	exporter  *exporterStats // those of the datagram being decoded
}

func newWorker(c *Collector, id int) *worker {
	w := &worker{c: c, id: id, in: make(chan *udp.Datagram, c.cfg.WorkerQueue), exporters: newExporterTable(c.perExp)}
	if c.counters != nil {
		w.counterFunc = c.counters.PutCounter
	}
	return w
}

func (w *worker) run() {
	tick := time.NewTicker(w.c.cfg.FlushInterval / 2)
	defer tick.Stop()
	for {
		select {
		case d, ok := <-w.in:
			if !ok {
				w.flush()
				return
			}
			w.handle(d)
			d.Release()
		case now := <-tick.C:
			w.exporters.sweep(now.UnixNano())
			if w.batch != nil && now.Sub(w.started) >= w.c.cfg.FlushInterval {
				w.flush()
			}
		}
	}
}

func (w *worker) handle(d *udp.Datagram) {
	m := &w.c.metrics
	exporter := record.AddrFromSlice(d.Source.Addr().AsSlice())
	st := w.exporters.get(d.Source.Addr(), d.Received)
	st.datagrams.Inc()
	w.exporter = st
	var (
		dec      flowDecoder
		protocol *protocolCounters
	)
	switch sniff(d.Payload) {
	case protocolNetFlow:
		dec, protocol = w.c.netflow, &m.netflow
	case protocolSFlow:
		dec, protocol = w.c.sflow, &m.sflow
	default:
		m.unknown.datagrams.Inc()
		m.decodeError("unknown", reasonUnknownVersion).Inc()
		st.decodeError(w.c.perExp, reasonUnknownVersion).Inc()
		if ok, suppressed := w.c.limiter.Allow("unknown/" + reasonUnknownVersion); ok {
			w.c.r.Warn("datagram of unknown protocol dropped", "exporter", d.Source,
				"size", len(d.Payload), "suppressed", suppressed)
		}
		return
	}
	protocol.datagrams.Inc()
	w.emitted = 0
	templates, err := dec.decode(exporter, d.Received, d.Payload, w, w.counterFunc)
	if w.emitted > 0 {
		protocol.flows.Add(float64(w.emitted))
		st.flows.Add(float64(w.emitted))
	}
	if templates > 0 && !st.other {
		st.templates.Set(float64(w.c.netflow.d.Templates().ExporterTemplates(exporter)))
	}
	if err != nil {
		// Keys and labels are the decoders' constant reasons: a flood of
		// bad datagrams costs a counter and a map lookup, not a log line.
		reason := errorReason(err)
		m.decodeError(protocol.name, reason).Inc()
		st.decodeError(w.c.perExp, reason).Inc()
		if ok, suppressed := w.c.limiter.Allow(reason); ok {
			w.c.r.Warn("cannot decode datagram", "protocol", protocol.name, "reason", reason,
				"exporter", d.Source, "size", len(d.Payload), "err", err, "suppressed", suppressed)
		}
	}
}

// Slot and Commit make the worker the decoders' record.Appender: records
// are decoded straight into the batch that travels on, not copied into it.
func (w *worker) Slot() *record.Flow {
	if w.batch == nil {
		w.batch = record.GetBatch()
		w.batch.Reserve(w.c.cfg.BatchSize) // filled without growing
		w.started = time.Now()
	}
	return w.batch.Slot()
}

func (w *worker) Commit() {
	w.batch.Commit()
	f := &w.batch.Flows[len(w.batch.Flows)-1]
	w.emitted++
	w.exporter.observeRate(w.c.perExp, f.ObservationDomainID, f.SamplingRate)
	if w.batch.Len() >= w.c.cfg.BatchSize {
		w.flush()
	}
}

func (w *worker) flush() {
	if w.batch == nil {
		return
	}
	b := w.batch
	w.batch = nil
	// While running this waits as long as the next stage is saturated
	// (back-pressure); only Stop's deadline makes it give up.
	if err := w.c.out.Put(w.c.flushCtx, b); err != nil {
		w.c.metrics.droppedShutdown.Add(float64(b.Len()))
		w.c.dropped.Add(uint64(b.Len()))
		if ok, _ := w.c.limiter.Allow("shutdown"); ok {
			w.c.r.Error("stop deadline passed before the next stage took a batch; records dropped",
				"records", b.Len(), "err", err)
		}
		b.Release()
	}
}

type protocol int

const (
	protocolUnknown protocol = iota
	protocolNetFlow          // NetFlow v5, v9, IPFIX: 16-bit version first
	protocolSFlow            // sFlow v5: 32-bit version first
)

// sniff tells the protocols apart by their leading version field, so that
// any input accepts any of them.
func sniff(p []byte) protocol {
	if len(p) < 4 {
		if len(p) >= 2 && p[0] == 0 && (p[1] == 5 || p[1] == 9 || p[1] == 10) {
			return protocolNetFlow // too short, but let the decoder say "truncated"
		}
		return protocolUnknown
	}
	switch {
	case p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 5:
		return protocolSFlow
	case p[0] == 0 && (p[1] == 5 || p[1] == 9 || p[1] == 10):
		return protocolNetFlow
	}
	return protocolUnknown
}

const reasonUnknownVersion = "unknown_version"

// errorReason maps a decoder error to a short, stable metric label.
func errorReason(err error) string {
	var re interface{ ErrorReason() string }
	if errors.As(err, &re) {
		return re.ErrorReason()
	}
	return "malformed"
}
