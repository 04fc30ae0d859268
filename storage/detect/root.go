// Package detect runs sluice's threat detections: SQL over the stored flows
// (one embedded file per detection, sql/*.sql), every interval, over
// sliding windows of flow time. Flows are judged by their own timestamps
// (TimeFlowStart), never by arrival: the evaluation follows the newest
// stored flow (less Lateness), so replayed, late or time-compressed
// exports land in the windows they belong to, and a restart after
// downtime evaluates what it missed from a persisted watermark.
//
// An event raises one alert: opened when a window first crosses a
// threshold, updated while windows keep crossing it (the evidence is the
// peak window's), closed at the first window that does not. Its ID is
// stable for its life. Every alert record is stored in the alerts table
// (a ReplacingMergeTree keyed by detection and DedupKey) and handed to the
// AlertSinks; delivery is retried until each accepts, and what is not
// delivered yet survives a restart in the state file.
package detect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/reporter"
	"sluice/pipeline/record"
	"sluice/storage/clickhouse"
	"sluice/storage/migrate"
)

// AlertSink receives alert records (open, updated, closed) in order. An
// error means the batch was not accepted: it is handed again, whole, until
// accepted, so a sink must tolerate duplicates (Alert.ID and State tell
// them apart).
type AlertSink interface {
	WriteAlerts(ctx context.Context, alerts []record.Alert) error
}

// Store runs the detections' queries and stores the alerts: the embedded
// engine or a ClickHouse server.
type Store interface {
	Query(ctx context.Context, sql, format string) ([]byte, error)
	Exec(ctx context.Context, sql string) error
}

// Dependencies are the scheduler's collaborators.
type Dependencies struct {
	Store Store // required
	Sinks []AlertSink
	// StateDir keeps the watermark, the ongoing events and the alerts not
	// yet delivered; empty keeps nothing across restarts.
	StateDir string
	// Now is the wall clock (tests); nil is time.Now.
	Now func() time.Time
	// Backlog is the share, 0 to 1, of ingestion's in-process buffer in
	// use (the collector-to-pipeline queue of `sluice run`); nil when this
	// process stores no flows. The queries wait while it is above
	// yieldBacklog, up to max-yield.
	Backlog func() float64
}

// yieldBacklog is the ingestion backlog above which a query waits. On the
// embedded engine a query holds back every insert while it runs (a 5-minute
// window at 100k flows/s takes a second or two), and the engine serves
// statements in turn: queries run back to back would let the writer insert
// one batch between two of them while several arrive, until the queue
// overflows. Waiting for the queue to drain to a quarter keeps three
// quarters of it for what arrives during the next query.
const yieldBacklog = 0.25

// yieldPoll is how often a waiting query looks at the backlog again.
const yieldPoll = 20 * time.Millisecond

