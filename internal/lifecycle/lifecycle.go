// Package lifecycle holds what a role needs to stop in order: a stack of
// named cleanups run last-pushed first within a bound of the role's own.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// MinStep is how long Run still waits for each cleanup once the whole
// bound has passed, so that quick ones (closing a connection) run and
// report instead of being abandoned.
const MinStep = 100 * time.Millisecond

// Stack is a LIFO of named cleanups. Push them as the resources they
// release are acquired; Run releases them in reverse. Safe for concurrent
// use.
type Stack struct {
	mu    sync.Mutex
	steps []step
}

type step struct {
	name string
	fn   func(ctx context.Context) error
}

// Push adds a cleanup, run before every cleanup pushed earlier.
func (s *Stack) Push(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step{name, fn})
}

// Len is the number of cleanups not yet run.
func (s *Stack) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps)
}

// Run runs the cleanups pushed so far, last first, and empties the stack.
// Each gets a context that ends at the earlier of ctx's end and timeout
// from now: Run returns within about timeout (plus MinStep for each
// cleanup left once it has passed, and a few milliseconds of grace each) even when ctx never ends. A cleanup
// still running when its deadline passes is left to finish on its own and
// reported as timed out; the next one runs. The errors are joined, each
// prefixed with its cleanup's name.
func (s *Stack) Run(ctx context.Context, timeout time.Duration) error {
	s.mu.Lock()
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		dl := deadline
		if ctx.Err() != nil || time.Until(dl) < MinStep {
			dl = time.Now().Add(MinStep)
		}
		sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
		stop := context.AfterFunc(ctx, cancel)
		if ctx.Err() != nil {
			stop() // ended already: the step has its MinStep
		}
		if err := runStep(sctx, st); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.name, err))
		}
		stop()
		cancel()
	}
	return errors.Join(errs...)
}

// grace is how long runStep still waits, past its context's end, for a
// cleanup that returns when its context ends.
const grace = 20 * time.Millisecond

// runStep runs st.fn, returning its error or, when it has not returned
// shortly after ctx ends, ctx's.
func runStep(ctx context.Context, st step) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- st.fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("not done: %w", context.Cause(ctx))
	}
}
