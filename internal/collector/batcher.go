package collector

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
)

// batcher packs event documents into batch envelopes bounded by count,
// bytes and linger time, and hands sealed batches to the publishers through
// a bounded queue. When the queue is full, add blocks: that is the
// collector's backpressure on its inputs.
type batcher struct {
	mu        sync.Mutex
	cur       *bus.Batch
	curBytes  int
	opened    time.Time
	maxEvents int
	maxBytes  int
	linger    time.Duration
	collector string
	oisc      string
	seq       *seqAlloc
	out       chan *bus.Batch
	now       func() time.Time
	m         *metrics
}

// add appends one event document, sealing the batch when it is full. It
// blocks while the publish queue is full, until ctx ends.
func (b *batcher) add(ctx context.Context, doc []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil && b.curBytes+len(doc) > b.maxBytes {
		if err := b.sealLocked(ctx); err != nil {
			return err
		}
	}
	if b.cur == nil {
		b.cur = &bus.Batch{Collector: b.collector, OISC: b.oisc, Events: make([]json.RawMessage, 0, b.maxEvents)}
		b.curBytes = 256
		b.opened = b.now()
	}
	b.cur.Events = append(b.cur.Events, doc)
	b.curBytes += len(doc) + 1
	if len(b.cur.Events) >= b.maxEvents {
		return b.sealLocked(ctx)
	}
	return nil
}

// full reports whether the publish queue has no room (HTTP inputs answer
// 429 then instead of blocking).
func (b *batcher) full() bool { return len(b.out) == cap(b.out) }

// tick seals the open batch if it has lingered long enough.
func (b *batcher) tick(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil && b.now().Sub(b.opened) >= b.linger {
		return b.sealLocked(ctx)
	}
	return nil
}

// flush seals the open batch, whatever its age.
func (b *batcher) flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil {
		return nil
	}
	return b.sealLocked(ctx)
}

func (b *batcher) sealLocked(ctx context.Context) error {
	seq, err := b.seq.Next()
	if err != nil {
		return err
	}
	batch := b.cur
	batch.Seq = seq
	batch.ID = bus.BatchID(b.collector, seq)
	batch.CreatedAt = b.now().UTC()
	select {
	case b.out <- batch:
		b.m.queued.Set(float64(len(b.out)))
	case <-ctx.Done():
		return ctx.Err()
	}
	b.cur = nil
	return nil
}

// run seals lingering batches until ctx ends.
func (b *batcher) run(ctx context.Context) {
	t := time.NewTicker(max(b.linger/4, 5*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = b.tick(ctx)
		}
	}
}
