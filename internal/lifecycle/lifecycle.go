// Package lifecycle runs a role's shutdown as a LIFO stack of named
// cleanups, bounded by the role's own timeout.
//
// A role pushes a cleanup as soon as it has acquired what the cleanup
// releases (a listener, a connection, a goroutine), so a Start that fails
// half way is undone by the same Stop, and the release order is the
// reverse of the start order:
//
//	var st lifecycle.Stack
//	st.Push("spool", func(context.Context) error { return sp.Close() })
//	st.Push("inputs", in.Close)
//	...
//	err := st.Run(ctx, opts.StopTimeout) // inputs first, spool last
//
// Run ends within the timeout plus a short grace even when the caller's
// context never ends and a cleanup ignores its context.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultGrace is the Grace of a Stack that sets none.
const DefaultGrace = 500 * time.Millisecond

// Stack is a LIFO stack of named cleanups. The zero value is ready to use.
// Push and Run may be called from different goroutines.
type Stack struct {
	// Grace is how long Run still waits for the cleanups after the
	// deadline: the cleanups not run yet then still run (with an expired
	// context), so that releases that need no time (closing a file) happen.
	// Zero means DefaultGrace.
	Grace time.Duration

	once  sync.Once
	err   error
	mu    sync.Mutex
	steps []step
	ran   bool
}

type step struct {
	name string
	fn   func(context.Context) error
}

// Push adds a named cleanup; Run runs the cleanups last pushed first. A
// cleanup pushed after Run started is run at once, with an expired
// context, and its error is dropped: the stack is stopped.
func (s *Stack) Push(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	if !s.ran {
		s.steps = append(s.steps, step{name, fn})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = fn(ctx)
}

// Len is the number of cleanups waiting to run.
func (s *Stack) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps)
}

// Run runs the cleanups in LIFO order, each with a context that ends at
// the deadline: the earlier of ctx's deadline and timeout from now
// (timeout <= 0 means ctx's deadline alone). Cancelling ctx without a
// deadline does not end the cleanups early: a role stopped because its
// run context was cancelled still gets its whole timeout. Once the deadline has passed, the remaining cleanups still run,
// with that expired context, until Grace later; a cleanup still running
// then is abandoned (its goroutine is left to finish) and reported.
//
// Run returns the errors of the cleanups joined, each prefixed with the
// cleanup's name. Run is idempotent: a later or concurrent call waits for
// the first one and returns its error.
func (s *Stack) Run(ctx context.Context, timeout time.Duration) error {
	s.once.Do(func() { s.err = s.run(ctx, timeout) })
	return s.err
}

func (s *Stack) run(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	s.ran = true
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()

	// The caller's deadline bounds the run; its cancellation alone (a
	// signal) does not cut the cleanups short.
	deadline, hasDeadline := ctx.Deadline()
	ctx = context.WithoutCancel(ctx)
	if timeout > 0 {
		if d := time.Now().Add(timeout); !hasDeadline || d.Before(deadline) {
			deadline, hasDeadline = d, true
		}
	}
	var cancel context.CancelFunc
	if hasDeadline {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	grace := s.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	var hard <-chan time.Time // fires Grace after the deadline
	if hasDeadline {
		t := time.NewTimer(time.Until(deadline) + grace)
		defer t.Stop()
		hard = t.C
	}
	var errs []error
	abandoned := false
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		if abandoned {
			errs = append(errs, fmt.Errorf("%s: not run: %w", st.name, context.DeadlineExceeded))
			continue
		}
		done := make(chan error, 1)
		go func() { done <- st.fn(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", st.name, err))
			}
		case <-hard:
			abandoned = true
			errs = append(errs, fmt.Errorf("%s: still running %s after the deadline, abandoned: %w", st.name, grace, context.DeadlineExceeded))
		}
	}
	return errors.Join(errs...)
}
