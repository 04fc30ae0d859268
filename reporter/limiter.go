package reporter

import (
	"log/slog"
	"sync"
	"time"
)

// Limiter lets through a burst of log lines per key and then one per
// interval, and counts what it held back so the next line can say so. Keys
// are short stable strings (an error reason), never per-record values, so the
// map stays small.
type Limiter struct {
	interval time.Duration
	burst    int
	now      func() time.Time

	mu    sync.Mutex
	state map[string]*limiterState
}

type limiterState struct {
	windowStart time.Time
	allowed     int
	suppressed  uint64
}

// NewLimiter allows burst lines per key in each interval.
func NewLimiter(burst int, interval time.Duration) *Limiter {
	return &Limiter{interval: interval, burst: burst, now: time.Now, state: map[string]*limiterState{}}
}

// Allow reports whether a line for key may be logged now, and how many lines
// for that key were suppressed since the last one let through.
func (l *Limiter) Allow(key string) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.state[key]
	if s == nil {
		s = &limiterState{windowStart: now}
		l.state[key] = s
	}
	if now.Sub(s.windowStart) >= l.interval {
		s.windowStart, s.allowed = now, 0
	}
	if s.allowed >= l.burst {
		s.suppressed++
		return false, 0
	}
	s.allowed++
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// Log logs at warning level through the limiter, keyed by key, adding a
// "suppressed" attribute when earlier lines were held back.
func (l *Limiter) Log(logger *slog.Logger, key, msg string, args ...any) {
	ok, suppressed := l.Allow(key)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, slog.Uint64("suppressed", suppressed))
	}
	logger.Warn(msg, args...)
}
