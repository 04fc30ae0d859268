package collector

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"sluice/collector/udp"
	"sluice/pipeline/record"
)

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
