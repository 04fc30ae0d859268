package component

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// recorder is a component that notes its calls in a shared log.
type recorder struct {
	name     string
	log      *[]string
	startErr error
	stopErr  error
	ready    error
	failed   chan error
	stopCtx  error // ctx.Err() of the context Stop was given
}

func (r *recorder) Start(context.Context) error {
	*r.log = append(*r.log, "start "+r.name)
	return r.startErr
}

func (r *recorder) Stop(ctx context.Context) error {
	r.stopCtx = ctx.Err()
	*r.log = append(*r.log, "stop "+r.name)
	return r.stopErr
}

func (r *recorder) Ready() error { return r.ready }

type failing struct {
	recorder
}

func (f *failing) Failed() <-chan error { return f.failed }

func TestListStartsInOrderAndStopsInReverseOnce(t *testing.T) {
	var log []string
	var l List
	for _, name := range []string{"storage", "pipeline", "collector"} {
		l.Add(name, &recorder{name: name, log: &log})
	}
	if err := l.Ready(); err == nil || err.Error() != "starting" {
		t.Fatalf("Ready before Start = %v, want starting", err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	for range 2 {
		if err := l.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := "start storage,start pipeline,start collector,stop collector,stop pipeline,stop storage"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	if err := l.Ready(); err == nil || err.Error() != "stopping" {
		t.Fatalf("Ready after Stop = %v, want stopping", err)
	}
}

func TestListStartFailureStopsWhatStarted(t *testing.T) {
	var log []string
	var l List
	storage := &recorder{name: "storage", log: &log}
	l.Add("storage", storage)
	l.Add("collector", &recorder{name: "collector", log: &log, startErr: errors.New("address in use")})
	l.Add("status", &recorder{name: "status", log: &log})
	err := l.Start(context.Background())
	if err == nil || err.Error() != "collector: address in use" {
		t.Fatalf("Start = %v, want the collector's error, named", err)
	}
	want := "start storage,start collector,stop storage"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	if storage.stopCtx == nil {
		t.Error("a deployment that never ran was stopped with a live context: it would wait to drain")
	}
}

func TestListStopStopsEveryComponentAndJoinsErrors(t *testing.T) {
	var log []string
	var l List
	l.Add("a", &recorder{name: "a", log: &log, stopErr: errors.New("first")})
	l.Add("b", &recorder{name: "b", log: &log, stopErr: errors.New("second")})
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := l.Stop(context.Background())
	if err == nil || !strings.Contains(err.Error(), "a: first") || !strings.Contains(err.Error(), "b: second") {
		t.Fatalf("Stop = %v, want both errors named", err)
	}
}

func TestListReadyNamesTheComponent(t *testing.T) {
	var log []string
	var l List
	l.Add("collector", &recorder{name: "collector", log: &log, ready: errors.New("listeners not bound")})
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Ready(); err == nil || err.Error() != "collector: listeners not bound" {
		t.Fatalf("Ready = %v", err)
	}
}

func TestListFailedNamesTheComponent(t *testing.T) {
	var log []string
	var l List
	f := &failing{recorder{name: "pipeline", log: &log, failed: make(chan error, 1)}}
	l.Add("pipeline", f)
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	failed := l.Failed()
	select {
	case err := <-failed:
		t.Fatalf("Failed yielded %v before any failure", err)
	default:
	}
	f.failed <- errors.New("storage gave up")
	select {
	case err := <-failed:
		if err.Error() != "pipeline: storage gave up" {
			t.Fatalf("Failed = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Failed did not yield the component's error")
	}
}

func TestFuncs(t *testing.T) {
	var calls []string
	f := Funcs{StopFunc: func(context.Context) error { calls = append(calls, "stop"); return nil }}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(context.Background()); err != nil || len(calls) != 1 {
		t.Fatalf("Stop = %v, calls %v", err, calls)
	}
}