// Scheduler runs the detections.
type Scheduler struct {
	cfg        Config
	deps       Dependencies
	detections []*detection
	logger     *slog.Logger
	limiter    *reporter.Limiter
	metrics    *metrics

	mu    sync.Mutex // guards st and runs
	st    state
	runMu sync.Mutex // one run at a time

	// failures counts each detection's consecutive failed runs and skip
	// the runs it sits out before the next attempt (guarded by runMu): a
	// query that fails for its size (memory, time) fails again, larger,
	// and each attempt costs engine time.
	failures, skip map[string]int
	// yieldUntil ends the run's waits for ingestion (max-yield per run).
	yieldUntil time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// New checks the configuration and builds the scheduler; it starts nothing.
func New(r *reporter.Reporter, cfg Config, deps Dependencies) (*Scheduler, error) {
	r = r.Package()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("detect: a store is required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m, err := newMetrics(r.Registerer())
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	s := &Scheduler{cfg: cfg, deps: deps, detections: enabledDetections(&cfg), logger: r.Logger,
		limiter: r.NewLimiter(5, time.Minute), metrics: m, failures: map[string]int{}, skip: map[string]int{}}
	for _, d := range s.detections {
		m.runs.WithLabelValues(d.name)
		m.errors.WithLabelValues(d.name)
		m.open.WithLabelValues(d.name)
		m.duration.WithLabelValues(d.name)
		m.alertsCapped.WithLabelValues(d.name)
		m.backedOff.WithLabelValues(d.name)
		for _, st := range []record.AlertState{record.AlertOpen, record.AlertUpdated, record.AlertClosed} {
			m.alerts.WithLabelValues(d.name, st.String())
		}
	}
	for i := range 1 + len(deps.Sinks) {
		m.deliveryRetries.WithLabelValues(targetName(i))
		m.alertsDelivered.WithLabelValues(targetName(i))
		m.alertsDropped.WithLabelValues(targetName(i))
	}
	return s, nil
}

// targetName names a delivery target in metrics and logs: 0 is the alerts
// table, i+1 the sink i.
func targetName(i int) string {
	if i == 0 {
		return "alerts-table"
	}
	return "sink-" + strconv.Itoa(i-1)
}

// Start loads the state and runs the detections now and every interval.
func (s *Scheduler) Start(ctx context.Context) error {
	st, err := loadState(s.deps.StateDir)
	if err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	s.st = st
	s.updateGauges()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	go s.loop(runCtx)
	return nil
}

// Stop ends the runs (a run in progress is abandoned: its windows are
// evaluated again at the next start) and saves the state.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		return fmt.Errorf("detect: stop: %w", ctx.Err())
	}
	s.limiter.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.save(s.deps.StateDir)
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			s.limiter.Log(s.logger, "run", "detections failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run evaluates the windows that ended since the last run and delivers the
// alerts. The scheduler calls it every interval; tests call it directly.
func (s *Scheduler) Run(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if err := s.deliver(ctx); err != nil {
		return err
	}
	now := s.deps.Now()
	oldest, newest, err := s.recentFlows(ctx, now)
	if err != nil || newest.IsZero() {
		return err
	}
	s.mu.Lock()
	target := newest.Add(-s.cfg.Lateness)
	if !newest.After(s.st.NewestFlow) {
		target = newest // idle: nothing newer is coming, evaluate up to the newest flow
	}
	step := s.cfg.Step
	lastEnd := target.Truncate(step)
	if s.st.Watermark.IsZero() {
		// First run: from the oldest flow received lately, so that what
		// arrived before the first run (a replay, a backlog) is evaluated.
		s.st.Watermark = oldest.Truncate(step)
	}
	if lastEnd.Sub(s.st.Watermark) > s.cfg.MaxCatchUp {
		from := lastEnd.Add(-s.cfg.MaxCatchUp)
		s.metrics.windowsSkipped.Add(float64(from.Sub(s.st.Watermark) / step))
		s.limiter.Log(s.logger, "catch-up", "skipping windows older than detect.max-catch-up", "from", s.st.Watermark, "to", from)
		s.st.Watermark = from
	}
	watermark := s.st.Watermark
	s.mu.Unlock()

	// Each detection goes on from its own watermark: one failing does not
	// hold the others back, and only its windows are evaluated again. One
	// sitting out runs (backOff) evaluates its windows when it is back.
	var failed []error
	s.yieldUntil = time.Now().Add(s.cfg.MaxYield)
	for _, d := range s.detections {
		if s.skip[d.name] > 0 {
			s.skip[d.name]--
			s.metrics.backedOff.WithLabelValues(d.name).Inc()
			continue
		}
		if err := s.runDetection(ctx, d, watermark, lastEnd, target.Equal(newest)); err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.metrics.errors.WithLabelValues(d.name).Inc()
			s.backOff(d, err, lastEnd)
			failed = append(failed, err)
			continue
		}
		s.failures[d.name] = 0
	}
	s.mu.Lock()
	s.st.Watermark = s.st.minWatermark(s.detections)
	err = s.st.save(s.deps.StateDir)
	s.mu.Unlock()
	s.metrics.watermark.Set(float64(s.st.Watermark.Unix()))
	if err != nil {
		return err
	}
	if err := s.deliver(ctx); err != nil {
		return err
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	// Only a run that evaluated everything moves this on: after a failure
	// the next run keeps its lateness.
	s.mu.Lock()
	s.st.NewestFlow = newest
	s.mu.Unlock()
	return nil
}

// backOff counts a failed run of d and sets how many runs it sits out:
// none after one failure (a passing fault), then 1, 3, 7... up to as many
// as long-interval holds.
//
// A query stopped at max-query-time would be stopped again, larger, and
// each attempt holds the engine that long. A 5-minute detection skips
// the windows before the newest one (counted in windows_skipped_total), so
// that its next attempt reads one window. A long-window detection
// (beaconing) reads its whole window every time: its flows no longer fit
// at this rate, so it sits out max-catch-up before it tries again.
func (s *Scheduler) backOff(d *detection, err error, lastEnd time.Time) {
	n := s.failures[d.name] + 1
	s.failures[d.name] = n
	most := max(1, int(s.cfg.LongInterval/s.cfg.Interval))
	skip := most
	if n-1 < 31 {
		skip = min(most, 1<<(n-1)-1)
	}
	if isTimeout(err) {
		if d.latest {
			skip = max(1, int(s.cfg.MaxCatchUp/s.cfg.Interval))
		} else {
			s.skipOlderWindows(d, lastEnd.Add(-s.cfg.Step))
		}
		s.limiter.Log(s.logger, "slow-"+d.name, "detection stopped at detect.max-query-time: its window holds too many flows for the engine at this rate; "+
			"turn it off (detect."+d.name+".enabled: false), run the detections against a ClickHouse server, "+
			"or raise detect.max-query-time (on the embedded engine inserts wait while it runs, the records in the queue and its overflow on disk)",
			"detection", d.name, "max-query-time", s.cfg.MaxQueryTime, "window", d.windowOf(&s.cfg), "runs sat out", skip)
	}
	s.skip[d.name] = skip
	if skip > 0 {
		s.limiter.Log(s.logger, "backoff-"+d.name, "detection failed again; sitting out runs before the next attempt",
			"detection", d.name, "failures", n, "runs", skip)
	}
}

// isTimeout tells a query stopped at max-query-time.
func isTimeout(err error) bool {
	return clickhouse.ExceptionCode(err) == clickhouse.CodeTimeoutExceeded
}

// skipOlderWindows moves d's watermark on to from, counting the window
// ends skipped.
func (s *Scheduler) skipOlderWindows(d *detection, from time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wm := s.st.Watermarks[d.name]
	if wm.Before(s.st.Watermark) {
		wm = s.st.Watermark
	}
	if !from.After(wm) {
		return
	}
	s.metrics.windowsSkipped.Add(float64(from.Sub(wm) / s.cfg.Step))
	if s.st.Watermarks == nil {
		s.st.Watermarks = map[string]time.Time{}
	}
	s.st.Watermarks[d.name] = from
}

// yield waits while ingestion has a backlog (see yieldBacklog), up to
// max-yield in all for one run: under a lasting backlog the run goes on
// rather than holding its alerts back for minutes.
func (s *Scheduler) yield(ctx context.Context) error {
	if s.deps.Backlog == nil || s.cfg.MaxYield <= 0 || s.deps.Backlog() <= yieldBacklog {
		return nil
	}
	start := time.Now()
	defer func() { s.metrics.yieldSeconds.Add(time.Since(start).Seconds()) }()
	deadline := time.NewTimer(max(0, time.Until(s.yieldUntil)))
	defer deadline.Stop()
	poll := time.NewTicker(yieldPoll)
	defer poll.Stop()
	for s.deps.Backlog() > yieldBacklog {
		select {
		case <-ctx.Done():
			return fmt.Errorf("detect: waiting for ingestion: %w", ctx.Err())
		case <-deadline.C:
			s.metrics.yieldTimeouts.Inc()
			s.limiter.Log(s.logger, "yield", "ingestion still has a backlog after detect.max-yield; running the detections anyway",
				"max-yield", s.cfg.MaxYield, "backlog", s.deps.Backlog())
			return nil
		case <-poll.C:
		}
	}
	return nil
}

// runDetection evaluates d's windows ending after its watermark (at least
// floor) up to lastEnd, an hour of window ends per query. Each chunk's
// events, records and d's watermark are committed together: a failure
// leaves d as it was before the chunk, to be evaluated again next time.
func (s *Scheduler) runDetection(ctx context.Context, d *detection, floor, lastEnd time.Time, idle bool) error {
	s.mu.Lock()
	wm, evaluated := s.st.Watermarks[d.name]
	s.mu.Unlock()
	// A long window is evaluated every long-interval after its own last
	// evaluation. The floor (the 5-minute detections' watermark) may be
	// ahead of it, after it sat out runs (backOff): it then evaluates from
	// the floor, not the windows it missed.
	if d.latest && evaluated && !idle && lastEnd.Sub(wm) < s.cfg.LongInterval {
		return nil
	}
	own := wm
	if wm.Before(floor) {
		wm = floor
	}
	if d.latest && own.Before(lastEnd) && !wm.Before(lastEnd) {
		wm = lastEnd.Add(-s.cfg.Step) // the floor reached lastEnd without it: its newest window
	}
	chunk := max(time.Hour, s.cfg.Step)
	for from := wm; from.Before(lastEnd); {
		to := lastEnd
		if from.Add(chunk).Before(lastEnd) {
			to = from.Add(chunk).Truncate(s.cfg.Step)
		}
		if err := s.yield(ctx); err != nil {
			return err
		}
		start := time.Now()
		rows, err := s.queryDetection(ctx, d, from, to)
		s.metrics.runs.WithLabelValues(d.name).Inc()
		s.metrics.duration.WithLabelValues(d.name).Observe(time.Since(start).Seconds())
		if err != nil {
			return err
		}
		s.mu.Lock()
		open := cloneOpen(s.st.Open)
		s.mu.Unlock()
		emitted, open, capped := s.apply(d, rows, from, to, open)
		if capped > 0 {
			s.metrics.alertsCapped.WithLabelValues(d.name).Add(float64(capped))
			s.limiter.Log(s.logger, "cap-"+d.name, "too many new alerts in one run; the rest are not raised",
				"detection", d.name, "max-new-alerts", s.cfg.MaxNewAlerts, "capped", capped)
		}
		s.mu.Lock()
		s.st.Open = open
		if s.st.Watermarks == nil {
			s.st.Watermarks = map[string]time.Time{}
		}
		s.st.Watermarks[d.name] = to
		s.st.Pending = append(s.st.Pending, emitted...)
		err = s.st.save(s.deps.StateDir)
		s.commitMetrics(emitted, open)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		from = to
	}
	return nil
}

// recentFlows returns the oldest flow start and the newest flow end among
// the flows received lately (not after now: a clock ahead does not push
// the evaluation into the future); zero times when there are none.
func (s *Scheduler) recentFlows(ctx context.Context, now time.Time) (oldest, newest time.Time, err error) {
	lookback := max(10*time.Minute, 2*s.cfg.Interval)
	q := fmt.Sprintf("SELECT toUnixTimestamp64Milli(min(TimeFlowStart)), toUnixTimestamp64Milli(max(TimeFlowEnd)) FROM %s "+
		"WHERE TimeReceived >= toDateTime(%d) AND TimeFlowEnd <= fromUnixTimestamp64Milli(%d) HAVING count() > 0",
		migrate.FlowsTable, now.Add(-lookback).Unix(), now.UnixMilli())
	out, err := s.deps.Store.Query(ctx, q, "TSV")
	if err != nil {
		return oldest, newest, fmt.Errorf("detect: newest flow: %w", err)
	}
	text := strings.TrimSpace(string(out))
	if text == "" {
		return oldest, newest, nil
	}
	lo, hi, ok := strings.Cut(text, "\t")
	minMs, err1 := strconv.ParseInt(lo, 10, 64)
	maxMs, err2 := strconv.ParseInt(hi, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return oldest, newest, fmt.Errorf("detect: newest flow: unexpected answer %q", out)
	}
	return time.UnixMilli(minMs).UTC(), time.UnixMilli(maxMs).UTC(), nil
}

// cloneOpen copies the ongoing events deep enough for apply to change the
// copy only.
func cloneOpen(open []openAlert) []openAlert {
	out := make([]openAlert, len(open))
	for i, o := range open {
		o.Alert.ThreatFeeds = slices.Clone(o.Alert.ThreatFeeds)
		out[i] = o
	}
	return out
}

// commitMetrics counts the records of a committed chunk and sets the
// ongoing events' gauges. s.mu is held.
func (s *Scheduler) commitMetrics(emitted []record.Alert, open []openAlert) {
	for _, a := range emitted {
		s.metrics.alerts.WithLabelValues(a.Detection, a.State.String()).Inc()
	}
	counts := map[string]int{}
	for _, o := range open {
		counts[o.Alert.Detection]++
	}
	for _, d := range s.detections {
		s.metrics.open.WithLabelValues(d.name).Set(float64(counts[d.name]))
	}
}

// row is one result row: an event's evidence in one window.
type row struct {
	WindowEnd int64
	Key       string
	alert     record.Alert
	details   map[string]string
	detailsJS string
}

// standard are the columns every detection returns; the others are its
// details.
var standard = map[string]bool{"WindowEnd": true, "Key": true, "Src": true, "Dst": true, "SrcPt": true, "DstPt": true,
	"Prot": true, "SumBytes": true, "SumPackets": true, "SumFlows": true, "First": true, "Last": true, "Feeds": true}

func (s *Scheduler) queryDetection(ctx context.Context, d *detection, from, to time.Time) ([]row, error) {
	q, err := d.query(&s.cfg, from, to)
	if err != nil {
		return nil, err
	}
	out, err := s.deps.Store.Query(ctx, q, "JSONEachRow")
	if err != nil {
		return nil, fmt.Errorf("detection %s: %w", d.name, err)
	}
	var rows []row
	for _, line := range bytes.Split(out, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := parseRow(line)
		if err != nil {
			return nil, fmt.Errorf("detection %s: %w", d.name, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func parseRow(line []byte) (row, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return row{}, fmt.Errorf("result row %q: %w", line, err)
	}
	var r row
	var src, dst string
	var first, last int64
	fields := []struct {
		name string
		v    any
	}{{"WindowEnd", &r.WindowEnd}, {"Key", &r.Key}, {"Src", &src}, {"Dst", &dst}, {"SrcPt", &r.alert.SrcPort},
		{"DstPt", &r.alert.DstPort}, {"Prot", &r.alert.Proto}, {"SumBytes", &r.alert.Bytes}, {"SumPackets", &r.alert.Packets},
		{"SumFlows", &r.alert.Flows}, {"First", &first}, {"Last", &last}}
	for _, f := range fields {
		raw, ok := m[f.name]
		if !ok {
			return row{}, fmt.Errorf("result row %q: no column %s", line, f.name)
		}
		if err := json.Unmarshal(raw, f.v); err != nil {
			return row{}, fmt.Errorf("result row column %s: %w", f.name, err)
		}
	}
	if raw, ok := m["Feeds"]; ok {
		if err := json.Unmarshal(raw, &r.alert.ThreatFeeds); err != nil {
			return row{}, fmt.Errorf("result row column Feeds: %w", err)
		}
	}
	for name, dstAddr := range map[string]*record.Addr{src: &r.alert.SrcAddr, dst: &r.alert.DstAddr} {
		a, err := netip.ParseAddr(name)
		if err != nil {
			return row{}, fmt.Errorf("result row address %q: %w", name, err)
		}
		if a.IsUnspecified() {
			continue
		}
		*dstAddr = record.Addr(a.As16())
		if a.Is4() {
			*dstAddr = record.AddrFrom4(a.As4())
		}
	}
	r.alert.FirstSeen, r.alert.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	details := map[string]json.RawMessage{}
	r.details = map[string]string{}
	for k, v := range m {
		if standard[k] || strings.HasPrefix(k, "_") {
			continue
		}
		details[k] = v
		r.details[k] = strings.Trim(string(v), `"`)
	}
	js, _ := json.Marshal(details) // sorted keys
	r.detailsJS = string(js)
	return r, nil
}

// apply runs the events' life over the windows ending in (from, to]: a key
// crossing the threshold in a window opens an alert unless one is open,
// an open alert whose key does not cross it in a window is closed. It
// changes only its arguments: the ongoing events (all detections') are
// returned with d's updated.
// At most max-new-alerts are opened: the keys past it are counted in
// capped and not raised (the events already open go on).
func (s *Scheduler) apply(d *detection, rows []row, from, to time.Time, all []openAlert) (emitted []record.Alert, _ []openAlert, capped int) {
	byEnd := map[int64][]row{}
	for _, r := range rows {
		byEnd[r.WindowEnd] = append(byEnd[r.WindowEnd], r)
	}
	now := s.deps.Now().UTC().Truncate(time.Second)
	open := map[string]*openAlert{}
	var others []openAlert
	for i := range all {
		o := &all[i]
		if o.Alert.Detection == d.name {
			open[o.Key] = o
		} else {
			others = append(others, *o)
		}
	}
	opened := 0
	emit := func(a record.Alert, st record.AlertState) {
		a.State, a.Time = st, now
		emitted = append(emitted, a)
	}
	ends := []time.Time{to}
	if !d.latest {
		ends = ends[:0]
		for e := from.Add(s.cfg.Step); !e.After(to); e = e.Add(s.cfg.Step) {
			ends = append(ends, e)
		}
	}
	for _, end := range ends {
		hits := map[string]bool{}
		for _, r := range byEnd[end.Unix()] {
			hits[r.Key] = true
			if o, ok := open[r.Key]; ok {
				o.Changed = merge(&o.Alert, &r) || o.Changed
				continue
			}
			if opened >= s.cfg.MaxNewAlerts {
				capped++
				continue
			}
			opened++
			a := r.alert
			a.Detection, a.Severity = d.name, d.severity
			a.DedupKey = r.Key + " @" + strconv.FormatInt(end.Unix(), 10)
			sum := sha256.Sum256([]byte(d.name + "\x00" + a.DedupKey))
			a.ID = hex.EncodeToString(sum[:16])
			a.Details = r.detailsJS
			a.Summary = d.summary(&a, r.details)
			open[r.Key] = &openAlert{Key: r.Key, Alert: a}
			emit(a, record.AlertOpen)
		}
		for key, o := range open {
			if !hits[key] {
				if o.Changed {
					o.Alert.Summary = d.summary(&o.Alert, detailsMap(o.Alert.Details))
				}
				emit(o.Alert, record.AlertClosed)
				delete(open, key)
			}
		}
	}
	keys := make([]string, 0, len(open))
	for k := range open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := open[k]
		if o.Changed {
			o.Alert.Summary = d.summary(&o.Alert, detailsMap(o.Alert.Details))
			emit(o.Alert, record.AlertUpdated)
			o.Changed = false
		}
		others = append(others, *o)
	}
	return emitted, others, capped
}

// merge widens an open alert with a later window's evidence: the time
// span grows, the counters and details are the peak window's.
func merge(a *record.Alert, r *row) bool {
	changed := false
	if r.alert.FirstSeen.Before(a.FirstSeen) {
		a.FirstSeen, changed = r.alert.FirstSeen, true
	}
	if r.alert.LastSeen.After(a.LastSeen) {
		a.LastSeen, changed = r.alert.LastSeen, true
	}
	if r.alert.Bytes > a.Bytes || r.alert.Packets > a.Packets || r.alert.Flows > a.Flows {
		a.Bytes, a.Packets, a.Flows = max(a.Bytes, r.alert.Bytes), max(a.Packets, r.alert.Packets), max(a.Flows, r.alert.Flows)
		a.Details, changed = r.detailsJS, true
	}
	for _, f := range r.alert.ThreatFeeds {
		if !containsString(a.ThreatFeeds, f) {
			a.ThreatFeeds, changed = append(a.ThreatFeeds, f), true
		}
	}
	return changed
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func detailsMap(js string) map[string]string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal([]byte(js), &m)
	out := map[string]string{}
	for k, v := range m {
		out[k] = strings.Trim(string(v), `"`)
	}
	return out
}

// deliver stores the pending alert records and hands them to every sink.
// Each target has its own position in the queue: one that is down keeps
// its records (a few attempts per run, then again at the next run) while
// the others, and the evaluation, go on. The queue holds at most
// max-pending records; past it the oldest are dropped, counted for each
// target that had not taken them. It fails only when ctx ends or the
// state cannot be saved.
func (s *Scheduler) deliver(ctx context.Context) error {
	s.mu.Lock()
	pending := s.st.Pending
	if len(s.st.Sent) != 1+len(s.deps.Sinks) {
		s.st.Sent = make([]int, 1+len(s.deps.Sinks))
	}
	sent := slices.Clone(s.st.Sent)
	s.mu.Unlock()
	for i, from := range sent {
		if from >= len(pending) {
			continue
		}
		target, write := targetName(i), s.storeAlerts
		if i > 0 {
			write = s.deps.Sinks[i-1].WriteAlerts
		}
		batch := pending[from:]
		if err := s.retry(ctx, target, func() error { return write(ctx, batch) }); err != nil {
			if ctx.Err() != nil {
				return err
			}
			continue // this target again at the next run
		}
		s.metrics.alertsDelivered.WithLabelValues(target).Add(float64(len(batch)))
		s.mu.Lock()
		s.st.Sent[i] = len(pending)
		err := s.st.save(s.deps.StateDir)
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	done := slices.Min(s.st.Sent)
	if over := len(s.st.Pending) - done - s.cfg.MaxPending; over > 0 {
		for i := range s.st.Sent {
			if lost := done + over - s.st.Sent[i]; lost > 0 {
				s.metrics.alertsDropped.WithLabelValues(targetName(i)).Add(float64(lost))
				s.limiter.Log(s.logger, "drop-"+targetName(i), "alert queue full; dropping the oldest records not delivered",
					"target", targetName(i), "dropped", lost, "max-pending", s.cfg.MaxPending)
				s.st.Sent[i] = done + over
			}
		}
		done += over
	}
	s.st.Pending = slices.Clone(s.st.Pending[done:])
	for i := range s.st.Sent {
		s.st.Sent[i] -= done
	}
	s.metrics.pending.Set(float64(len(s.st.Pending)))
	return s.st.save(s.deps.StateDir)
}

// deliveryAttempts bounds the attempts to deliver to one target in one
// run: a target that is down does not hold the detections back.
const deliveryAttempts = 3

func (s *Scheduler) retry(ctx context.Context, target string, f func() error) error {
	wait := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		s.metrics.deliveryRetries.WithLabelValues(target).Inc()
		s.limiter.Log(s.logger, "deliver-"+target, "alert delivery failed; retrying", "target", target, "err", err, "wait", wait)
		if attempt == deliveryAttempts {
			return fmt.Errorf("detect: deliver to %s: %w", target, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("detect: deliver to %s: %w", target, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}

// storeAlerts inserts alert records into the alerts table.
func (s *Scheduler) storeAlerts(ctx context.Context, alerts []record.Alert) error {
	var b strings.Builder
	b.WriteString("INSERT INTO " + migrate.AlertsTable + " (Time, Detection, Severity, ExporterAddress, SrcAddr, DstAddr, SrcPort, DstPort, Proto, " +
		"Bytes, Packets, Flows, Details, DedupKey, AlertID, State, Summary, FirstSeen, LastSeen, ThreatFeeds) SETTINGS async_insert = 0 VALUES ")
	for i, a := range alerts {
		if i > 0 {
			b.WriteString(", ")
		}
		feeds := make([]string, len(a.ThreatFeeds))
		for j, f := range a.ThreatFeeds {
			feeds[j] = clickhouse.QuoteString(f)
		}
		fmt.Fprintf(&b, "(toDateTime(%d), %s, %d, toIPv6(%s), toIPv6(%s), toIPv6(%s), %d, %d, %d, %d, %d, %d, %s, %s, %s, %d, %s, fromUnixTimestamp64Milli(%d), fromUnixTimestamp64Milli(%d), [%s])",
			a.Time.Unix(), clickhouse.QuoteString(a.Detection), a.Severity, addrLiteral(a.ExporterAddress), addrLiteral(a.SrcAddr), addrLiteral(a.DstAddr),
			a.SrcPort, a.DstPort, a.Proto, a.Bytes, a.Packets, a.Flows, clickhouse.QuoteString(a.Details), clickhouse.QuoteString(a.DedupKey),
			clickhouse.QuoteString(a.ID), a.State, clickhouse.QuoteString(a.Summary), a.FirstSeen.UnixMilli(), a.LastSeen.UnixMilli(), strings.Join(feeds, ", "))
	}
	if err := s.deps.Store.Exec(ctx, b.String()); err != nil {
		return fmt.Errorf("store alerts: %w", err)
	}
	return nil
}

func addrLiteral(a record.Addr) string {
	return clickhouse.QuoteString(netip.AddrFrom16(a).String())
}

func (s *Scheduler) updateGauges() {
	if !s.st.Watermark.IsZero() {
		s.metrics.watermark.Set(float64(s.st.Watermark.Unix()))
	}
	s.metrics.pending.Set(float64(len(s.st.Pending)))
}
