package incident

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// LinkOptions configure entity linking (local and national).
type LinkOptions struct {
	// Fields are the entity fields that link incidents. Default:
	// source.ip, user.name, host.name.
	Fields []string `json:"fields" yaml:"fields"`
	// StopValues never link, in any field (compared case-insensitively):
	// loopback, "-", a NAT address, a shared service account.
	StopValues []string `json:"stop_values" yaml:"stop_values"`
	// MaxCardinality: a value carried by more distinct group keys than
	// this stops linking (a DNS server, a domain controller). Default 20.
	MaxCardinality int `json:"max_cardinality" yaml:"max_cardinality"`
	// Disabled turns local linking off.
	Disabled bool `json:"disabled,omitempty" yaml:"disabled"`
	stop     map[string]bool
}

// DefaultStopValues are values that never identify an attacker.
var DefaultStopValues = []string{"", "-", "127.0.0.1", "::1", "0.0.0.0", "localhost", "unknown", "n/a", "system", "root", "administrator"}

func (o *LinkOptions) setDefaults() {
	if o.Fields == nil {
		o.Fields = []string{"source.ip", "user.name", "host.name"}
	}
	if o.StopValues == nil {
		o.StopValues = DefaultStopValues
	}
	if o.MaxCardinality == 0 {
		o.MaxCardinality = 20
	}
	o.stop = map[string]bool{}
	for _, v := range o.StopValues {
		o.stop[strings.ToLower(v)] = true
	}
}

// Validate checks the options; errors name the field under path.
func (o *LinkOptions) Validate(path string) error {
	var errs []error
	if o.MaxCardinality < 2 {
		errs = append(errs, fmt.Errorf("%s.max_cardinality: must be at least 2", path))
	}
	for i, f := range o.Fields {
		if f == "" {
			errs = append(errs, fmt.Errorf("%s.fields[%d]: empty", path, i))
		}
	}
	return errors.Join(errs...)
}

func (o *LinkOptions) stops(v string) bool { return o.stop[strings.ToLower(v)] }

// entity is the index entry of one (org, field, value).
type entity struct {
	// Keys are the distinct group keys that carried the value, up to
	// MaxCardinality+1; then Saturated and Keys dropped.
	Keys      []string `json:"keys,omitempty"`
	Saturated bool     `json:"saturated,omitempty"`
	// Incidents are the open incidents carrying the value.
	Incidents []string `json:"incidents,omitempty"`
}

func entityKey(org, field, value string) string { return org + "\x00" + field + "\x00" + value }

// link indexes a's entity values for l (reached through group gid) and
// merges the open incidents sharing one; it returns the id of the
// incident the alert ends in.
func (g *Grouper) link(l *live, gid string, a *Alert, now time.Time) string {
	o := &g.opts.Link
	if o.Disabled {
		return l.Inc.ID
	}
	for _, f := range o.Fields {
		v := a.Entities[f]
		if _, kept := slices.BinarySearch(l.Inc.Entities[f], v); v == "" || !kept {
			continue // none, or past max_entity_values: not indexed, so it can be unindexed
		}
		if o.stops(v) {
			g.count.inc(MetricLink, "stop_value")
			continue
		}
		k := entityKey(a.Org, f, v)
		e := g.index[k]
		if e == nil {
			e = &entity{}
			g.index[k] = e
			g.bytes += int64(len(k)) + 64
		}
		if e.Saturated {
			g.count.inc(MetricLink, "cardinality")
			continue
		}
		if !slices.Contains(e.Keys, gid) {
			e.Keys = append(e.Keys, gid)
			g.bytes += int64(len(gid)) + 16
			if len(e.Keys) > o.MaxCardinality {
				// Too common to say anything: stop linking on it.
				for _, x := range e.Keys {
					g.bytes -= int64(len(x)) + 16
				}
				e.Saturated, e.Keys = true, nil
				g.count.inc(MetricLink, "cardinality")
				continue
			}
		}
		e.Incidents = unionAdd(e.Incidents, l.Inc.ID)
		if len(e.Incidents) > 1 {
			l = g.mergeAll(e.Incidents, now)
		}
	}
	return l.Inc.ID
}

// mergeAll merges the incidents ids into the earliest opened (by opening
// order, not by clock) and returns it.
func (g *Grouper) mergeAll(ids []string, now time.Time) *live {
	ls := make([]*live, 0, len(ids))
	for _, id := range ids {
		if l := g.live[id]; l != nil && l.Into == "" {
			ls = append(ls, l)
		}
	}
	slices.SortFunc(ls, func(a, b *live) int {
		return cmp.Compare(a.Inc.OpenSeq, b.Inc.OpenSeq)
	})
	s := ls[0]
	for _, l := range ls[1:] {
		g.merge(s, l, now)
	}
	return s
}

