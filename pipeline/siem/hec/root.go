// Package hec is the SIEM sinks' Splunk HTTP Event Collector transport.
// A batch becomes one or more POSTs to /services/collector/event, each a
// run of JSON events ({"time", "host", "source", "sourcetype", "index",
// "fields": {"sluice_id"}, "event"}), gzip-compressed, with the token in
// `Authorization: Splunk <token>` and a channel in
// X-Splunk-Request-Channel. With indexer acknowledgement (ack: true, the
// default) Send then polls /services/collector/ack with the requests'
// ackIds until Splunk says every one is indexed, and only then returns
// nil: an event Splunk accepted but lost in a failing indexer is never
// taken as delivered.
//
// A busy (503), throttled (429) or failing (5xx, network) HEC is retried
// with backoff, honouring Retry-After; other refusals (400 bad data, 401
// and 403 token) fail the Send at once with Splunk's text and code. When
// acknowledgements do not all come within ack-timeout, Send fails and the
// sink sends the whole batch again: Splunk may then index an event twice,
// which the sluice_id indexed field tells apart. Ready asks
// /services/collector/health.
package hec

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"sluice/internal/reporter"
	"sluice/pipeline/siem"
)

// Transport posts events to one HEC. Send calls are serialised.
type Transport struct {
	r       *reporter.Reporter
	cfg     Config
	client  *http.Client
	auth    string
	channel string
	limiter *reporter.Limiter
	metrics metrics

	eventURL, ackURL, healthURL string
	// alertHead and flowHead open an event's JSON object with its fixed
	// metadata, up to "time":.
	alertHead, flowHead []byte

	// ackOff is set while the HEC answers without ackIds (the token has
	// indexer acknowledgement off although ack is true).
	ackOff atomic.Bool

	mu     sync.Mutex
	body   []byte
	zbuf   bytes.Buffer
	gz     *gzip.Writer
	closed bool
}

var _ siem.Transport = (*Transport)(nil)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("hec transport closed")

// New returns the transport; it sends nothing until the first Send or
// Ready.
// sink names the sink the transport serves: its metrics carry it as the
// label sink, so that two sinks of one type can run side by side.
func New(r *reporter.Reporter, cfg Config, sink string) (*Transport, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	token, _ := cfg.token()
	tlsConfig, _ := cfg.TLS.Build("tls")
	channel := cfg.Channel
	if channel == "" {
		channel = newUUID()
	}
	host := cfg.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	base := strings.TrimSuffix(cfg.URL, "/")
	// Load balancers in front of several indexers (Splunk Cloud, AWS ALB)
	// pin a client to one with a cookie; without it the ack polls reach
	// indexers that never heard of the ackIds, and every batch times out.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("hec: cookie jar: %w", err)
	}
	t := &Transport{
		r: r, cfg: cfg, auth: "Splunk " + token, channel: channel, limiter: r.NewLimiter(3, 10*time.Second),
		client: &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: cfg.RequestTimeout,
		}, Jar: jar},
		eventURL: base + "/services/collector/event", ackURL: base + "/services/collector/ack", healthURL: base + "/services/collector/health",
		alertHead: eventHead(cfg, host, "sluice:alert"),
		flowHead:  eventHead(cfg, host, "sluice:flow"),
	}
	if t.metrics, err = newMetrics(r, sink); err != nil {
		return nil, err
	}
	return t, nil
}

