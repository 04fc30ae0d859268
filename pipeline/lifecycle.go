package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
)

// lifecycle runs a pipeline's loop on its own goroutine between Start and
// Stop, with a write context it owns: the loop keeps storing while Stop
// lets it drain, and only Stop's deadline cancels the writes.
type lifecycle struct {
	cancelWrites context.CancelFunc
	done         chan struct{} // closed once the loop has ended
	err          error         // the loop's, read once done is closed

	stopping atomic.Bool
	// failure is the error the loop ended with on its own, before Stop:
	// storage failed for good.
	failure atomic.Pointer[error]
	failed  chan error
}

func newLifecycle() lifecycle { return lifecycle{failed: make(chan error, 1)} }

// start launches run with the write context.
func (l *lifecycle) start(run func(writeCtx context.Context) error) {
	writeCtx, cancel := context.WithCancel(context.Background())
	l.cancelWrites, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.err = run(writeCtx)
		if l.err != nil && !l.stopping.Load() {
			l.failure.Store(&l.err)
			l.failed <- l.err
		}
	}()
}

// stop calls end (which makes the loop drain and return), waits for the
// loop, and, if ctx ends first, cancels the writes and waits again. It
// returns the loop's error: after a failure Failed has yielded, the same
// failure again, so that a stop racing the failure cannot hide it.
func (l *lifecycle) stop(ctx context.Context, end func()) error {
	l.stopping.Store(true)
	end()
	defer l.cancelWrites()
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancelWrites() // gives up on storage: the loop returns its error
		<-l.done
		if l.err != nil && l.failure.Load() == nil {
			return fmt.Errorf("records not stored before the deadline: %w", l.err)
		}
	}
	return l.err
}

// Failed yields, once, the error the loop ended with on its own before
// Stop (storage failed for good, the consumer group failed).
func (l *lifecycle) Failed() <-chan error { return l.failed }

// Ready returns the loop's error once it has ended on its own, else nil.
func (l *lifecycle) Ready() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}
