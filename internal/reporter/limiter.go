package reporter

import (
	"log/slog"
	"sync"
	"time"
)

// Limiter lets through a burst of log lines per key and then one per
// interval, and counts what it holds back. Keys are short stable strings (an
// error reason), never per-record values, so the map stays small.
//
// What it held back is reported twice over, never lost: the next line let
// through for the key carries the count (Allow's suppressed, Log's
// "suppressed" attribute), and when the key's interval ends with lines still
// held back, the limiter logs them itself:
//
//	level=WARN msg="repeated log lines suppressed" reason=truncated suppressed=2495 interval=10s
//
// so a burst that ends is accounted for without waiting for the next error.
// The count goes to one of the two, never both. The end-of-interval line
// needs a logger: the Reporter's for a limiter made by Reporter.NewLimiter,
// else the one the key's last Log call used. Stop reports what is held back
// at once and cancels the pending reports.
type Limiter struct {
	interval time.Duration
	burst    int
	now      func() time.Time
	// afterFunc schedules an end-of-interval report; tests replace it.
	afterFunc func(time.Duration, func()) stopper
	logger    *slog.Logger // nil: the key's last Log call's

	mu      sync.Mutex
	state   map[string]*limiterState
	stopped bool
}

// stopper is what afterFunc returns: a pending report, cancelled by Stop.
type stopper interface{ Stop() bool }

type limiterState struct {
	windowStart time.Time
	allowed     int
	suppressed  uint64
	// pending is the report scheduled for the end of the window in which
	// lines started being held back; nil when none is scheduled.
	pending stopper
	// logger and msg are the last Log call's, for the report.
	logger *slog.Logger
	msg    string
}

// NewLimiter allows burst lines per key in each interval. Its end-of-interval
// reports go to the logger of the key's last Log call; a key used only
// through Allow has none (see Reporter.NewLimiter).
func NewLimiter(burst int, interval time.Duration) *Limiter {
	return &Limiter{
		interval: interval, burst: burst, now: time.Now,
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
		state:     map[string]*limiterState{},
	}
}

// NewLimiter returns a limiter (see the package's NewLimiter) whose
// end-of-interval reports go to this reporter's logger, whatever the key.
// The component that owns it calls Stop when it stops.
func (r *Reporter) NewLimiter(burst int, interval time.Duration) *Limiter {
	l := NewLimiter(burst, interval)
	l.logger = r.Logger
	return l
}

// Allow reports whether a line for key may be logged now, and how many lines
// for that key were held back since the last one let through or reported.
// It allocates nothing, except once per interval for the report it schedules
// when it starts holding back a key's lines.
func (l *Limiter) Allow(key string) (ok bool, suppressed uint64) {
	return l.allow(key, nil, "")
}

func (l *Limiter) allow(key string, logger *slog.Logger, msg string) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.state[key]
	if s == nil {
		s = &limiterState{windowStart: now}
		l.state[key] = s
	}
	if logger != nil {
		s.logger, s.msg = logger, msg
	}
	if now.Sub(s.windowStart) >= l.interval {
		s.windowStart, s.allowed = now, 0
	}
	if s.allowed >= l.burst {
		s.suppressed++
		if s.pending == nil && !l.stopped && (l.logger != nil || s.logger != nil) {
			s.pending = l.afterFunc(s.windowStart.Add(l.interval).Sub(now), func() { l.report(key) })
		}
		return false, 0
	}
	s.allowed++
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// report logs what key's lines held back at the end of the interval in
// which they started being held back, unless a line let through since has
// already said it.
func (l *Limiter) report(key string) {
	l.mu.Lock()
	s := l.state[key]
	if l.stopped || s == nil {
		l.mu.Unlock()
		return // Stop reported it
	}
	s.pending = nil
	n := s.suppressed
	s.suppressed = 0
	logger, msg := l.reportTo(s)
	l.mu.Unlock()
	l.log(logger, key, msg, n)
}

func (l *Limiter) reportTo(s *limiterState) (*slog.Logger, string) {
	if l.logger != nil {
		return l.logger, s.msg
	}
	return s.logger, s.msg
}

func (l *Limiter) log(logger *slog.Logger, key, msg string, n uint64) {
	if n == 0 || logger == nil {
		return
	}
	args := []any{slog.String("reason", key), slog.Uint64("suppressed", n), slog.Duration("interval", l.interval)}
	if msg != "" {
		args = append(args, slog.String("line", msg))
	}
	logger.Warn("repeated log lines suppressed", args...)
}

// Stop reports at once every count still held back, cancels the pending
// reports and schedules no more: counts held back after Stop are carried by
// the next line let through only. It is safe to call more than once.
func (l *Limiter) Stop() {
	type held struct {
		key, msg string
		logger   *slog.Logger
		n        uint64
	}
	var reports []held
	l.mu.Lock()
	l.stopped = true
	for key, s := range l.state {
		if s.pending != nil {
			s.pending.Stop()
			s.pending = nil
		}
		if s.suppressed > 0 {
			logger, msg := l.reportTo(s)
			reports = append(reports, held{key, msg, logger, s.suppressed})
			s.suppressed = 0
		}
	}
	l.mu.Unlock()
	for _, r := range reports {
		l.log(r.logger, r.key, r.msg, r.n)
	}
}

// Log logs at warning level through the limiter, keyed by key, adding a
// "suppressed" attribute when earlier lines were held back.
func (l *Limiter) Log(logger *slog.Logger, key, msg string, args ...any) {
	ok, suppressed := l.allow(key, logger, msg)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, slog.Uint64("suppressed", suppressed))
	}
	logger.Warn(msg, args...)
}
