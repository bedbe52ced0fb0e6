package collector

import (
	"context"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/failpoint"
)

// watchSite exports the site buffer's backlog as metrics.
func (c *Collector) watchSite(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		b, err := bus.SiteState(sctx, c.js)
		cancel()
		if err != nil {
			continue
		}
		c.m.siteBytes.Set(float64(b.Bytes))
		c.m.siteMsgs.Set(float64(b.Msgs))
		age := 0.0
		if !b.Oldest.IsZero() {
			age = c.now().Sub(b.Oldest).Seconds()
		}
		c.m.siteAge.Set(age)
		// A work queue removes a message when the hub has it; messages
		// removed beyond the source consumer's ack floor were dropped by
		// the drop_oldest policy.
		if b.FirstSeq > 0 && b.FirstSeq-1 > b.AckFloor && b.FirstSeq-1-b.AckFloor > dropped {
			c.m.siteDropped.Add(float64(b.FirstSeq - 1 - b.AckFloor - dropped))
			dropped = b.FirstSeq - 1 - b.AckFloor
		}
	}
}

// publishLoop publishes sealed batches until the queue is closed and empty
// or ctx ends, and confirms each published batch in the spool.
func (c *Collector) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-c.batch.out:
			if !ok {
				return
			}
			b := p.batch
			c.m.queued.Set(float64(len(c.batch.out)))
			c.m.inFlight.Inc()
			c.inFlight.Add(1)
			start := time.Now()
			failpoint.Hit("collector-before-publish")
			dup, err := c.pub.Publish(ctx, c.subject, b)
			failpoint.Hit("collector-after-publish") // stored by JetStream, not confirmed in the spool
			c.inFlight.Add(-1)
			c.m.inFlight.Dec()
			if err != nil {
				c.log.Warn("batch not published at shutdown; it stays in the spool for the next start", "batch", b.ID, "events", len(b.Events), "err", err)
				continue
			}
			if err := c.spool.Confirm(p.start); err != nil {
				c.log.Error("spool confirm", "batch", b.ID, "err", err)
			}
			spooled, _ := c.spool.Pending()
			c.m.spooled.Set(float64(spooled))
			c.m.publishTime.Observe(time.Since(start).Seconds())
			c.m.batches.Inc()
			c.m.published.Add(float64(len(b.Events)))
			if dup {
				c.m.duplicates.Inc()
			}
		}
	}
}
