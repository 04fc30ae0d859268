package kafka

import (
	"strconv"
	"testing"
	"time"

	"sluice/pipeline/siem"
)

func testEvents(n int) []siem.Event {
	events := make([]siem.Event, n)
	for i := range events {
		kind := siem.KindFlow
		if i%7 == 0 {
			kind = siem.KindAlert
		}
		events[i] = siem.Event{Kind: kind, ID: "0123456789ab-42-" + strconv.Itoa(i), Time: time.Unix(1700000000, 0),
			Body: []byte(`{"event":{"id":"` + strconv.Itoa(i) + `"}}`)}
	}
	return events
}

// TestBuildMessages: keys, values and headers are the events', and
// building allocates nothing per event once the buffers have grown.
func TestBuildMessages(t *testing.T) {
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	events := testEvents(1000)
	tr.buildMessages(events)
	for i, m := range tr.msgs {
		if string(m.Key) != events[i].ID || string(m.Value) != string(events[i].Body) ||
			len(m.Headers) != 1 || string(m.Headers[0].Value) != events[i].Kind.String() {
			t.Fatalf("message %d: key %q value %q headers %v; event %+v", i, m.Key, m.Value, m.Headers, events[i])
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { tr.buildMessages(events) }); allocs != 0 {
		t.Errorf("%v allocations per build of 1000 messages, want 0", allocs)
	}
}

func BenchmarkBuildMessages(b *testing.B) {
	tr, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	events := testEvents(1000)
	b.ReportAllocs()
	for b.Loop() {
		tr.buildMessages(events)
	}
}
