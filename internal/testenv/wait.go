package testenv

import (
	"testing"
	"time"
)

// The poll interval starts short, so that a condition that holds soon is
// seen soon, and backs off to maxPoll, so that an expensive condition (a
// query against a store, a scrape of a process's metrics) is not run in a
// tight loop.
const (
	firstPoll = time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// Poll calls cond until it holds or timeout passes, and reports whether it
// held. It is for a test that asserts afterwards, with a message of its
// own; Eventually fails the test itself.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for wait := firstPoll; ; wait = min(2*wait, maxPoll) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}

// Eventually waits until cond holds, and fails the test, naming what it
// waited for and for how long, once timeout passes. It waits for something
// to happen; to show that nothing more happens, force the component's tick
// or flush and assert a counter instead of waiting.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Poll(timeout, cond) {
		tb.Fatalf("waited %s for %s", timeout, what)
	}
}

// EventuallyState is Eventually for a condition that can say where it
// stands: the failure message carries the state cond described last (the
// value seen, say).
func EventuallyState(tb testing.TB, timeout time.Duration, what string, cond func() (ok bool, state string)) {
	tb.Helper()
	var state string
	if !Poll(timeout, func() (ok bool) { ok, state = cond(); return ok }) {
		tb.Fatalf("waited %s for %s; last: %s", timeout, what, state)
	}
}

// EventuallyAtLeast waits until get, a counter say, reaches want; past
// timeout it fails with the last value seen.
func EventuallyAtLeast(tb testing.TB, timeout time.Duration, what string, get func() float64, want float64) {
	tb.Helper()
	var got float64
	if !Poll(timeout, func() bool { got = get(); return got >= want }) {
		tb.Fatalf("waited %s for %s: %v, want %v", timeout, what, got, want)
	}
}
