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

func TestRunIsLIFOAndJoinsNamedErrors(t *testing.T) {
	var s lifecycle.Stack
	var order []string
	boom := errors.New("boom")
	for _, name := range []string{"ops", "clickhouse", "nats"} {
		s.Push(name, func(context.Context) error {
			order = append(order, name)
			if name == "clickhouse" {
				return boom
			}
			return nil
		})
	}
	err := s.Run(context.Background(), time.Second)
	if got := strings.Join(order, ","); got != "nats,clickhouse,ops" {
		t.Errorf("order %s, want nats,clickhouse,ops", got)
	}
	if !errors.Is(err, boom) || err.Error() != "clickhouse: boom" {
		t.Errorf("err = %v, want clickhouse: boom", err)
	}
	if s.Len() != 0 || s.Run(context.Background(), time.Second) != nil || len(order) != 3 {
		t.Error("a second Run ran cleanups again")
	}
}

// TestRunBoundedWhenContextNeverEnds: a cleanup that waits for its context
// ends at the stack's own timeout, one that ignores its context is
// abandoned there, and the cleanups pushed before them still run.
func TestRunBoundedWhenContextNeverEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s lifecycle.Stack
		ran := false
		release := make(chan struct{})
		defer close(release)
		s.Push("close", func(context.Context) error { ran = true; return nil })
		s.Push("hung", func(context.Context) error { <-release; return nil })
		s.Push("flush", func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > 2*time.Second {
				t.Errorf("flush's context has deadline %v (%v)", dl, ok)
			}
			<-ctx.Done()
			return ctx.Err()
		})
		began := time.Now()
		err := s.Run(context.Background(), 2*time.Second)
		took := time.Since(began)
		if took > 2*time.Second+3*lifecycle.MinStep {
			t.Errorf("Run took %v with timeout 2s", took)
		}
		if !ran {
			t.Error("the first cleanup did not run after a hung one")
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if !strings.Contains(msg, "flush: context deadline exceeded") || !strings.Contains(msg, "hung: not done") ||
			strings.Contains(msg, "close") {
			t.Errorf("err = %q", msg)
		}
	})
}

func TestRunEndsWithCallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s lifecycle.Stack
		s.Push("wait", func(ctx context.Context) error { <-ctx.Done(); return nil })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		began := time.Now()
		if err := s.Run(ctx, time.Hour); err != nil {
			t.Errorf("err = %v", err)
		}
		if took := time.Since(began); took < 300*time.Millisecond || took > 400*time.Millisecond {
			t.Errorf("Run took %v, want the caller's 300ms", took)
		}
	})
}
