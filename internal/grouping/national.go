package grouping

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/stage"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// NationalGroup is the national stage's name: its stream is
// KUZET_NATIONAL, partitioned by entity value.
const NationalGroup = "national"

// The national stage: every local incident written publishes its
// entities (incident.LocalRef) to the partition of each entity value
// (incident.EntityPartition); the owner of a partition counts, per value
// and window, the organisations and sectors whose incidents carry it, and
// opens a national incident (origin ncc_detected) that links them, visible
// to NCC roles only.

// nationalPartitions returns the distinct partitions of a local
// incident's linking entity values.
func (s *Stage) nationalPartitions(in incident.Incident) []int {
	fields := s.opts.Config.National.Link.Fields
	if len(fields) == 0 {
		fields = []string{"source.ip", "user.name", "host.name"}
	}
	var parts []int
	for _, f := range fields {
		for _, v := range in.Entities[f] {
			p := incident.EntityPartition(f, v, s.opts.Partitions)
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
	}
	return parts
}

// publishLocal hands a written local incident to the national stage.
func (s *Stage) publishLocal(ctx context.Context, in incident.Incident) error {
	if s.national == nil || in.National {
		return nil
	}
	data, err := json.Marshal(in.Ref())
	if err != nil {
		return err
	}
	for _, p := range s.nationalPartitions(in) {
		id := fmt.Sprintf("%s/%d", in.ID, in.Version)
		if _, err := bus.PublishStage(ctx, s.js, NationalGroup, p, id, nil, data); err != nil {
			return err
		}
	}
	return nil
}

type nationalProcessor struct {
	s    *Stage
	part int
	n    *incident.National
}

func (s *Stage) newNational(part int) stage.Processor { return &nationalProcessor{s: s, part: part} }

func (p *nationalProcessor) Restore(state []byte) error {
	n, err := incident.NewNational(p.s.opts.Config.NationalOptions(p.part, p.s.opts.Partitions, p.s.m.count))
	if err != nil {
		return err
	}
	if state != nil {
		if err := n.Restore(state); err != nil {
			return err
		}
	}
	p.n = n
	return nil
}

func (p *nationalProcessor) Snapshot() ([]byte, error) { return p.n.Snapshot() }

func (p *nationalProcessor) Process(ctx context.Context, msgs []bus.StageMsg) error {
	for _, m := range msgs {
		var ref incident.LocalRef
		if err := json.Unmarshal(m.Data, &ref); err != nil {
			p.s.log.Warn("national stage input not decoded; skipped", "seq", m.Seq, "err", err)
			continue
		}
		for _, u := range p.n.Observe(ref, m.Time) {
			if err := p.s.persistNational(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *nationalProcessor) Tick(_ context.Context, now time.Time) error {
	p.n.Tick(now)
	return nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// persistNational writes a national incident opened or given new links:
// analysts' fields stay as stored, links, organisations and sectors only
// grow.
func (s *Stage) persistNational(ctx context.Context, u incident.NationalUpdate) error {
	_, err := s.write(ctx, u.Incident.ID, u.At, func(stored *incident.Incident, _ uint64) (incident.Incident, []store.IncidentLogEntry) {
		if stored == nil {
			return u.Incident.Clone(), []store.IncidentLogEntry{{ID: entryID(u.Incident.ID, "open", u.At),
				IncidentID: u.Incident.ID, At: u.At, Actor: "system:national", Action: "open", Outcome: "applied"}}
		}
		next := stored.Clone()
		next.Linked = union(stored.Linked, append(slices.Clone(u.Incident.Linked), u.NewLinks...))
		next.Orgs = union(stored.Orgs, u.Incident.Orgs)
		next.Sectors = union(stored.Sectors, u.Incident.Sectors)
		next.Criticality = max(stored.Criticality, u.Incident.Criticality)
		next.Severity = incident.SeverityOf(next.Criticality)
		next.LastActivityAt = u.Incident.LastActivityAt
		// The stage's own title counts organisations and sectors: it
		// follows them unless an analyst gave another.
		if auto, _, ok := strings.Cut(stored.Title, " seen at "); ok && strings.HasPrefix(u.Incident.Title, auto+" seen at ") {
			next.Title = u.Incident.Title
		}
		return next, nil
	})
	return err
}
