package reporter

import (
	"testing"
	"time"
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
