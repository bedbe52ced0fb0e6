package collector

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/spool"
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
	spool     *spool.Spool
	journal   *journal
	out       chan *pending
	now       func() time.Time
	m         *metrics
}

// pending is a sealed batch waiting to be published, with its extent in
// the spool, confirmed once published.
type pending struct {
	batch *bus.Batch
	start int64
}

// add appends one event document, sealing the batch when it is full. The
// document is in the spool when add returns: the event is accepted. It
// blocks while the publish queue is full, until ctx ends.
func (b *batcher) add(ctx context.Context, doc []byte) error {
	return b.addMarked(ctx, doc, "", "")
}

// addMarked is add with a source mark written with the document (see
// spool.AppendMarked); an empty key writes none.
func (b *batcher) addMarked(ctx context.Context, doc []byte, key, value string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if key != "" {
		err = b.spool.AppendMarked(doc, key, value)
	} else {
		err = b.spool.Append(doc)
	}
	if err != nil {
		return err
	}
	b.journal.add(doc)
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
	start, _, err := b.spool.Seal(batch.ID)
	if err != nil {
		return err
	}
	if err := b.journal.flush(); err != nil {
		return err
	}
	select {
	case b.out <- &pending{batch: batch, start: start}:
		b.m.queued.Set(float64(len(b.out)))
	case <-ctx.Done():
		return ctx.Err()
	}
	b.cur = nil
	return nil
}

// requeue hands the batches recovered from the spool to the publishers, in
// log order, before any new event is accepted: a batch sealed before the
// crash keeps its id (JetStream drops it if it was stored), accepted events
// that were never sealed are sealed now under a new id.
func (b *batcher) requeue(ctx context.Context, rec []spool.Batch) (events int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range rec {
		r := &rec[i]
		batch := &bus.Batch{ID: r.ID, Collector: b.collector, OISC: b.oisc, CreatedAt: b.now().UTC()}
		if r.ID == "" {
			seq, err := b.seq.Next()
			if err != nil {
				return events, err
			}
			if err := b.spool.Reseal(r, bus.BatchID(b.collector, seq)); err != nil {
				return events, err
			}
			batch.ID, batch.Seq = r.ID, seq
		}
		for _, d := range r.Docs {
			batch.Events = append(batch.Events, d)
			b.journal.add(d)
		}
		if err := b.journal.flush(); err != nil {
			return events, err
		}
		events += len(r.Docs)
		select {
		case b.out <- &pending{batch: batch, start: r.Start}:
		case <-ctx.Done():
			return events, ctx.Err()
		}
	}
	return events, nil
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
