package siem

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/pipeline/spool"
)

// Sink delivers flows (as a pipeline.Sink) and alerts (WriteAlerts) to one
// receiver: filter, Format, Transport, and delivery wait or spool.
type Sink struct {
	r         *reporter.Reporter
	cfg       Config
	filter    filter
	format    Format
	transport Transport
	m         metrics
	limiter   *reporter.Limiter
	spool     *spool.Spool // delivery spool

	// mu serialises writers: they share the encoding buffers, and the
	// spool's room is checked before appending.
	mu     sync.Mutex
	enc    encoder
	prefix string // names writes that come with no token
	seq    atomic.Uint64

	// pendingN and oldest describe what is taken and not acknowledged
	// (wait mode; spool mode reads the spool).
	pendingN atomic.Int64
	oldest   atomic.Int64 // unix nanos, 0 when none

	cancel context.CancelFunc
	done   chan struct{}
}

// Dependencies is what a Sink is handed.
type Dependencies struct {
	Format    Format
	Transport Transport
	// DataDir is the data directory; delivery spool keeps its spool in
	// DataDir/siem-spool/<name>.
	DataDir string
}

// New builds a sink; it starts nothing.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Sink, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("siem sink %s: %w", cfg.Name, err)
	}
	if deps.Format == nil || deps.Transport == nil {
		return nil, fmt.Errorf("siem sink %s: no format or transport", cfg.Name)
	}
	f, _ := cfg.Filter.compile()
	var id [6]byte
	rand.Read(id[:])
	s := &Sink{
		r:         r,
		cfg:       cfg,
		filter:    f,
		format:    deps.Format,
		transport: deps.Transport,
		limiter:   r.NewLimiter(5, 10*time.Second),
		prefix:    hex.EncodeToString(id[:]),
	}
	if cfg.Delivery == DeliverySpool {
		if deps.DataDir == "" {
			return nil, fmt.Errorf("siem sink %s: delivery spool needs a data directory", cfg.Name)
		}
		sp, err := spool.New(r, cfg.spoolConfig(), spool.Dependencies{
			Dir:    filepath.Join(deps.DataDir, "siem-spool", cfg.Name),
			Labels: prometheus.Labels{"sink": cfg.Name},
		})
		if err != nil {
			return nil, fmt.Errorf("siem sink %s: %w", cfg.Name, err)
		}
		s.spool = sp
	}
	var err error
	if s.m, err = newMetrics(r.Metrics().With(prometheus.Labels{"sink": cfg.Name}), s); err != nil {
		if s.spool != nil {
			s.spool.Stop(context.Background())
		}
		return nil, err
	}
	return s, nil
}

// Name is the sink's configured name.
func (s *Sink) Name() string { return s.cfg.Name }

// Start starts the spool's sender (delivery spool).
func (s *Sink) Start(context.Context) error {
	if s.spool == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.drain(ctx)
	return nil
}

// Stop ends the spool's sender (what it holds stays on disk for the next
// start) and closes the transport.
func (s *Sink) Stop(context.Context) error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	var err error
	if s.spool != nil {
		err = s.spool.Stop(context.Background())
	}
	return errors.Join(err, s.transport.Close())
}