func eventHead(cfg Config, host, defaultSourcetype string) []byte {
	sourcetype := cfg.Sourcetype
	if sourcetype == "" {
		sourcetype = defaultSourcetype
	}
	b := []byte(`{"host":`)
	b = appendJSONString(b, host)
	if cfg.Source != "" {
		b = appendJSONString(append(b, `,"source":`...), cfg.Source)
	}
	b = appendJSONString(append(b, `,"sourcetype":`...), sourcetype)
	if cfg.Index != "" {
		b = appendJSONString(append(b, `,"index":`...), cfg.Index)
	}
	return append(b, `,"time":`...)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// Name is the transport's config name.
func (*Transport) Name() string { return "hec" }

// Channel is the X-Splunk-Request-Channel this transport uses.
func (t *Transport) Channel() string { return t.channel }

// Send posts the events and, with ack on, waits until Splunk indexed them
// all.
func (t *Transport) Send(ctx context.Context, events []siem.Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	pending := map[int64]int{} // ackId → events in its request
	for start := 0; start < len(events); {
		t.body = t.body[:0]
		end := start
		for end < len(events) {
			before := len(t.body)
			t.body = t.appendEvent(t.body, &events[end])
			if len(t.body) > t.cfg.MaxRequestBytes && end > start {
				t.body = t.body[:before] // the next request's
				break
			}
			end++
		}
		ackID, acked, err := t.post(ctx, t.body, end-start)
		if err != nil {
			// net/http may still be writing a request whose RoundTrip
			// returned (a cancelled context): leave it the buffers.
			t.body, t.zbuf = nil, bytes.Buffer{}
			return fmt.Errorf("hec %s: %w", t.cfg.URL, err)
		}
		t.metrics.events.Add(float64(end - start))
		if acked {
			pending[ackID] = end - start
		}
		start = end
	}
	if err := t.waitAcks(ctx, pending); err != nil {
		return fmt.Errorf("hec %s: %w", t.cfg.URL, err)
	}
	return nil
}

// appendEvent appends one HEC event: the Body as is when it is a JSON
// object (ECS, OCSF), as a JSON string otherwise (a CEF line).
func (t *Transport) appendEvent(dst []byte, ev *siem.Event) []byte {
	if ev.Kind == siem.KindAlert {
		dst = append(dst, t.alertHead...)
	} else {
		dst = append(dst, t.flowHead...)
	}
	ts := ev.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	// Seconds with milliseconds; before 1970 the sign applies to the
	// whole number (-1.500), so the magnitude is printed after it.
	ms := ts.UnixMilli()
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	frac := ms % 1000
	dst = append(dst, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	dst = append(dst, `,"fields":{"sluice_id":`...)
	dst = appendJSONString(dst, ev.ID)
	dst = append(dst, `},"event":`...)
	if len(ev.Body) > 0 && ev.Body[0] == '{' && json.Valid(ev.Body) {
		dst = append(dst, ev.Body...)
	} else {
		dst = appendJSONString(dst, ev.Body)
	}
	return append(dst, "}\n"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString[S string | []byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// hecResponse is what the event and ack endpoints answer.
type hecResponse struct {
	Text  string          `json:"text"`
	Code  int             `json:"code"`
	AckID *int64          `json:"ackId"`
	Acks  map[string]bool `json:"acks"`
}

// Reasons a Send fails (send_errors_total).
const (
	reasonRefused   = "refused"
	reasonExhausted = "retries_exhausted"
	reasonAck       = "ack_timeout"
	reasonContext   = "context"
	reasonAckOff    = "ack_disabled"
)

// post sends one request's body, retrying what a busy or failing HEC
// answers, and returns its ackId (acked false when there is none to wait
// for).
func (t *Transport) post(ctx context.Context, body []byte, n int) (ackID int64, acked bool, _ error) {
	payload := body
	if t.cfg.Gzip {
		t.zbuf.Reset()
		if t.gz == nil {
			t.gz = gzip.NewWriter(&t.zbuf)
		} else {
			t.gz.Reset(&t.zbuf)
		}
		t.gz.Write(body)
		t.gz.Close()
		payload = t.zbuf.Bytes()
	}
	backoff := t.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		status, resp, retryAfter, err := t.do(ctx, t.eventURL, payload, t.cfg.Gzip)
		if err == nil && status == http.StatusOK {
			t.metrics.requests.Inc()
			t.metrics.bytes.Add(float64(len(payload)))
			if !t.cfg.Ack {
				return 0, false, nil
			}
			if resp.AckID == nil {
				// The HEC took the events (200) but the token has indexer
				// acknowledgement off: posting them again would index
				// them again, forever. They are taken as delivered, as
				// with ack: false, loudly; Ready fails until fixed.
				t.ackOff.Store(true)
				t.metrics.errors.WithLabelValues(reasonAckOff).Inc()
				if ok, suppressed := t.limiter.Allow("ack-off"); ok {
					t.r.Error("HEC answered without an ackId: the token has indexer acknowledgement off; "+
						"events are taken as delivered once accepted, without waiting for indexing. "+
						"Turn on \"Enable indexer acknowledgement\" for the token, or set hec.ack: false",
						"url", t.eventURL, "events", n, "suppressed", suppressed)
				}
				return 0, false, nil
			}
			t.ackOff.Store(false)
			return *resp.AckID, true, nil
		}
		if ctx.Err() != nil {
			t.metrics.errors.WithLabelValues(reasonContext).Inc()
			return 0, false, ctx.Err()
		}
		label := "network"
		if err == nil {
			if status != http.StatusTooManyRequests && status < 500 {
				// Permanent until someone acts (400 bad data or too
				// large, 401/403 token): the sink sends the batch again
				// and the pipeline waits; say so loudly.
				t.metrics.errors.WithLabelValues(reasonRefused).Inc()
				err = fmt.Errorf("HTTP %d: %s (code %d)", status, resp.Text, resp.Code)
				if ok, suppressed := t.limiter.Allow("refused"); ok {
					t.r.Error("HEC refused the events; they are sent again until it takes them, and the pipeline waits: check the token, the index and max-request-bytes against Splunk's max_content_length",
						"url", t.eventURL, "status", status, "text", resp.Text, "code", resp.Code, "events", n, "suppressed", suppressed)
				}
				return 0, false, err
			}
			label = strconv.Itoa(status)
			err = fmt.Errorf("HTTP %d: %s (code %d)", status, resp.Text, resp.Code)
		}
		t.metrics.retried.WithLabelValues(label).Add(float64(n))
		if ok, suppressed := t.limiter.Allow(label); ok {
			t.r.Warn("HEC did not take the events, retrying", "url", t.eventURL, "status", label, "attempt", attempt, "events", n, "error", err, "suppressed", suppressed)
		}
		if attempt >= t.cfg.MaxAttempts {
			t.metrics.errors.WithLabelValues(reasonExhausted).Inc()
			return 0, false, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		wait := backoff
		if retryAfter > 0 {
			wait = min(retryAfter, t.cfg.RetryBackoffMax)
		}
		backoff = min(2*backoff, t.cfg.RetryBackoffMax)
		if err := sleep(ctx, wait); err != nil {
			t.metrics.errors.WithLabelValues(reasonContext).Inc()
			return 0, false, err
		}
	}
}

// do makes one request and reads Splunk's answer.
func (t *Transport) do(ctx context.Context, url string, payload []byte, gzipped bool) (status int, resp hecResponse, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, resp, 0, err
	}
	req.Header.Set("Authorization", t.auth)
	req.Header.Set("X-Splunk-Request-Channel", t.channel)
	req.Header.Set("Content-Type", "application/json")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := t.client.Do(req)
	if err != nil {
		return 0, resp, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, resp, 0, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > 0 && json.Unmarshal(b, &resp) != nil {
		resp.Text = strings.TrimSpace(string(b[:min(len(b), 200)]))
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return res.StatusCode, resp, retryAfter, nil
}

// waitAcks polls the ack endpoint until every pending ackId is indexed.
func (t *Transport) waitAcks(ctx context.Context, pending map[int64]int) error {
	if len(pending) == 0 {
		return nil
	}
	start := time.Now()
	deadline := start.Add(t.cfg.AckTimeout)
	var req []byte
	var lastErr error
	for len(pending) > 0 {
		if err := sleep(ctx, t.cfg.AckPollInterval); err != nil {
			t.metrics.errors.WithLabelValues(reasonContext).Inc()
			return fmt.Errorf("waiting for %d acknowledgements: %w", len(pending), err)
		}
		if time.Now().After(deadline) {
			t.metrics.errors.WithLabelValues(reasonAck).Inc()
			n := 0
			for _, c := range pending {
				n += c
			}
			return fmt.Errorf("%d events of %d requests not acknowledged within ack-timeout (%s); last poll error: %v", n, len(pending), t.cfg.AckTimeout, lastErr)
		}
		req = append(req[:0], `{"acks":[`...)
		first := true
		for id := range pending {
			if !first {
				req = append(req, ',')
			}
			first = false
			req = strconv.AppendInt(req, id, 10)
		}
		req = append(req, "]}"...)
		t.metrics.ackPolls.Inc()
		status, resp, _, err := t.do(ctx, t.ackURL, req, false)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("HTTP %d: %s (code %d)", status, resp.Text, resp.Code)
		}
		if err != nil {
			// The ack endpoint busy or down: keep polling until the deadline.
			lastErr = err
			if ok, suppressed := t.limiter.Allow("ack"); ok {
				t.r.Warn("HEC ack poll failed", "url", t.ackURL, "error", err, "suppressed", suppressed)
			}
			continue
		}
		for key, done := range resp.Acks {
			id, err := strconv.ParseInt(key, 10, 64)
			if n, ok := pending[id]; err == nil && ok && done {
				t.metrics.acked.Add(float64(n))
				delete(pending, id)
			}
		}
	}
	t.metrics.ackWait.Observe(time.Since(start).Seconds())
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Ready asks the HEC's health endpoint; it fails too while the HEC
// answers without ackIds although ack is true.
func (t *Transport) Ready(ctx context.Context) error {
	if t.ackOff.Load() {
		return fmt.Errorf("hec %s: the token has indexer acknowledgement off but hec.ack is true: turn on \"Enable indexer acknowledgement\" for the token, or set hec.ack: false", t.cfg.URL)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.healthURL, nil)
	if err != nil {
		return err
	}
	res, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("hec %s: %w", t.healthURL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("hec %s: HTTP %d: %s", t.healthURL, res.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// Close ends the transport; Send fails afterwards.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.client.CloseIdleConnections()
	t.limiter.Stop()
	return nil
}
