package reporter

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/testenv"
)

func TestLimiterBurstThenWindow(t *testing.T) {
	l := NewLimiter(2, time.Second)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }

	for i, want := range []bool{true, true, false, false} {
		if ok, _ := l.Allow("truncated"); ok != want {
			t.Fatalf("call %d: allowed=%v, want %v", i, ok, want)
		}
	}
	if ok, _ := l.Allow("garbage"); !ok {
		t.Fatal("a different key must have its own budget")
	}
	now = now.Add(time.Second)
	ok, suppressed := l.Allow("truncated")
	if !ok || suppressed != 2 {
		t.Fatalf("after the window: allowed=%v suppressed=%d, want true 2", ok, suppressed)
	}
}

// logBuffer collects a text handler's lines; reports come from timer goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newLogBuffer() (*logBuffer, *slog.Logger) {
	b := &logBuffer{}
	h := slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	return b, slog.New(h)
}

// fakeTimers records the reports a limiter schedules; the test fires them.
type fakeTimers struct {
	scheduled []*fakeTimer
}

type fakeTimer struct {
	after   time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (ft *fakeTimers) afterFunc(d time.Duration, f func()) stopper {
	t := &fakeTimer{after: d, f: f}
	ft.scheduled = append(ft.scheduled, t)
	return t
}

// fakeLimiter is a limiter on a fake clock and fake timers, reporting to a buffer.
func fakeLimiter(burst int, interval time.Duration) (*Limiter, *logBuffer, *time.Time, *fakeTimers) {
	buf, logger := newLogBuffer()
	l := New(logger).Sub("collector").NewLimiter(burst, interval)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	timers := &fakeTimers{}
	l.afterFunc = timers.afterFunc
	return l, buf, &now, timers
}

// A burst that ends is reported when its interval ends, with the exact count
// held back, although no later error comes; the count is not repeated by the
// next line let through.
func TestLimiterReportsSuppressedWhenBurstEnds(t *testing.T) {
	l, buf, now, timers := fakeLimiter(5, 10*time.Second)
	allowed := 0
	for i := range 2500 {
		*now = now.Add(time.Millisecond) // the burst lasts 2.5 s
		if ok, _ := l.Allow("truncated"); ok {
			allowed++
		}
		if i == 5 && len(timers.scheduled) != 1 {
			t.Fatalf("the first line held back scheduled %d reports, want 1", len(timers.scheduled))
		}
	}
	if allowed != 5 {
		t.Fatalf("%d lines let through, want 5", allowed)
	}
	if len(timers.scheduled) != 1 {
		t.Fatalf("%d reports scheduled, want 1", len(timers.scheduled))
	}
	// The window opened at 1000.001 s; the first line was held back at 1000.006 s.
	if got, want := timers.scheduled[0].after, 10*time.Second-5*time.Millisecond; got != want {
		t.Errorf("report scheduled after %s, want at the window's end, %s", got, want)
	}
	if buf.String() != "" {
		t.Fatalf("logged before the window ended: %s", buf)
	}
	timers.scheduled[0].f()
	const want = `level=WARN msg="repeated log lines suppressed" module=collector reason=truncated suppressed=2495 interval=10s` + "\n"
	if got := buf.String(); got != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
	*now = now.Add(10 * time.Second)
	if ok, suppressed := l.Allow("truncated"); !ok || suppressed != 0 {
		t.Fatalf("next line: allowed=%v suppressed=%d, want true 0 (the report said it)", ok, suppressed)
	}
	if len(timers.scheduled) != 1 {
		t.Fatalf("%d reports scheduled with nothing held back, want 1", len(timers.scheduled))
	}
}

// A line let through before the report carries the count; the report then
// has nothing to say.
func TestLimiterNextLineCarriesCountFirst(t *testing.T) {
	l, buf, now, timers := fakeLimiter(1, time.Second)
	l.Allow("x")
	l.Allow("x")
	l.Allow("x")
	*now = now.Add(time.Second)
	if ok, suppressed := l.Allow("x"); !ok || suppressed != 2 {
		t.Fatalf("allowed=%v suppressed=%d, want true 2", ok, suppressed)
	}
	timers.scheduled[0].f()
	if buf.String() != "" {
		t.Fatalf("reported a count the next line already carried: %s", buf)
	}
}

// A limiter made without a reporter reports to the logger of the key's last
// Log call, naming the line it held back; a key used only through Allow has
// no logger and schedules nothing.
func TestLimiterLogReportsToItsLogger(t *testing.T) {
	buf, logger := newLogBuffer()
	l := NewLimiter(2, time.Minute)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	timers := &fakeTimers{}
	l.afterFunc = timers.afterFunc
	for range 3 {
		l.Allow("allow-only")
	}
	if len(timers.scheduled) != 0 {
		t.Fatalf("scheduled a report with no logger to give it to")
	}
	for range 7 {
		l.Log(logger, "fetch", "fetch failed; retrying", "partition", 3)
	}
	if len(timers.scheduled) != 1 {
		t.Fatalf("%d reports scheduled, want 1", len(timers.scheduled))
	}
	timers.scheduled[0].f()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="fetch failed; retrying" partition=3`,
		`level=WARN msg="fetch failed; retrying" partition=3`,
		`level=WARN msg="repeated log lines suppressed" reason=fetch suppressed=5 interval=1m0s line="fetch failed; retrying"`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log:\n%s\nwant:\n%s", buf, strings.Join(want, "\n"))
	}
}

// Stop reports what is held back at once and cancels the pending reports; a
// report firing after Stop says nothing more.
func TestLimiterStopReportsAndCancels(t *testing.T) {
	l, buf, _, timers := fakeLimiter(1, time.Minute)
	for range 4 {
		l.Allow("a")
	}
	for range 3 {
		l.Allow("b")
	}
	l.Stop()
	if !timers.scheduled[0].stopped || !timers.scheduled[1].stopped {
		t.Fatal("Stop left a report scheduled")
	}
	got := buf.String()
	for _, want := range []string{"reason=a suppressed=3 ", "reason=b suppressed=2 "} {
		if strings.Count(got, want) != 1 {
			t.Errorf("log after Stop lacks %q once:\n%s", want, got)
		}
	}
	for _, tm := range timers.scheduled {
		tm.f() // a timer that fired as Stop ran
	}
	l.Stop()
	if buf.String() != got {
		t.Fatalf("reported again after Stop:\n%s", buf)
	}
	l.Allow("a")
	if len(timers.scheduled) != 2 {
		t.Fatal("scheduled a report after Stop")
	}
}

// Whatever the pattern of calls and reports, every call is either let
// through, counted in a later line's suppressed, or counted in a report.
func TestLimiterAccountsForEveryCall(t *testing.T) {
	l, buf, now, timers := fakeLimiter(3, time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"truncated", "malformed", "unknown_version"}
	calls := map[string]uint64{}
	accounted := map[string]uint64{}
	fired := 0
	for range 20000 {
		*now = now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		key := keys[rng.IntN(len(keys))]
		calls[key]++
		if ok, suppressed := l.Allow(key); ok {
			accounted[key] += 1 + suppressed
		}
		if rng.IntN(50) == 0 && fired < len(timers.scheduled) { // reports fire in order, late or early
			timers.scheduled[fired].f()
			fired++
		}
	}
	l.Stop()
	for _, m := range regexp.MustCompile(`reason=(\S+) suppressed=(\d+)`).FindAllStringSubmatch(buf.String(), -1) {
		n, _ := strconv.ParseUint(m[2], 10, 64)
		accounted[m[1]] += n
	}
	for _, k := range keys {
		if accounted[k] != calls[k] {
			t.Errorf("%s: %d calls, %d accounted for (let through, carried or reported)", k, calls[k], accounted[k])
		}
	}
}

// With the real clock, the report comes by itself after the interval.
func TestLimiterReportsOnItsOwn(t *testing.T) {
	buf, logger := newLogBuffer()
	l := New(logger).NewLimiter(5, 50*time.Millisecond)
	defer l.Stop()
	for range 2500 {
		l.Allow("truncated")
	}
	testenv.Poll(30*time.Second, func() bool { return strings.Contains(buf.String(), "suppressed") })
	// A slow machine may cross a window in the loop: add what every report said.
	var total uint64
	for _, m := range regexp.MustCompile(`suppressed=(\d+)`).FindAllStringSubmatch(buf.String(), -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		total += n
	}
	if total == 0 {
		t.Fatalf("no report 30 s after a burst with a 50 ms interval:\n%s", buf)
	}
	if total > 2495 {
		t.Fatalf("reported %d held back of 2500 calls with a burst of 5:\n%s", total, buf)
	}
}

// Holding a line back allocates nothing (beyond the one report per interval).
func TestLimiterAllowAllocatesNothing(t *testing.T) {
	l, _, _, _ := fakeLimiter(1, time.Hour)
	l.Allow("k")
	l.Allow("k") // schedules the report
	if n := testing.AllocsPerRun(1000, func() { l.Allow("k") }); n != 0 {
		t.Fatalf("Allow: %v allocations, want 0", n)
	}
}

func ExampleLimiter() {
	buf, logger := newLogBuffer()
	l := New(logger).NewLimiter(1, time.Second)
	for range 3 {
		if ok, suppressed := l.Allow("truncated"); ok {
			logger.Warn("cannot decode datagram", "reason", "truncated", "suppressed", suppressed)
		}
	}
	l.Stop() // or wait a second
	fmt.Print(buf)
	// Output:
	// level=WARN msg="cannot decode datagram" reason=truncated suppressed=0
	// level=WARN msg="repeated log lines suppressed" reason=truncated suppressed=2 interval=1s
}
