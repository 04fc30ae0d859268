// Package syslog is the SIEM sinks' syslog transport: each event (a CEF
// line, or a JSON document) is the MSG of one RFC 5424 message, sent over
// TCP, optionally TLS (RFC 5425), with octet-counting framing (RFC 6587:
// "LEN SP MSG", so a message may hold any byte, line breaks included).
//
//	<PRI>1 TIMESTAMP HOSTNAME sluice PROCID MSGID - MSG
//
// PRI is the configured facility with the alert or flow severity;
// TIMESTAMP is the event's own time (RFC 3339, UTC, milliseconds), so a
// message sent again carries the same header; MSGID is the event's kind
// (alert, flow); the structured data is empty ("-"): CEF and JSON carry
// the fields.
//
// # Delivery
//
// Syslog over TCP has no application acknowledgement. Send returns nil
// once every message of the batch is written and flushed into the
// connection: the receiver's kernel may still hold them, and a receiver
// that dies then loses them without sluice knowing. That is the limit of
// at-least-once over syslog, narrowed as far as TCP allows:
//   - a goroutine reads each connection (receivers never write), so a
//     receiver that closed or reset it is seen before the next batch, which
//     then goes over a new connection instead of into a dead one;
//   - any error while connecting, writing or flushing fails the attempt:
//     the connection is dropped and the whole batch is written again over
//     a new one, after a backoff, up to max-attempts times per Send; then
//     Send returns the error and the sink sends the batch again later.
//
// So a receiver may see a message twice (the CEF externalId tells them
// apart); a receiver that takes the TCP bytes and then dies may lose what
// its buffers held. Receivers that must never lose an event: Kafka or HEC.
package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/siem"
)

// Transport sends events to one syslog receiver. Send calls are
// serialised: one connection, one batch at a time.
type Transport struct {
	r       *reporter.Reporter
	cfg     Config
	tls     *tls.Config
	limiter *reporter.Limiter
	metrics metrics

	// header parts fixed at New: "1 " after PRI, and " HOSTNAME sluice PROCID ".
	alertPRI, flowPRI []byte
	hostProc          []byte

	// connected mirrors conn != nil for the gauge, which must not take mu
	// (a Send holds it through its backoff, with no connection).
	connected atomic.Bool

	mu      sync.Mutex
	conn    net.Conn
	dead    chan struct{} // closed by the connection's reader when it ends
	w       *bufio.Writer
	frame   []byte
	backoff time.Duration
	failed  bool // the last attempt failed: back off before the next
	closed  bool

	// lastErr is the last attempt's error, nil after a success: what
	// Ready reports while a Send holds the connection.
	lastErr atomic.Pointer[error]
}

var _ siem.Transport = (*Transport)(nil)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("syslog transport closed")

// chunkSize is what the buffered writer gathers before it writes to the
// connection: a batch goes out in a few large writes.
const chunkSize = 64 << 10

// New returns the transport; it connects at the first Send or Ready.
// sink names the sink the transport serves: its metrics carry it as the
// label sink, so that two sinks of one type can run side by side.
func New(r *reporter.Reporter, cfg Config, sink string) (*Transport, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := cfg.TLS.Build("tls")
	if err != nil {
		return nil, err
	}
	if tlsConfig != nil && tlsConfig.ServerName == "" {
		host, _, _ := net.SplitHostPort(cfg.Address)
		tlsConfig.ServerName = host
	}
	t := &Transport{
		r: r, cfg: cfg, tls: tlsConfig, limiter: r.NewLimiter(3, 10*time.Second),
		alertPRI: pri(facilities[cfg.Facility], severities[cfg.AlertSeverity]),
		flowPRI:  pri(facilities[cfg.Facility], severities[cfg.FlowSeverity]),
		hostProc: []byte(" " + cfg.headerHostname() + " sluice " + strconv.Itoa(os.Getpid()) + " "),
		backoff:  cfg.ReconnectBackoff,
	}
	if t.metrics, err = newMetrics(r, sink, t.isConnected); err != nil {
		return nil, err
	}
	return t, nil
}

func pri(facility, severity int) []byte {
	return []byte("<" + strconv.Itoa(facility*8+severity) + ">1 ")
}

// Name is the transport's config name.
func (*Transport) Name() string { return "syslog" }

// Send writes every event as one message and flushes them; see the
// package's comment for what nil promises.
func (t *Transport) Send(ctx context.Context, events []siem.Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	var err error
	for attempt := 1; ; attempt++ {
		if t.failed {
			if err := t.wait(ctx); err != nil {
				return err
			}
		}
		var reason string
		if reason, err = t.attempt(ctx, events); err == nil {
			t.failed, t.backoff = false, t.cfg.ReconnectBackoff
			t.lastErr.Store(nil)
			t.metrics.events.Add(float64(len(events)))
			t.metrics.batches.Inc()
			return nil
		}
		t.failed = true
		t.lastErr.Store(&err)
		t.drop()
		t.metrics.errors.WithLabelValues(reason).Inc()
		if ok, suppressed := t.limiter.Allow(reason); ok {
			t.r.Warn("syslog send failed", "address", t.cfg.Address, "reason", reason, "attempt", attempt, "events", len(events), "error", err, "suppressed", suppressed)
		}
		if attempt >= t.cfg.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("syslog %s: %w", t.cfg.Address, err)
		}
		t.metrics.resent.Add(float64(len(events)))
	}
}

