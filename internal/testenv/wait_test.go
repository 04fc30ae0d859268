package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message instead
// of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
}

func TestEventually(t *testing.T) {
	calls := 0
	Eventually(t, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}

	r := &fatalRecorder{TB: t}
	Eventually(r, 20*time.Millisecond, "what never happens", func() bool { return false })
	if want := "waited 20ms for what never happens"; r.msg != want {
		t.Errorf("failure %q, want %q", r.msg, want)
	}

	r = &fatalRecorder{TB: t}
	n := 0
	EventuallyState(r, 20*time.Millisecond, "n to reach -1", func() (bool, string) { n++; return false, fmt.Sprintf("n=%d", n) })
	if !strings.HasPrefix(r.msg, "waited 20ms for n to reach -1; last: n=") || !strings.HasSuffix(r.msg, fmt.Sprintf("n=%d", n)) {
		t.Errorf("failure %q does not end with the last state n=%d", r.msg, n)
	}

	r = &fatalRecorder{TB: t}
	v := 0.0
	EventuallyAtLeast(r, 10*time.Second, "v", func() float64 { v++; return v }, 3)
	if r.msg != "" || v != 3 {
		t.Errorf("EventuallyAtLeast stopped at %v (%q), want 3", v, r.msg)
	}
	EventuallyAtLeast(r, 20*time.Millisecond, "the counter", func() float64 { return 2 }, 3)
	if want := "waited 20ms for the counter: 2, want 3"; r.msg != want {
		t.Errorf("failure %q, want %q", r.msg, want)
	}

	if Poll(0, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
	if !Poll(0, func() bool { return true }) {
		t.Error("Poll did not report a condition that held at once")
	}
}
