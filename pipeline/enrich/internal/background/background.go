// Package background runs an enrichment source's background work (polling,
// file reloads) between its Start and its Stop: the work runs until it is
// cancelled, and Stop waits for it to end.
package background

import (
	"context"
	"fmt"
)

// Work is one source's background work: it runs until ctx ends.
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

// Stop cancels the work and waits for it to end, or for ctx to, and
// returns run's error. A Work never started stops at once.
func (w *Work) Stop(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return fmt.Errorf("background work did not end before the deadline: %w", ctx.Err())
	}
}
