// Package component is the one lifecycle every sluice stage shares, and the
// list that starts a deployment's stages in order and stops them in reverse.
//
// A stage package has New(r *reporter.Reporter, cfg Config, deps
// Dependencies) (*T, error), which checks and builds but starts nothing (no
// goroutine, no socket, no connection), then Start and Stop below. cmd/sluice
// only lists components: construction order is dependency order, start
// order is list order, and stop order is its reverse, so that each stage
// stops after what feeds it and before what it feeds.
package component

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Component is a stage with a lifecycle.
type Component interface {
	// Start begins the background work. ctx bounds the start itself (a
	// listener bound, a file opened); the work then runs until Stop.
	Start(ctx context.Context) error
	// Stop ends the work and releases what Start took. It hands on what
	// the component holds while ctx allows; once ctx is done it gives up,
	// counts what it drops and returns. It is called once, and only after
	// a successful Start.
	Stop(ctx context.Context) error
}

// Readier is a component that can say whether it serves right now (the
// collector's listeners bound, inserts succeeding). Ready returns nil when
// it does, or why not.
type Readier interface {
	Ready() error
}

// Failer is a component whose work can end on its own (storage failed for
// good, say). Failed returns a channel that yields the error once, when
// that happens; the deployment then stops. Its Stop returns the same
// failure again, so that a stop that races the failure cannot hide it.
type Failer interface {
	Failed() <-chan error
}

// List is a deployment: its components in start order.
type List struct {
	items   []item
	mu      sync.Mutex
	started int // how many, from the first, were started
	stopped bool
	failed  chan failure
	done    chan struct{} // closed by Stop: ends the goroutines that watch failures
}

type item struct {
	name string
	c    Component
}

type failure struct {
	name string
	err  error
}

// Add appends a component; name prefixes its errors ("collector: …").
func (l *List) Add(name string, c Component) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, item{name, c})
	l.failed = make(chan failure, len(l.items)) // one slot each: a sender never blocks
	if l.done == nil {
		l.done = make(chan struct{})
	}
}

// Start starts every component in order. When one fails to start, those
// already started are stopped in reverse at once (with an expired context:
// a deployment that never ran has taken in nothing worth waiting for, and
// what an earlier run left, a spool say, stays for the next start), and
// the error names the one that failed.
func (l *List) Start(ctx context.Context) error {
	for i, it := range l.items {
		if err := it.c.Start(ctx); err != nil {
			err = fmt.Errorf("%s: %w", it.name, err)
			expired, cancel := context.WithCancel(context.Background())
			cancel()
			return errors.Join(err, l.Stop(expired))
		}
		l.mu.Lock()
		l.started = i + 1
		l.mu.Unlock()
		if f, ok := it.c.(Failer); ok {
			go func(name string, ch <-chan error) {
				select {
				case err, ok := <-ch:
					if ok {
						l.failed <- failure{name, err}
					}
				case <-l.done:
				}
			}(it.name, f.Failed())
		}
	}
	return nil
}

// Failed yields, once, the first component that ended on its own, with
// its error named. It never yields for a deployment that does not fail.
// Call it once, after Start.
func (l *List) Failed() <-chan error {
	out := make(chan error, 1)
	go func() {
		select {
		case f := <-l.failed:
			out <- fmt.Errorf("%s: %w", f.name, f.err)
		case <-l.done:
		}
	}()
	return out
}

// Stop stops the started components in reverse order, once; later calls
// return nil. Every component is stopped even when one fails: the errors
// are joined, each named.
func (l *List) Stop(ctx context.Context) error {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil
	}
	l.stopped = true
	started := l.started
	if l.done != nil {
		close(l.done)
	}
	l.mu.Unlock()
	var errs []error
	for i := started - 1; i >= 0; i-- {
		it := l.items[i]
		if err := it.c.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", it.name, err))
		}
	}
	return errors.Join(errs...)
}

// Ready returns nil when every started component that can tell is ready,
// or the first one's reason, named. A list not started, or stopping, is
// not ready.
func (l *List) Ready() error {
	l.mu.Lock()
	started, stopped := l.started, l.stopped
	l.mu.Unlock()
	switch {
	case stopped:
		return errors.New("stopping")
	case started < len(l.items):
		return errors.New("starting")
	}
	for _, it := range l.items {
		if r, ok := it.c.(Readier); ok {
			if err := r.Ready(); err != nil {
				return fmt.Errorf("%s: %w", it.name, err)
			}
		}
	}
	return nil
}

// Funcs makes a component of two functions, for the small pieces of a
// deployment that are not a stage of their own (the status line, say).
// A nil function does nothing.
type Funcs struct {
	StartFunc func(ctx context.Context) error
	StopFunc  func(ctx context.Context) error
}

// Start calls StartFunc.
func (f Funcs) Start(ctx context.Context) error {
	if f.StartFunc == nil {
		return nil
	}
	return f.StartFunc(ctx)
}

// Stop calls StopFunc.
func (f Funcs) Stop(ctx context.Context) error {
	if f.StopFunc == nil {
		return nil
	}
	return f.StopFunc(ctx)
}
