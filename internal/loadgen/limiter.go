package loadgen

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket: rate tokens a second, at most burst held.
// Safe for concurrent use.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate int, now time.Time) *limiter {
	burst := max(1, float64(rate)/10) // 100 ms of traffic
	return &limiter{rate: float64(rate), burst: burst, tokens: 0, last: now}
}

// wait takes n tokens, sleeping until they are there; false when ctx
// ended first.
func (l *limiter) wait(ctx context.Context, n int) bool {
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d == 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
