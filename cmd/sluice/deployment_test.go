package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"sluice/internal/component"
	"sluice/internal/reporter"
)

// stage is a deployment component that records its calls and, when
// failing, ends on its own; its Stop then returns the failure, as the
// component.Failer contract asks.
type stage struct {
	name     string
	calls    *callLog
	startErr error
	failed   chan error
	failure  error
	live     bool // whether Stop's context still had time
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (l *callLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.calls, ",")
}

func (s *stage) Start(context.Context) error {
	s.calls.add("start " + s.name)
	return s.startErr
}

func (s *stage) Stop(ctx context.Context) error {
	s.live = ctx.Err() == nil
	s.calls.add("stop " + s.name)
	return s.failure
}

type failingStage struct{ *stage }

func (s failingStage) Failed() <-chan error { return s.failed }

func newDeployment(stages ...component.Component) *component.List {
	var d component.List
	for _, s := range stages {
		switch s := s.(type) {
		case *stage:
			d.Add(s.name, s)
		case failingStage:
			d.Add(s.name, s)
		}
	}
	return &d
}

func quietReporter() *reporter.Reporter { return reporter.New(slog.New(slog.DiscardHandler)) }

// A stop signal stops every component in reverse, each with the shutdown
// deadline's time to hand on what it holds.
func TestServeStopsInReverseWithinTheDeadline(t *testing.T) {
	calls := &callLog{}
	storage, collector := &stage{name: "storage", calls: calls}, &stage{name: "collector", calls: calls}
	ctx, stop := context.WithCancel(context.Background())
	err := serve(ctx, quietReporter(), newDeployment(storage, collector), stop, "testing")
	if err != nil {
		t.Fatalf("serve = %v", err)
	}
	if got, want := calls.String(), "start storage,start collector,stop collector,stop storage"; got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	if !storage.live || !collector.live {
		t.Error("a component was stopped with no time left to drain")
	}
}

// A component that fails on its own stops the deployment at once, and
// its failure is the error, even when the stop signal comes at the same
// moment (the Stop of a failed component returns the failure again).
func TestServeFailureStopsAtOnceAndNamesTheComponent(t *testing.T) {
	for _, signalToo := range []bool{false, true} {
		calls := &callLog{}
		gone := errors.New("storage failed for good")
		pipe := failingStage{&stage{name: "pipeline", calls: calls, failed: make(chan error, 1), failure: gone}}
		collector := &stage{name: "collector", calls: calls}
		ctx, stop := context.WithCancel(context.Background())
		err := serve(ctx, quietReporter(), newDeployment(pipe, collector), func() {
			pipe.failed <- gone
			if signalToo {
				stop()
			}
		}, "testing")
		stop()
		if err == nil || !strings.Contains(err.Error(), "pipeline: storage failed for good") {
			t.Fatalf("signal too %v: serve = %v, want the pipeline's failure named", signalToo, err)
		}
		if !signalToo && collector.live {
			t.Error("after a failure the collector waited to hand on what nothing takes any more")
		}
		if got, want := calls.String(), "start pipeline,start collector,stop collector,stop pipeline"; got != want {
			t.Fatalf("calls:\n got %s\nwant %s", got, want)
		}
	}
}

// A component that cannot start stops those before it at once, and its
// error, named, is serve's.
func TestServeStartFailure(t *testing.T) {
	calls := &callLog{}
	spool := &stage{name: "spool", calls: calls}
	collector := &stage{name: "collector", calls: calls, startErr: errors.New("address in use")}
	status := &stage{name: "status", calls: calls}
	err := serve(context.Background(), quietReporter(), newDeployment(spool, collector, status),
		func() { t.Error("running reported for a deployment that did not start") }, "testing")
	if err == nil || err.Error() != "collector: address in use" {
		t.Fatalf("serve = %v", err)
	}
	if got, want := calls.String(), "start spool,start collector,stop spool"; got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	if spool.live {
		t.Error("the spool waited to drain for a deployment that never ran")
	}
}
