// Package background runs a component's background work (an enrichment
// source's polling and file reloads, the embedded engine's memory purge)
// between its Start and its Stop: the work runs until it is cancelled, and
// Stop waits for it to end.
package background

import (
	"context"
)

// Work is one component's background work: it runs until ctx ends.
type Work struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Start launches run on a context of its own, which only Stop ends.
func (w *Work) Start(run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		w.err = run(ctx)
	}()
}

// Stop cancels the work and waits for it to end, and returns run's error.
// It waits past ctx: the work has nothing to hand on and ends promptly once
// cancelled, but it saves its state on the way out (the SNMP cache), which
// a process exiting under it would cut short. A Work never started stops
// at once.
func (w *Work) Stop(context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	<-w.done
	return w.err
}
