package bus

import (
	"context"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// placed is a JetStream context that gives every stream and key-value
// bucket it creates or updates the role's placement (nats.placement_cluster,
// nats.placement_tags) unless the configuration has one: every stream of
// kuzet is made through a role's context, so none is left where the
// server alone chose.
type placed struct {
	jetstream.JetStream
	p jetstream.Placement
}

// Placed returns js placing what it creates by cfg, or js itself when cfg
// names no placement.
func Placed(js jetstream.JetStream, cfg config.NATS) jetstream.JetStream {
	if cfg.PlacementCluster == "" && len(cfg.PlacementTags) == 0 {
		return js
	}
	return placed{JetStream: js, p: jetstream.Placement{Cluster: cfg.PlacementCluster, Tags: slices.Clone(cfg.PlacementTags)}}
}

func (j placed) place(p *jetstream.Placement) *jetstream.Placement {
	if p != nil {
		return p
	}
	c := j.p
	c.Tags = slices.Clone(j.p.Tags)
	return &c
}

func (j placed) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.CreateStream(ctx, cfg)
}

func (j placed) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.CreateOrUpdateStream(ctx, cfg)
}

func (j placed) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.UpdateStream(ctx, cfg)
}

func (j placed) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.CreateKeyValue(ctx, cfg)
}

func (j placed) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

func (j placed) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Placement = j.place(cfg.Placement)
	return j.JetStream.UpdateKeyValue(ctx, cfg)
}
