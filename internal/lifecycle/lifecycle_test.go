package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kuzet-kz/kuzet/internal/lifecycle"
)

func TestRunLIFO(t *testing.T) {
	var st lifecycle.Stack
	var order []string
	boom := errors.New("boom")
	for _, name := range []string{"ops", "spool", "inputs"} {
		st.Push(name, func(context.Context) error {
			order = append(order, name)
			if name == "spool" {
				return boom
			}
			return nil
		})
	}
	err := st.Run(context.Background(), time.Second)
	if got := strings.Join(order, ","); got != "inputs,spool,ops" {
		t.Errorf("order %s, want inputs,spool,ops", got)
	}
	if !errors.Is(err, boom) || err.Error() != "spool: boom" {
		t.Errorf("err = %v, want spool: boom", err)
	}
	if st.Len() != 0 {
		t.Errorf("Len after Run = %d", st.Len())
	}
}

// TestRunBoundedWithoutCallerDeadline: the caller's context never ends;
// a cleanup that honours its context ends at the stack's timeout, and the
// cleanups after it still run.
func TestRunBoundedWithoutCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var st lifecycle.Stack
		closed := false
		st.Push("spool", func(ctx context.Context) error {
			if ctx.Err() == nil {
				t.Error("spool: the context should have ended at the deadline")
			}
			closed = true
			return nil
		})
		st.Push("drain", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		start := time.Now()
		err := st.Run(context.Background(), 2*time.Second)
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Run took %s, want the 2s timeout", d)
		}
		if !closed {
			t.Error("the cleanup after the timed-out one did not run")
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "drain: ") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestRunAbandonsStuckCleanup: a cleanup that ignores its context is
// abandoned Grace after the deadline; Run returns and names it, and the
// cleanups after it are reported as not run.
func TestRunAbandonsStuckCleanup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		st := lifecycle.Stack{Grace: 100 * time.Millisecond}
		ran := false
		st.Push("ops", func(context.Context) error { ran = true; return nil })
		st.Push("stuck", func(context.Context) error { <-release; return nil })
		start := time.Now()
		err := st.Run(context.Background(), time.Second)
		if d := time.Since(start); d != 1100*time.Millisecond {
			t.Errorf("Run took %s, want timeout + grace = 1.1s", d)
		}
		if ran {
			t.Error("a cleanup after the abandoned one ran")
		}
		if err == nil || !strings.Contains(err.Error(), "stuck: still running") || !strings.Contains(err.Error(), "ops: not run") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRunCallerDeadlineFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var st lifecycle.Stack
		var got time.Duration
		start := time.Now()
		st.Push("a", func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			got = d.Sub(start)
			return nil
		})
		if err := st.Run(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got != time.Second {
			t.Errorf("cleanup deadline %s from start, want the caller's 1s", got)
		}
	})
}

// TestRunCallerCancelIsNoDeadline: a caller's context cancelled (SIGTERM)
// rather than timed out does not cut the shutdown short.
func TestRunCallerCancelIsNoDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var st lifecycle.Stack
	st.Push("a", func(ctx context.Context) error { return ctx.Err() })
	if err := st.Run(ctx, time.Minute); err != nil {
		t.Errorf("err = %v, want the cleanup to see a live context", err)
	}
}

func TestRunOnce(t *testing.T) {
	var st lifecycle.Stack
	n := 0
	st.Push("a", func(context.Context) error { n++; return errors.New("x") })
	first := st.Run(context.Background(), time.Second)
	second := st.Run(context.Background(), time.Second)
	if n != 1 || first == nil || second != first {
		t.Errorf("runs %d, errors %v / %v", n, first, second)
	}
	late := false
	st.Push("late", func(ctx context.Context) error {
		late = ctx.Err() != nil
		return nil
	})
	if !late {
		t.Error("a cleanup pushed after Run did not run at once with an ended context")
	}
}
