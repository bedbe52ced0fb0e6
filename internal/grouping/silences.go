package grouping

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
)

// silenceGrace is how long a partition keeps a silence after it ended: an
// older version of it reaching the partition later (two API instances
// publishing at once) then finds the expired one and cannot revive it.
const silenceGrace = time.Hour

// applySilence applies a silence control message (see bus.PublishSilence)
// to the partition's Grouper at the message's point of the stream. Of two
// versions of one silence the one that ends first stays: a silence only
// changes by being expired, which brings its end forward, so the versions
// may arrive in either order.
func (p *processor) applySilence(m bus.StageMsg) {
	s, err := bus.DecodeSilence(m.Data)
	if err != nil {
		p.s.log.Warn("silence message not decoded; skipped", "seq", m.Seq, "err", err)
		return
	}
	ss := p.g.Silences()
	ss.Expire(m.Time.Add(-silenceGrace))
	if old, ok := ss.Get(s.ID); ok && !old.EndsAt.After(s.EndsAt) {
		return
	}
	if err := ss.Set(s); err != nil {
		p.s.log.Warn("silence not valid; skipped", "seq", m.Seq, "silence", s.ID, "err", err)
		return
	}
	p.s.log.Info("silence applied", "partition", p.part, "silence", s.ID, "ends_at", s.EndsAt, "active", s.Active(m.Time))
}

// recordPartitions writes the stage's partition count to the silences
// bucket, where the API reads it to publish a silence change to every
// partition (bus.PublishSilence).
func recordPartitions(ctx context.Context, js jetstream.JetStream, o Options) error {
	kv, err := bus.OpenSilences(ctx, js, o.Replicas)
	if err != nil {
		return err
	}
	return kv.SetPartitions(ctx, o.Partitions)
}