// merge moves loser's alerts, entities and groups to survivor; an
// emitted loser is reported once more as merged (a system transition to
// closed, resolution duplicate), an unreported one just disappears.
func (g *Grouper) merge(s, l *live, now time.Time) {
	g.count.inc(MetricLink, "merged")
	g.unindex(l)
	si, li := &s.Inc, &l.Inc
	si.AlertCount += li.AlertCount
	wasIdle := len(s.Pending) == 0
	s.Pending = append(s.Pending, l.Pending...)
	for _, v := range li.RuleIDs {
		si.RuleIDs = unionAdd(si.RuleIDs, v)
	}
	for _, v := range li.ObjectIDs {
		si.ObjectIDs = unionAdd(si.ObjectIDs, v)
	}
	for _, v := range li.Sectors {
		si.Sectors = unionAdd(si.Sectors, v)
	}
	for _, v := range li.GroupKeys {
		si.GroupKeys = unionAdd(si.GroupKeys, v)
		if gr := g.groups[v]; gr != nil && gr.Incident == li.ID {
			gr.Incident = si.ID
		}
	}
	if l.Emitted {
		si.Merged = unionAdd(si.Merged, li.ID)
	}
	for _, v := range li.Merged {
		si.Merged = unionAdd(si.Merged, v)
	}
	for _, f := range sortedKeys(li.Entities) {
		if si.Entities == nil {
			si.Entities = map[string][]string{}
		}
		for _, v := range li.Entities[f] {
			if len(si.Entities[f]) < g.opts.MaxEntityValues {
				si.Entities[f] = unionAdd(si.Entities[f], v)
			}
		}
	}
	si.FirstActivityAt = earliestOf(si.FirstActivityAt, li.FirstActivityAt)
	si.LastActivityAt = latestOf(si.LastActivityAt, li.LastActivityAt)
	si.DetectedAt = earliestOf(si.DetectedAt, li.DetectedAt)
	si.Criticality = max(si.Criticality, li.Criticality)
	si.Severity = SeverityOf(si.Criticality)
	if si.RSITClass == RSITUndeterminedClass && si.RSITType == RSITUndeterminedType {
		si.RSITClass, si.RSITType = li.RSITClass, li.RSITType
	}
	g.bytes -= s.size
	s.size = s.recompute()
	g.bytes += s.size
	g.reindex(s)
	if s.Emitted && wasIdle && len(s.Pending) > 0 {
		gi := s.route.GroupInterval
		k := (now.Sub(s.LastAt) + gi - 1) / gi
		s.FlushAt = s.LastAt.Add(max(k, 1) * gi)
		g.schedule(s)
	}
	g.boundPending(s, now)
	if !l.Emitted {
		g.drop(l)
		return
	}
	l.Into, l.Pending = si.ID, nil
	li.Status, li.Resolution, li.DuplicateOf, li.ClosedAt = StatusClosed, ResolutionDuplicate, si.ID, now.UTC()
	l.FlushAt = now
	g.schedule(l)
}

// unindex removes l from the open incidents of its entity values.
func (g *Grouper) unindex(l *live) {
	for f, vs := range l.Inc.Entities {
		for _, v := range vs {
			if e := g.index[entityKey(l.Inc.Org, f, v)]; e != nil {
				if i, ok := slices.BinarySearch(e.Incidents, l.Inc.ID); ok {
					e.Incidents = slices.Delete(e.Incidents, i, i+1)
				}
			}
		}
	}
}

// reindex adds l to the open incidents of its (linking) entity values,
// creating the entries a close removed (a reopened incident).
func (g *Grouper) reindex(l *live) {
	if g.opts.Link.Disabled {
		return
	}
	for _, f := range g.opts.Link.Fields {
		for _, v := range l.Inc.Entities[f] {
			if g.opts.Link.stops(v) {
				continue
			}
			k := entityKey(l.Inc.Org, f, v)
			e := g.index[k]
			if e == nil {
				e = &entity{}
				g.index[k] = e
				g.bytes += int64(len(k)) + 64
			}
			if !e.Saturated {
				e.Incidents = unionAdd(e.Incidents, l.Inc.ID)
			}
		}
	}
}
