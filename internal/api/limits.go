package api

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// limiter enforces the per-key request rate (a token bucket per key) and the
// query concurrency: at most perKey queries of one key and global queries in
// total run at once; others wait, at most maxQueued of them, for up to
// queueTimeout. Safe for concurrent use.
type limiter struct {
	now          func() time.Time
	rate, burst  float64
	perKey       int
	global       chan struct{}
	maxQueued    int
	queueTimeout time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	slots   map[string]chan struct{}
	queued  int
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Errors of acquire.
var (
	errQueueFull    = errors.New("too many queries waiting")
	errQueueTimeout = errors.New("waited too long for a query slot")
)

func newLimiter(l config.APILimits, now func() time.Time) *limiter {
	return &limiter{
		now: now, rate: l.RatePerKey, burst: float64(l.BurstPerKey), perKey: l.MaxConcurrentQueriesPerKey,
		global: make(chan struct{}, l.MaxConcurrentQueries), maxQueued: l.MaxQueuedQueries, queueTimeout: l.QueueTimeout,
		buckets: map[string]*bucket{}, slots: map[string]chan struct{}{},
	}
}

// allow takes a token of key's bucket; when there is none it returns false
// and how long until there is one.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// acquire waits for a query slot of key and a global one; release returns
// both. It fails with errQueueFull when maxQueued queries already wait, and
// with errQueueTimeout after queueTimeout.
func (l *limiter) acquire(ctx context.Context, key string) (release func(), waited bool, err error) {
	l.mu.Lock()
	mine := l.slots[key]
	if mine == nil {
		mine = make(chan struct{}, l.perKey)
		l.slots[key] = mine
	}
	// Fast path: both slots free, no waiting.
	select {
	case mine <- struct{}{}:
		select {
		case l.global <- struct{}{}:
			l.mu.Unlock()
			return l.releaser(mine), false, nil
		default:
			<-mine
		}
	default:
	}
	if l.queued >= l.maxQueued {
		l.mu.Unlock()
		return nil, false, errQueueFull
	}
	l.queued++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.queued--
		l.mu.Unlock()
	}()
	timer := time.NewTimer(l.queueTimeout)
	defer timer.Stop()
	select {
	case mine <- struct{}{}:
	case <-timer.C:
		return nil, true, errQueueTimeout
	case <-ctx.Done():
		return nil, true, ctx.Err()
	}
	select {
	case l.global <- struct{}{}:
	case <-timer.C:
		<-mine
		return nil, true, errQueueTimeout
	case <-ctx.Done():
		<-mine
		return nil, true, ctx.Err()
	}
	return l.releaser(mine), true, nil
}

func (l *limiter) releaser(mine chan struct{}) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.global
			<-mine
		})
	}
}

// waiting returns the number of queries waiting for a slot.
func (l *limiter) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queued
}