// wait sleeps the backoff and doubles it.
func (t *Transport) wait(ctx context.Context) error {
	timer := time.NewTimer(t.backoff)
	defer timer.Stop()
	t.backoff = min(2*t.backoff, t.cfg.ReconnectBackoffMax)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Reasons a send attempt fails (send_errors_total).
const (
	reasonConnect = "connect"
	reasonWrite   = "write"
	reasonContext = "context"
)

// attempt writes the batch over the current connection, or a new one.
func (t *Transport) attempt(ctx context.Context, events []siem.Event) (reason string, err error) {
	if err := ctx.Err(); err != nil {
		return reasonContext, err
	}
	if err := t.connect(ctx); err != nil {
		return reasonConnect, err
	}
	// A cancelled context interrupts a blocked write.
	conn := t.conn
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	for i := range events {
		t.frame = t.appendMessage(t.frame[:0], &events[i])
		if len(t.frame) > t.w.Available() { // this write reaches the connection
			if err := t.deadline(ctx); err != nil {
				return reasonContext, err
			}
		}
		if _, err := t.w.Write(t.frame); err != nil {
			return t.writeReason(ctx), fmt.Errorf("writing: %w", err)
		}
	}
	if err := t.deadline(ctx); err != nil {
		return reasonContext, err
	}
	if err := t.w.Flush(); err != nil {
		return t.writeReason(ctx), fmt.Errorf("writing: %w", err)
	}
	t.metrics.bytes.Add(float64(t.sentBytes(events)))
	return "", nil
}

// deadline gives the next write write-timeout, unless the context has
// ended: after that, its AfterFunc's deadline in the past must stand.
func (t *Transport) deadline(ctx context.Context) error {
	t.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	return ctx.Err()
}

func (t *Transport) writeReason(ctx context.Context) string {
	if ctx.Err() != nil {
		return reasonContext
	}
	return reasonWrite
}

func (t *Transport) sentBytes(events []siem.Event) int {
	n := 0
	for i := range events {
		n += len(events[i].Body)
	}
	return n
}

// appendMessage appends one octet-counted RFC 5424 message.
func (t *Transport) appendMessage(dst []byte, ev *siem.Event) []byte {
	var head [96]byte
	h := head[:0]
	if ev.Kind == siem.KindAlert {
		h = append(h, t.alertPRI...)
	} else {
		h = append(h, t.flowPRI...)
	}
	ts := ev.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	h = ts.UTC().AppendFormat(h, "2006-01-02T15:04:05.000Z")
	n := len(h) + len(t.hostProc) + len(ev.Kind.String()) + 3 + len(ev.Body)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ' ')
	dst = append(dst, h...)
	dst = append(dst, t.hostProc...)
	dst = append(dst, ev.Kind.String()...) // MSGID
	dst = append(dst, " - "...)            // no structured data
	return append(dst, ev.Body...)
}

// connect makes sure a live connection is there: it drops one the
// receiver closed, and dials a new one.
func (t *Transport) connect(ctx context.Context) error {
	if t.conn != nil {
		select {
		case <-t.dead:
			t.drop()
			t.metrics.errors.WithLabelValues("closed_by_receiver").Inc()
		default:
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if t.tls != nil {
		d := tls.Dialer{Config: t.tls}
		conn, err = d.DialContext(ctx, "tcp", t.cfg.Address)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", t.cfg.Address)
	}
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	t.metrics.connects.Inc()
	dead := make(chan struct{})
	go func() {
		// Receivers never write: any read result is the end.
		var b [512]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				close(dead)
				return
			}
		}
	}()
	t.conn, t.dead = conn, dead
	t.connected.Store(true)
	if t.w == nil {
		t.w = bufio.NewWriterSize(conn, chunkSize)
	} else {
		t.w.Reset(conn)
	}
	return nil
}

// drop closes the connection, if any; what its buffer held is discarded
// (the batch is written again whole).
func (t *Transport) drop() {
	if t.conn == nil {
		return
	}
	t.conn.Close()
	t.conn, t.dead = nil, nil
	t.connected.Store(false)
	t.w.Reset(nil)
}

func (t *Transport) isConnected() float64 {
	if t.connected.Load() {
		return 1
	}
	return 0
}

// Ready connects if not connected, and reports whether it could. While a
// Send holds the connection (it may be backing off for a while), Ready
// does not wait for it: it reports the last attempt's outcome.
func (t *Transport) Ready(ctx context.Context) error {
	if !t.mu.TryLock() {
		if err := t.lastErr.Load(); err != nil {
			return fmt.Errorf("syslog %s: %w", t.cfg.Address, *err)
		}
		return nil
	}
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if err := t.connect(ctx); err != nil {
		return fmt.Errorf("syslog %s: %w", t.cfg.Address, err)
	}
	return nil
}

// Close closes the connection; Send fails afterwards.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.drop()
	t.limiter.Stop()
	return nil
}