// Ready reports whether the sink takes writes without holding the
// pipeline back. Delivery wait: whether the receiver is reachable.
// Delivery spool: whether the spool has room, whatever the receiver's
// state; a SIEM outage then shows in receiver_up, not in /readyz, which
// would take `sluice run` out of a Kubernetes Service while the spool
// absorbs the outage. Each call asks the receiver, updating receiver_up.
func (s *Sink) Ready() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.transport.Ready(ctx)
	s.setUp(err == nil)
	if s.spool != nil {
		if _, bytes := s.spool.Pending(); bytes+int64(s.cfg.spoolEntryMax())+spoolEntryOverhead > s.cfg.Spool.MaxBytes {
			return fmt.Errorf("siem sink %s: spool full (%d bytes of spool.max-bytes %d); receiver: %v", s.cfg.Name, bytes, s.cfg.Spool.MaxBytes, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("siem sink %s: %w", s.cfg.Name, err)
	}
	return nil
}

func (s *Sink) setUp(up bool) {
	if up {
		s.m.receiverUp.Set(1)
	} else {
		s.m.receiverUp.Set(0)
	}
}

// WriteBatches delivers the flows the filter keeps. Each event's ID is
// dedupToken and the record's index in the batches, so a redelivery of the
// same batches carries the same IDs. It returns once the receiver has them
// (wait) or the spool does (spool).
func (s *Sink) WriteBatches(ctx context.Context, batches [][]record.Flow, dedupToken string) error {
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	if !s.cfg.wants(KindFlow) {
		s.m.filtered.WithLabelValues("flow").Add(float64(n))
		return nil
	}
	if dedupToken == "" {
		dedupToken = s.prefix + "-" + strconv.FormatUint(s.seq.Add(1), 10)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc.reset()
	index, filtered := 0, 0
	for _, b := range batches {
		for i := range b {
			f := &b[i]
			if !s.filter.flow(f) {
				filtered++
				index++
				continue
			}
			if err := s.enc.flow(s.format, f, dedupToken, index); err != nil {
				s.m.dropped.WithLabelValues("encode-error").Inc()
				s.limiter.Log(s.r.Logger, "encode", "siem: cannot encode a flow; dropped", "sink", s.cfg.Name, "error", err)
			}
			index++
		}
	}
	s.m.filtered.WithLabelValues("flow").Add(float64(filtered))
	return s.deliver(ctx, s.enc.finish())
}

// WriteAlerts delivers the alerts the filter keeps, as WriteBatches does.
func (s *Sink) WriteAlerts(ctx context.Context, alerts []record.Alert) error {
	if !s.cfg.wants(KindAlert) {
		s.m.filtered.WithLabelValues("alert").Add(float64(len(alerts)))
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc.reset()
	for i := range alerts {
		a := &alerts[i]
		if !s.filter.alert(a) {
			s.m.filtered.WithLabelValues("alert").Inc()
			continue
		}
		if err := s.enc.alert(s.format, a); err != nil {
			s.m.dropped.WithLabelValues("encode-error").Inc()
			s.limiter.Log(s.r.Logger, "encode", "siem: cannot encode an alert; dropped", "sink", s.cfg.Name, "error", err)
		}
	}
	return s.deliver(ctx, s.enc.finish())
}

func (s *Sink) deliver(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	if s.spool != nil {
		return s.append(ctx, events)
	}
	s.pendingN.Store(int64(len(events)))
	s.oldest.Store(time.Now().UnixNano())
	defer func() { s.pendingN.Store(0); s.oldest.Store(0) }()
	for chunk := range slices.Chunk(events, s.cfg.MaxBatchEvents) {
		failed, err := s.send(ctx, chunk)
		if failed {
			// A transport may still hold the events of an attempt that
			// failed (kafka-go's queued batch, an HTTP request being
			// written): the next write must not overwrite them.
			s.enc.abandon()
		}
		if err != nil {
			return err
		}
		s.pendingN.Add(-int64(len(chunk)))
	}
	return nil
}

// send hands events to the transport until it acknowledges them all,
// backing off between attempts; it fails only when ctx ends. failed says
// whether an attempt failed: the buffers the events point into must then
// not be reused.
func (s *Sink) send(ctx context.Context, events []Event) (failed bool, _ error) {
	countKinds(events, s.m.sent)
	wait := s.cfg.RetryMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			s.m.retried.Add(float64(len(events)))
		}
		start := time.Now()
		err := s.transport.Send(ctx, events)
		if ctx.Err() == nil {
			s.setUp(err == nil)
		}
		if err == nil {
			s.m.sendDuration.Observe(time.Since(start).Seconds())
			countKinds(events, s.m.acknowledged)
			return attempt > 0, nil
		}
		s.m.sendErrors.Inc()
		s.limiter.Log(s.r.Logger, "send", "siem: receiver did not take the events; retrying",
			"sink", s.cfg.Name, "events", len(events), "attempt", attempt+1, "retry_in", wait, "error", err)
		select {
		case <-ctx.Done():
			return true, fmt.Errorf("siem sink %s: %w (last error: %w)", s.cfg.Name, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}

func countKinds(events []Event, c *prometheus.CounterVec) {
	var flows, alerts int
	for i := range events {
		if events[i].Kind == KindFlow {
			flows++
		} else {
			alerts++
		}
	}
	if flows > 0 {
		c.WithLabelValues("flow").Add(float64(flows))
	}
	if alerts > 0 {
		c.WithLabelValues("alert").Add(float64(alerts))
	}
}

func (s *Sink) pending() int64 {
	if s.spool != nil {
		n, _ := s.spool.Pending()
		return int64(n) // entries; see lag for time
	}
	return s.pendingN.Load()
}

func (s *Sink) lag() time.Duration {
	t := s.oldest.Load()
	if t == 0 {
		return 0
	}
	return time.Since(time.Unix(0, t))
}

// encoder holds one write's documents and IDs in two growing buffers, so
// that encoding allocates nothing per record once they have grown.
type encoder struct {
	body, ids []byte
	spans     []span
	events    []Event
}

type span struct {
	kind             Kind
	time             int64
	id0, id1, b0, b1 int
}

// abandon leaves the buffers to whoever may still read them and starts
// afresh.
func (e *encoder) abandon() {
	e.body, e.ids = nil, nil
}

func (e *encoder) reset() {
	e.body, e.ids, e.spans, e.events = e.body[:0], e.ids[:0], e.spans[:0], e.events[:0]
}

func (e *encoder) flow(format Format, f *record.Flow, token string, index int) error {
	id0 := len(e.ids)
	e.ids = FlowEventID(e.ids, token, index)
	b0 := len(e.body)
	var err error
	e.body, err = format.AppendFlow(e.body, f, unsafe.String(unsafe.SliceData(e.ids[id0:]), len(e.ids)-id0))
	if err != nil {
		e.body, e.ids = e.body[:b0], e.ids[:id0]
		return err
	}
	e.spans = append(e.spans, span{KindFlow, FlowEnd(f).UnixNano(), id0, len(e.ids), b0, len(e.body)})
	return nil
}

func (e *encoder) alert(format Format, a *record.Alert) error {
	id0 := len(e.ids)
	e.ids = append(e.ids, AlertEventID(a)...)
	b0 := len(e.body)
	var err error
	e.body, err = format.AppendAlert(e.body, a)
	if err != nil {
		e.body, e.ids = e.body[:b0], e.ids[:id0]
		return err
	}
	e.spans = append(e.spans, span{KindAlert, a.Time.UnixNano(), id0, len(e.ids), b0, len(e.body)})
	return nil
}

// finish makes the events, their IDs and bodies pointing into the
// buffers, which stay untouched until the next reset.
func (e *encoder) finish() []Event {
	for _, sp := range e.spans {
		e.events = append(e.events, Event{
			Kind: sp.kind,
			ID:   unsafe.String(unsafe.SliceData(e.ids[sp.id0:]), sp.id1-sp.id0),
			Time: time.Unix(0, sp.time),
			Body: e.body[sp.b0:sp.b1:sp.b1],
		})
	}
	return e.events
}

// Spool entries hold a chunk of events:
//
//	int64 appended at (unix nanos) | repeated: uint8 kind | int64 time |
//	uint16 ID length | ID | uint32 body length | body
//
// all big-endian.
const spoolEntryHeader = 8

// maxSpoolPayload is the spool's own bound on an entry (spool.maxPayload).
const maxSpoolPayload = 64 << 20

// spoolEntryOverhead is what the spool adds to an entry, rounded up.
const spoolEntryOverhead = 64

// spoolEntryMax bounds an entry's bytes: within a segment, within the
// spool's own limit, and at most half the spool, so that a drained spool
// always has room for one (else the room check in append never passes and
// the pipeline waits forever).
func (c Config) spoolEntryMax() int {
	return int(min(c.Spool.SegmentBytes, maxSpoolPayload, c.Spool.MaxBytes/2)) - spoolEntryOverhead
}

func (s *Sink) append(ctx context.Context, events []Event) error {
	limit := s.cfg.spoolEntryMax()
	buf := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
	n := 0
	for i := range events {
		ev := &events[i]
		size := 1 + 8 + 2 + len(ev.ID) + 4 + len(ev.Body)
		if spoolEntryHeader+size > limit {
			return fmt.Errorf("siem sink %s: one %s event of %d bytes is larger than a spool entry can be (%d bytes: the least of spool.segment-bytes, spool.max-bytes/2 and 64 MiB); raise spool.segment-bytes and spool.max-bytes",
				s.cfg.Name, ev.Kind, size, limit-spoolEntryHeader)
		}
		if n == s.cfg.MaxBatchEvents || len(buf)+size > limit {
			if err := s.appendEntry(ctx, buf, n); err != nil {
				return err
			}
			buf, n = binary.BigEndian.AppendUint64(buf[:0], uint64(time.Now().UnixNano())), 0
		}
		buf = append(buf, byte(ev.Kind))
		buf = binary.BigEndian.AppendUint64(buf, uint64(ev.Time.UnixNano()))
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(ev.ID)))
		buf = append(buf, ev.ID...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(ev.Body)))
		buf = append(buf, ev.Body...)
		n++
	}
	if n > 0 {
		if err := s.appendEntry(ctx, buf, n); err != nil {
			return err
		}
	}
	// The caller acknowledges upstream (`sluice pipeline` commits the
	// Kafka offset) once this returns: the entries must survive the
	// machine, not only the process.
	if err := s.spool.Sync(); err != nil {
		return fmt.Errorf("siem sink %s: %w", s.cfg.Name, err)
	}
	return nil
}

// appendEntry appends one entry of n events, waiting while the spool has
// no room for it.
func (s *Sink) appendEntry(ctx context.Context, entry []byte, n int) error {
	// Hold back while the spool has no room: the pipeline waits, and
	// nothing is dropped.
	for waited := false; ; waited = true {
		_, bytes := s.spool.Pending()
		if bytes+int64(len(entry))+spoolEntryOverhead <= s.cfg.Spool.MaxBytes {
			break
		}
		if !waited {
			s.m.spoolWaits.Inc()
			s.limiter.Log(s.r.Logger, "spool-full", "siem: spool full; holding the pipeline back", "sink", s.cfg.Name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("siem sink %s: spool full: %w", s.cfg.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := s.spool.Append(nil, entry, n); err != nil {
		return fmt.Errorf("siem sink %s: %w", s.cfg.Name, err)
	}
	return nil
}

// drain sends the spool's entries, oldest first, until ctx ends.
func (s *Sink) drain(ctx context.Context) {
	defer close(s.done)
	var buf []byte
	var events []Event
	for {
		e, err := s.spool.Next(ctx, buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return
			}
			s.limiter.Log(s.r.Logger, "spool-read", "siem: spool read failed; retrying", "sink", s.cfg.Name, "error", err, "retry_in", s.cfg.RetryMin)
			// A read error that does not advance would spin a core.
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.cfg.RetryMin):
			}
			continue
		}
		buf = e.Buf
		events, err = decodeEntry(events[:0], e.Value)
		if err != nil {
			s.m.dropped.WithLabelValues("encode-error").Add(float64(e.Records))
			s.r.Error("siem: spool entry unreadable; skipped", "sink", s.cfg.Name, "entry", e.ID, "error", err)
			s.spool.Ack(e.Pos)
			continue
		}
		s.oldest.Store(int64(binary.BigEndian.Uint64(e.Value)))
		failed, err := s.send(ctx, events)
		if failed {
			buf = nil // see deliver
		}
		if err != nil {
			return // ctx ended: the entry is read again at the next start
		}
		s.oldest.Store(0)
		s.spool.Ack(e.Pos)
	}
}

func decodeEntry(dst []Event, b []byte) ([]Event, error) {
	if len(b) < spoolEntryHeader {
		return dst, errors.New("short entry")
	}
	b = b[spoolEntryHeader:]
	for len(b) > 0 {
		if len(b) < 11 {
			return dst, errors.New("truncated event header")
		}
		kind, t, idLen := Kind(b[0]), int64(binary.BigEndian.Uint64(b[1:])), int(binary.BigEndian.Uint16(b[9:]))
		b = b[11:]
		if len(b) < idLen+4 {
			return dst, errors.New("truncated event ID")
		}
		id := b[:idLen]
		bodyLen := int(binary.BigEndian.Uint32(b[idLen:]))
		b = b[idLen+4:]
		if len(b) < bodyLen {
			return dst, errors.New("truncated event body")
		}
		dst = append(dst, Event{Kind: kind, ID: string(id), Time: time.Unix(0, t), Body: b[:bodyLen:bodyLen]})
		b = b[bodyLen:]
	}
	return dst, nil
}

// flow reports whether the filter keeps f.
func (f *filter) flow(r *record.Flow) bool {
	if f.threatOnly && r.SrcThreatFeeds == 0 && r.DstThreatFeeds == 0 {
		return false
	}
	if f.directions != 0 && f.directions&(1<<r.TrafficDirection) == 0 {
		return false
	}
	if !f.anyProto && !f.protocols[r.Proto] {
		return false
	}
	return f.exporter(r.ExporterAddress)
}

func (f *filter) exporter(a record.Addr) bool {
	if len(f.exporters) == 0 {
		return true
	}
	ip := a.Netip()
	for _, p := range f.exporters {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// alert reports whether the filter keeps a. Flow-only conditions
// (threat-only, directions, protocols) do not apply to alerts, except
// threat-only, which keeps alerts that name a threat feed.
func (f *filter) alert(a *record.Alert) bool {
	if uint8(a.Severity) < f.minSeverity {
		return false
	}
	if len(f.detections) > 0 && !slices.Contains(f.detections, a.Detection) {
		return false
	}
	if f.threatOnly && len(a.ThreatFeeds) == 0 {
		return false
	}
	return a.ExporterAddress.IsZero() || f.exporter(a.ExporterAddress)
}
