package incident

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Route decides how the alerts it takes group into incidents, as an
// Alertmanager route does. An alert goes to the first route whose matchers
// all match (no matchers: every alert).
type Route struct {
	Name     string    `json:"name" yaml:"name"`
	Matchers []Matcher `json:"matchers,omitempty" yaml:"matchers"`
	// GroupBy are the labels of the group key: rule, object, sector, oisc
	// or entity fields (source.ip, user.name, host.name, ...). Leaving rule
	// out lets one incident span several rules.
	GroupBy []string `json:"group_by" yaml:"group_by"`
	// GroupWait is how long a new incident collects alerts before it is
	// first reported.
	GroupWait time.Duration `json:"group_wait" yaml:"group_wait"`
	// GroupInterval is the least time between two updates of an incident
	// with new alerts.
	GroupInterval time.Duration `json:"group_interval" yaml:"group_interval"`
	// RepeatInterval is how long an open incident without new alerts waits
	// to be reported again.
	RepeatInterval time.Duration `json:"repeat_interval" yaml:"repeat_interval"`
}

// DefaultRoute groups by rule and object, with Alertmanager's default
// timings.
func DefaultRoute() Route {
	return Route{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 30 * time.Second, GroupInterval: 5 * time.Minute, RepeatInterval: 4 * time.Hour}
}

// Validate checks the route; errors name the field under path.
func (r *Route) Validate(path string) error {
	var errs []error
	bad := func(f, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, f, fmt.Sprintf(format, args...)))
	}
	if r.Name == "" || strings.ContainsAny(r.Name, "\x00 ") {
		bad("name", "missing or has spaces")
	}
	if len(r.GroupBy) == 0 {
		bad("group_by", "empty (use [rule, object] or entity fields)")
	}
	for i, k := range r.GroupBy {
		if k == "" || k == "tag" {
			bad(fmt.Sprintf("group_by[%d]", i), "%q cannot be a group key", k)
		}
	}
	if r.GroupWait < 0 {
		bad("group_wait", "negative")
	}
	if r.GroupInterval <= 0 {
		bad("group_interval", "must be positive")
	}
	if r.RepeatInterval < r.GroupInterval {
		bad("repeat_interval", "must be at least group_interval (%s)", r.GroupInterval)
	}
	for i := range r.Matchers {
		if err := r.Matchers[i].compile(); err != nil {
			bad(fmt.Sprintf("matchers[%d]", i), "%v", err)
		}
	}
	return errors.Join(errs...)
}

// GrouperOptions configure a [Grouper].
type GrouperOptions struct {
	// Routes, tried in order; an alert no route takes is rejected
	// (reason no_route). Default: [DefaultRoute].
	Routes []Route
	Link   LinkOptions
	// RSIT classifies incidents from their alerts' tags; nil gives
	// other:undetermined.
	RSIT *RSITMapping
	// Partition and Partitions: the grouper takes only organisations with
	// Partition(org, Partitions) == Partition (reason wrong_partition).
	Partition, Partitions int
	// MaxGroups and MaxBytes bound the state; past either, the least
	// recently active groups are evicted (counted). Defaults 100000 and
	// 64 MiB.
	MaxGroups int
	MaxBytes  int64
	// MaxEntityValues bounds the values kept per entity field of one
	// incident (default 100); more are counted, not kept.
	MaxEntityValues int
	// MaxPending bounds the alerts an incident holds unreported (default
	// 10000): at that many, it is reported at the next Tick, even before
	// group_wait or group_interval.
	MaxPending int
	// Count receives the counters (nil: not counted).
	Count CountFunc
}

func (o *GrouperOptions) setDefaults() {
	if len(o.Routes) == 0 {
		o.Routes = []Route{DefaultRoute()}
	}
	// Own copies: compiling matchers must not write to the caller's.
	o.Routes = slices.Clone(o.Routes)
	for i := range o.Routes {
		o.Routes[i].Matchers = slices.Clone(o.Routes[i].Matchers)
	}
	o.Link.setDefaults()
	if o.MaxGroups == 0 {
		o.MaxGroups = 100000
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.MaxEntityValues == 0 {
		o.MaxEntityValues = 100
	}
	if o.MaxPending == 0 {
		o.MaxPending = 10000
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
}

// Validate checks the options (after defaults); errors name the field.
func (o *GrouperOptions) Validate() error {
	var errs []error
	names := map[string]bool{}
	for i := range o.Routes {
		r := &o.Routes[i]
		errs = append(errs, r.Validate(fmt.Sprintf("routes[%d]", i)))
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("routes[%d].name: %q twice", i, r.Name))
		}
		names[r.Name] = true
	}
	errs = append(errs, o.Link.Validate("link"))
	if o.Partitions < 1 || o.Partition < 0 || o.Partition >= o.Partitions {
		errs = append(errs, fmt.Errorf("partition: %d not in 0..%d", o.Partition, o.Partitions-1))
	}
	if o.MaxGroups < 1 {
		errs = append(errs, fmt.Errorf("max_groups: must be positive"))
	}
	if o.MaxBytes < 1<<16 {
		errs = append(errs, fmt.Errorf("max_bytes: at least 64 KiB"))
	}
	return errors.Join(errs...)
}

// Metric is one counter of this package, with one label. The package
// imports no metrics library (domain packages stay free of net/http): the
// caller registers one Prometheus CounterVec per entry of [Metrics] and
// passes a [CountFunc] that increments it.
type Metric struct{ Name, Help, Label string }

// The package's counters.
var (
	MetricAlerts = Metric{"kuzet_incident_alerts_total",
		"Alerts offered to grouping, by result (grouped, silenced, rejected).", "result"}
	MetricRejected = Metric{"kuzet_incident_alerts_rejected_total",
		"Alerts grouping rejected, by reason.", "reason"}
	MetricUpdates = Metric{"kuzet_incident_updates_total",
		"Incident updates grouping emitted, by kind (opened, updated, repeat, merged).", "kind"}
	MetricLink = Metric{"kuzet_incident_link_total",
		"Entity linking: merged, or a value that did not link (stop_value, cardinality, entity_values, value_too_long).", "event"}
	MetricEvictions = Metric{"kuzet_incident_evictions_total",
		"State evicted to stay in bounds, by reason (groups, bytes, national_values).", "reason"}
	MetricNational = Metric{"kuzet_incident_national_total",
		"National stage events (opened, linked, saturated, ended, links_capped).", "event"}
)

// Metrics lists every counter, for registration.
var Metrics = []Metric{MetricAlerts, MetricRejected, MetricUpdates, MetricLink, MetricEvictions, MetricNational}

// CountFunc adds one to metric m with label value v.
type CountFunc func(m Metric, v string)

func (f CountFunc) inc(m Metric, v string) {
	if f != nil {
		f(m, v)
	}
}

// UpdateKind is why an update was emitted.
type UpdateKind string

// Update kinds.
const (
	UpdateOpened  UpdateKind = "opened"  // first report, group_wait after the first alert
	UpdateUpdated UpdateKind = "updated" // new alerts, at most every group_interval
	UpdateRepeat  UpdateKind = "repeat"  // no new alerts for repeat_interval
	UpdateMerged  UpdateKind = "merged"  // closed as duplicate_of another (system transition)
)

// Update is one incident change grouping reports. Incident carries the
// grouping fields (counts, entities, rules, times); its lifecycle fields
// are grouping's initial values, not the stored ones: apply an update
// with [ApplyGrouping]. NewAlerts are the alerts linked since the previous
// update, each in exactly one update.
type Update struct {
	Kind      UpdateKind `json:"kind"`
	Incident  Incident   `json:"incident"`
	NewAlerts []string   `json:"new_alerts,omitempty"`
	Due       time.Time  `json:"due"`
	At        time.Time  `json:"at"`
}

// ApplyGrouping returns stored (the incident as the store has it, nil for
// one not stored yet) with the grouping fields of u: counts, rules,
// objects, sectors, entities, merged ids, activity times, criticality
// and severity; and the RSIT category while stored's is still
// other:undetermined (an analyst's choice stays). Status, determination,
// assignee, comments, tasks, TLP and the lifecycle timestamps stay as
// stored. A merged update's transition is [Update.Change], applied apart.
func ApplyGrouping(stored *Incident, u Update) Incident {
	if stored == nil {
		return u.Incident.Clone()
	}
	out := stored.Clone()
	g := u.Incident.Clone()
	out.Orgs, out.Sectors, out.ObjectIDs, out.RuleIDs = g.Orgs, g.Sectors, g.ObjectIDs, g.RuleIDs
	out.GroupKeys, out.Merged, out.Entities, out.AlertCount = g.GroupKeys, g.Merged, g.Entities, g.AlertCount
	out.FirstActivityAt = earliestOf(out.FirstActivityAt, g.FirstActivityAt)
	out.LastActivityAt = latestOf(out.LastActivityAt, g.LastActivityAt)
	out.DetectedAt = earliestOf(out.DetectedAt, g.DetectedAt)
	out.Criticality = max(out.Criticality, g.Criticality)
	out.Severity = SeverityOf(out.Criticality)
	if out.RSITClass == RSITUndeterminedClass && out.RSITType == RSITUndeterminedType || out.RSITClass == "" {
		out.RSITClass, out.RSITType = g.RSITClass, g.RSITType
	}
	return out
}

// Change is the logged system transition of a merged update (closed as
// duplicate_of the survivor), to apply with [Apply] at the incident's
// current version; nil for other kinds.
func (u *Update) Change() *Change {
	if u.Kind != UpdateMerged {
		return nil
	}
	return &Change{Actor: "system:grouping", System: true, At: u.At, Action: ActionMerge, Status: StatusClosed,
		Resolution: ResolutionDuplicate, DuplicateOf: u.Incident.DuplicateOf}
}

// AddResult says what grouping did with an alert.
type AddResult struct {
	// Incident is the id of the incident the alert is linked to.
	Incident string
	// Opened is true if the alert opened it.
	Opened bool
	// Silenced is the id of the silence that muted the alert.
	Silenced string
}

type group struct {
	Org      string    `json:"org"`
	Route    string    `json:"route"`
	Key      string    `json:"key"`
	Epoch    int       `json:"epoch"`
	Incident string    `json:"incident,omitempty"`
	Closed   string    `json:"closed,omitempty"` // the key's incident closed last
	Active   time.Time `json:"active"`
}

func (g *group) id() string { return g.Org + "\x00" + g.Route + "\x00" + g.Key }

type live struct {
	Inc     Incident  `json:"incident"`
	Pending []string  `json:"pending,omitempty"`
	FlushAt time.Time `json:"flush_at"`
	Emitted bool      `json:"emitted,omitempty"`
	LastAt  time.Time `json:"last_at,omitzero"` // last emission
	// Into: merged into this incident; emitted once, then dropped.
	Into  string `json:"into,omitempty"`
	route *Route
	size  int64
}

// Grouper groups the alerts of one partition into local incidents. It is
// not safe for concurrent use; it has no goroutines and no clock.
type Grouper struct {
	opts     GrouperOptions
	routes   map[string]*Route
	groups   map[string]*group
	live     map[string]*live
	index    map[string]*entity
	silences Silences
	bytes    int64
	timers   timers // flush times; stale entries are skipped
	seq      uint64 // incidents opened or reopened
	// reported: alerts were reported since the last eviction pass (so
	// groups may be evictable again); retryGroups and retryBytes: sizes
	// at which to try again regardless.
	reported    bool
	retryGroups int
	retryBytes  int64
	count       CountFunc
}

// NewGrouper validates opts and returns an empty grouper.
func NewGrouper(opts GrouperOptions) (*Grouper, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := &Grouper{opts: opts, routes: map[string]*Route{}, groups: map[string]*group{},
		live: map[string]*live{}, index: map[string]*entity{}, count: opts.Count}
	for i := range g.opts.Routes {
		g.routes[g.opts.Routes[i].Name] = &g.opts.Routes[i]
	}
	return g, nil
}

// Silences returns the grouper's silences, to set or expire.
func (g *Grouper) Silences() *Silences { return &g.silences }

func (g *Grouper) reject(err error) error {
	g.count.inc(MetricAlerts, "rejected")
	var ie *InputError
	if errors.As(err, &ie) {
		g.count.inc(MetricRejected, ie.Reason)
	}
	return err
}

// Add groups one alert at processing time now. A rejected alert gives an
// [*InputError] (counted by reason); a silenced one gives its silence id
// and changes no incident.
func (g *Grouper) Add(a Alert, now time.Time) (AddResult, error) {
	if err := a.Validate(); err != nil {
		return AddResult{}, g.reject(err)
	}
	if Partition(a.Org, g.opts.Partitions) != g.opts.Partition {
		return AddResult{}, g.reject(&InputError{AlertID: a.ID, Reason: "wrong_partition",
			Detail: fmt.Sprintf("org %s is in partition %d, not %d", a.Org, Partition(a.Org, g.opts.Partitions), g.opts.Partition)})
	}
	if s := g.silences.Match(&a, now); s != "" {
		g.count.inc(MetricAlerts, "silenced")
		return AddResult{Silenced: s}, nil
	}
	a.Entities = g.usableEntities(a.Entities)
	var r *Route
	for i := range g.opts.Routes {
		if matchAll(g.opts.Routes[i].Matchers, &a) {
			r = &g.opts.Routes[i]
			break
		}
	}
	if r == nil {
		return AddResult{}, g.reject(&InputError{AlertID: a.ID, Reason: "no_route", Detail: "no route matches"})
	}
	g.count.inc(MetricAlerts, "grouped")
	gr := &group{Org: a.Org, Route: r.Name, Key: groupKey(r, &a)}
	gid := gr.id()
	if old, ok := g.groups[gid]; ok {
		gr = old
	} else {
		g.groups[gid] = gr
		g.bytes += int64(len(gid)) + groupOverhead
	}
	gr.Active = now
	res := AddResult{}
	if gr.Incident != "" && g.live[gr.Incident] == nil {
		// Not reachable by the API; if it were, a new epoch keeps the
		// reported incident's id from being reused.
		gr.Incident = ""
		gr.Epoch++
	}
	if gr.Incident == "" {
		res.Opened = true
		gr.Incident = g.open(gr, r, &a, now)
	}
	l := g.live[gr.Incident]
	g.addAlert(l, &a, now)
	res.Incident = g.link(l, gid, &a, now)
	g.enforceBounds()
	return res, nil
}

const (
	groupOverhead    = 96
	incidentOverhead = 512
	// MaxEntityValueLen is the longest entity value grouping keeps and
	// links on; longer ones are dropped from the alert's entities for
	// grouping (counted as link{event="value_too_long"}).
	MaxEntityValueLen = 256
)

// usableEntities returns es without empty or overlong values (a copy only
// if one is dropped: the caller's map is not changed).
func (g *Grouper) usableEntities(es map[string]string) map[string]string {
	var out map[string]string
	for k, v := range es {
		if v != "" && len(v) <= MaxEntityValueLen {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(es))
			for k2, v2 := range es {
				out[k2] = v2
			}
		}
		delete(out, k)
		if v != "" {
			g.count.inc(MetricLink, "value_too_long")
		}
	}
	if out == nil {
		return es
	}
	return out
}

func groupKey(r *Route, a *Alert) string {
	var b strings.Builder
	for i, k := range r.GroupBy {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(label(a, k))) // quoted: a value cannot forge a separator
	}
	return b.String()
}

func (g *Grouper) open(gr *group, r *Route, a *Alert, now time.Time) string {
	id := LocalID(gr.Org, gr.Route, gr.Key, gr.Epoch)
	title := a.RuleTitle
	if title == "" {
		title = a.RuleID
	}
	if a.Object != "" {
		title += " on " + a.Object
	}
	in := Incident{ID: id, Title: title, Org: a.Org, Orgs: []string{a.Org}, CenterID: a.OISC,
		Origin: OriginOISCDetected, Route: r.Name, GroupKeys: []string{gr.id()},
		Status: StatusNew, Determination: DeterminationSuspected, TLP: TLPAmber,
		RSITClass: RSITUndeterminedClass, RSITType: RSITUndeterminedType, OpenedAt: now}
	g.seq++
	in.OpenSeq = g.seq
	l := &live{Inc: in, FlushAt: now.Add(r.GroupWait), route: r}
	l.size = l.recompute()
	g.bytes += l.size
	g.live[id] = l
	g.schedule(l)
	return id
}

// schedule queues l at its FlushAt; earlier entries for l go stale.
func (g *Grouper) schedule(l *live) {
	heap.Push(&g.timers, timer{at: l.FlushAt, id: l.Inc.ID})
}

// timer is one entry of the flush heap, ordered by time, then id.
type timer struct {
	at time.Time
	id string
}

type timers []timer

func (h timers) Len() int { return len(h) }
func (h timers) Less(i, j int) bool {
	if c := h[i].at.Compare(h[j].at); c != 0 {
		return c < 0
	}
	return h[i].id < h[j].id
}
func (h timers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (g *Grouper) grow(l *live, n int) {
	l.size += int64(n)
	g.bytes += int64(n)
}

func (g *Grouper) addString(l *live, s []string, v string) []string {
	n := len(s)
	s = unionAdd(s, v)
	if len(s) > n {
		g.grow(l, len(v)+16)
	}
	return s
}

func (g *Grouper) addAlert(l *live, a *Alert, now time.Time) {
	in := &l.Inc
	in.AlertCount++
	l.Pending = append(l.Pending, a.ID)
	g.grow(l, len(a.ID)+16)
	in.RuleIDs = g.addString(l, in.RuleIDs, a.RuleID)
	in.ObjectIDs = g.addString(l, in.ObjectIDs, a.Object)
	in.Sectors = g.addString(l, in.Sectors, a.Sector)
	if in.CenterID == "" {
		in.CenterID = a.OISC
	}
	at := a.EventTime
	if at.IsZero() {
		at = a.DetectedAt
	}
	in.FirstActivityAt = earliestOf(in.FirstActivityAt, at.UTC())
	in.LastActivityAt = latestOf(in.LastActivityAt, at.UTC())
	in.DetectedAt = earliestOf(in.DetectedAt, a.DetectedAt.UTC())
	if c := Criticality(a.Level, a.ObjectClass, a.Sector); c > in.Criticality {
		in.Criticality = c
	}
	in.Severity = SeverityOf(in.Criticality)
	if in.RSITClass == RSITUndeterminedClass && in.RSITType == RSITUndeterminedType {
		in.RSITClass, in.RSITType = g.opts.RSIT.Classify(a.Tags)
	}
	for _, f := range sortedKeys(a.Entities) {
		v := a.Entities[f]
		if v == "" {
			continue
		}
		if in.Entities == nil {
			in.Entities = map[string][]string{}
		}
		if vs := in.Entities[f]; len(vs) >= g.opts.MaxEntityValues && !slices.Contains(vs, v) {
			g.count.inc(MetricLink, "entity_values")
			continue
		}
		if _, ok := in.Entities[f]; !ok {
			g.grow(l, len(f)+24)
		}
		in.Entities[f] = g.addString(l, in.Entities[f], v)
	}
	if l.Emitted && len(l.Pending) == 1 {
		// The first new alert since the last report: report it at the
		// next group_interval boundary after the last report.
		gi := l.route.GroupInterval
		k := (now.Sub(l.LastAt) + gi - 1) / gi
		l.FlushAt = l.LastAt.Add(max(k, 1) * gi)
		g.schedule(l)
	}
	g.boundPending(l, now)
}

// boundPending reports l at the next tick once it holds MaxPending
// unreported alerts.
func (g *Grouper) boundPending(l *live, now time.Time) {
	if len(l.Pending) >= g.opts.MaxPending && l.FlushAt.After(now) {
		l.FlushAt = now
		g.schedule(l)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Tick returns the updates due at now, ordered by due time and id. Its
// cost is the due incidents' (a timer heap), not all incidents'.
func (g *Grouper) Tick(now time.Time) []Update {
	var due []*live
	for len(g.timers) > 0 && !g.timers[0].at.After(now) {
		t := heap.Pop(&g.timers).(timer)
		l := g.live[t.id]
		if l == nil || !l.FlushAt.Equal(t.at) || len(due) > 0 && due[len(due)-1] == l {
			continue // stale: rescheduled, dropped, or pushed twice
		}
		due = append(due, l)
	}
	var out []Update
	for _, l := range due {
		out = append(out, g.emit(l, now))
		if l.Into != "" {
			g.drop(l)
			continue
		}
		// Repeat at the first group_interval boundary at or after
		// repeat_interval; new alerts move it earlier (addAlert).
		gi, ri := l.route.GroupInterval, l.route.RepeatInterval
		l.FlushAt = now.Add((ri + gi - 1) / gi * gi)
		g.schedule(l)
	}
	return out
}

// emit reports l at now and clears its pending alerts.
func (g *Grouper) emit(l *live, now time.Time) Update {
	u := Update{Due: l.FlushAt, At: now}
	switch {
	case l.Into != "":
		u.Kind = UpdateMerged
	case !l.Emitted:
		u.Kind = UpdateOpened
	case len(l.Pending) > 0:
		u.Kind = UpdateUpdated
	default:
		u.Kind = UpdateRepeat
	}
	u.Incident = l.Inc.Clone()
	u.NewAlerts = l.Pending
	for _, a := range l.Pending {
		g.grow(l, -(len(a) + 16))
	}
	if len(l.Pending) > 0 {
		g.reported = true
	}
	l.Pending = nil
	l.Emitted, l.LastAt = true, now
	g.count.inc(MetricUpdates, string(u.Kind))
	return u
}

// drop removes l from memory and from the entity index; an index entry
// left without open incidents goes too, unless it is saturated (that
// verdict is kept).
func (g *Grouper) drop(l *live) {
	delete(g.live, l.Inc.ID)
	g.bytes -= l.size
	g.unindex(l)
	for f, vs := range l.Inc.Entities {
		for _, v := range vs {
			k := entityKey(l.Inc.Org, f, v)
			if e := g.index[k]; e != nil && len(e.Incidents) == 0 && !e.Saturated {
				delete(g.index, k)
				g.bytes -= int64(len(k)) + 64
				for _, x := range e.Keys {
					g.bytes -= int64(len(x)) + 16
				}
			}
		}
	}
}

// Closed tells the grouper that an incident was closed at now (by an
// analyst): its groups' epochs advance, so later alerts of those keys open
// a new incident. Alerts linked to it and not yet reported come back in
// one last update, so every alert is in exactly one update. Unknown ids
// are ignored.
func (g *Grouper) Closed(id string, now time.Time) []Update {
	l, ok := g.live[id]
	if !ok || l.Into != "" {
		return nil
	}
	var out []Update
	if len(l.Pending) > 0 {
		out = append(out, g.emit(l, now))
	}
	for _, k := range l.Inc.GroupKeys {
		if gr := g.groups[k]; gr != nil && gr.Incident == id {
			gr.Epoch++
			gr.Incident, gr.Closed = "", id
		}
	}
	g.drop(l)
	return out
}

// Reopened tells the grouper that the closed incident in was reopened: it
// becomes the current incident of the keys it had when closed (if they
// are still known), and links again.
func (g *Grouper) Reopened(in Incident, now time.Time) {
	if _, ok := g.live[in.ID]; ok || in.National || Partition(in.Org, g.opts.Partitions) != g.opts.Partition {
		return // already open here, or not this partition's
	}
	r := g.routes[in.Route]
	if r == nil {
		return // its route is no longer configured: later alerts open a new incident
	}
	in = in.Clone()
	if in.OpenSeq == 0 {
		g.seq++
		in.OpenSeq = g.seq
	}
	l := &live{Inc: in, Emitted: true, LastAt: now, route: r}
	l.Inc.Status, l.Inc.Resolution, l.Inc.ClosedAt = StatusInProgress, "", time.Time{}
	l.FlushAt = now.Add((r.RepeatInterval + r.GroupInterval - 1) / r.GroupInterval * r.GroupInterval)
	l.size = l.recompute()
	g.bytes += l.size
	g.live[in.ID] = l
	g.schedule(l)
	for _, k := range in.GroupKeys {
		if gr := g.groups[k]; gr != nil && gr.Closed == in.ID {
			gr.Incident, gr.Closed = in.ID, ""
			gr.Active = now
		}
	}
	g.reindex(l)
}

func sizeOf(in *Incident) int64 {
	n := incidentOverhead + len(in.ID) + len(in.Title)
	for _, ss := range [][]string{in.GroupKeys, in.RuleIDs, in.ObjectIDs, in.Sectors, in.Merged} {
		for _, s := range ss {
			n += len(s) + 16
		}
	}
	for f, vs := range in.Entities {
		n += len(f) + 24
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return int64(n)
}

// recompute is the size estimate of l; the increments in addAlert
// follow the same rules, so a restored state has the same size.
func (l *live) recompute() int64 {
	n := sizeOf(&l.Inc)
	for _, a := range l.Pending {
		n += int64(len(a) + 16)
	}
	return n
}

// Stats are the grouper's sizes.
type Stats struct {
	Groups, Incidents, Entities int
	Bytes                       int64
}

// Stats returns the current sizes (Bytes is the estimate the bounds use).
func (g *Grouper) Stats() Stats {
	return Stats{Groups: len(g.groups), Incidents: len(g.live), Entities: len(g.index), Bytes: g.bytes}
}

// enforceBounds evicts the least recently active groups (and incidents
// no remaining group points to) until the state is 90% of its bounds.
func (g *Grouper) enforceBounds() {
	reason := ""
	switch {
	case len(g.groups) > g.opts.MaxGroups:
		reason = "groups"
	case g.bytes > g.opts.MaxBytes:
		reason = "bytes"
	default:
		return
	}
	if !g.reported && len(g.groups) < g.retryGroups && g.bytes < g.retryBytes {
		return // the last pass found too little to evict; nothing reported since
	}
	defer func() {
		g.reported = false
		// Over the bound still: every group left holds unreported alerts.
		// Try again after a Tick or Closed reported some, or once the state
		// grew by a sixteenth, so Add stays O(log n) amortised.
		g.retryGroups = len(g.groups) + len(g.groups)/16 + 1
		g.retryBytes = g.bytes + g.bytes/16 + 1
	}()
	type candidate struct {
		gid string
		gr  *group
	}
	grs := make([]candidate, 0, len(g.groups))
	for gid, gr := range g.groups {
		if l := g.live[gr.Incident]; l != nil && (len(l.Pending) > 0 || !l.Emitted) {
			continue // unreported alerts: keep them (the bound is soft)
		}
		grs = append(grs, candidate{gid, gr})
	}
	slices.SortFunc(grs, func(a, b candidate) int {
		if c := a.gr.Active.Compare(b.gr.Active); c != 0 {
			return c
		}
		return strings.Compare(a.gid, b.gid)
	})
	for _, c := range grs {
		if len(g.groups) <= g.opts.MaxGroups*9/10 && g.bytes <= g.opts.MaxBytes*9/10 {
			break
		}
		gid, gr := c.gid, c.gr
		delete(g.groups, gid)
		g.bytes -= int64(len(gid)) + groupOverhead
		g.count.inc(MetricEvictions, reason)
		if l := g.live[gr.Incident]; l != nil && !g.referenced(l) {
			g.drop(l)
		}
	}
}

func (g *Grouper) referenced(l *live) bool {
	for _, k := range l.Inc.GroupKeys {
		if gr := g.groups[k]; gr != nil && gr.Incident == l.Inc.ID {
			return true
		}
	}
	return false
}

// snapshotVersion is the format of [Grouper.Snapshot].
const snapshotVersion = 1

type liveState struct {
	live
	Route string `json:"route"`
}

type entityState struct {
	Key string `json:"key"`
	entity
}

type grouperState struct {
	Version   int           `json:"version"`
	Partition int           `json:"partition"`
	Of        int           `json:"partitions"`
	Groups    []group       `json:"groups"`
	Live      []liveState   `json:"live"`
	Index     []entityState `json:"index"`
	Silences  []Silence     `json:"silences"`
	Seq       uint64        `json:"seq"`
	Reported  bool          `json:"reported,omitempty"`
	Retry     [2]int64      `json:"retry"` // retryGroups, retryBytes
}

// Snapshot returns the whole state, deterministically (the same state
// gives the same bytes), for a checkpoint.
func (g *Grouper) Snapshot() ([]byte, error) {
	st := grouperState{Version: snapshotVersion, Partition: g.opts.Partition, Of: g.opts.Partitions,
		Groups: []group{}, Live: []liveState{}, Index: []entityState{}, Silences: g.silences.list, Seq: g.seq,
		Reported: g.reported, Retry: [2]int64{int64(g.retryGroups), g.retryBytes}}
	for _, k := range sortedKeys(g.groups) {
		st.Groups = append(st.Groups, *g.groups[k])
	}
	for _, k := range sortedKeys(g.live) {
		l := g.live[k]
		st.Live = append(st.Live, liveState{live: *l, Route: l.route.Name})
	}
	for _, k := range sortedKeys(g.index) {
		st.Index = append(st.Index, entityState{Key: k, entity: *g.index[k]})
	}
	if st.Silences == nil {
		st.Silences = []Silence{}
	}
	return json.Marshal(st)
}

// Restore replaces the state with a snapshot taken by a grouper of the
// same partition; routes are matched by name (an incident of a route no
// longer configured keeps grouping under the first route's timings).
func (g *Grouper) Restore(data []byte) error {
	var st grouperState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("incident: restore: %w", err)
	}
	if st.Version != snapshotVersion {
		return fmt.Errorf("incident: restore: snapshot version %d, want %d", st.Version, snapshotVersion)
	}
	if st.Partition != g.opts.Partition || st.Of != g.opts.Partitions {
		return fmt.Errorf("incident: restore: snapshot of partition %d/%d into %d/%d", st.Partition, st.Of, g.opts.Partition, g.opts.Partitions)
	}
	var ss Silences
	for _, s := range st.Silences {
		if err := ss.Set(s); err != nil {
			return fmt.Errorf("incident: restore: %w", err)
		}
	}
	g.groups, g.live, g.index, g.silences, g.bytes, g.timers = map[string]*group{}, map[string]*live{}, map[string]*entity{}, ss, 0, nil
	g.seq, g.reported, g.retryGroups, g.retryBytes = st.Seq, st.Reported, int(st.Retry[0]), st.Retry[1]
	for i := range st.Groups {
		gr := st.Groups[i]
		g.groups[gr.id()] = &gr
		g.bytes += int64(len(gr.id())) + groupOverhead
	}
	for i := range st.Live {
		l := st.Live[i].live
		l.route = g.routes[st.Live[i].Route]
		if l.route == nil {
			l.route = &g.opts.Routes[0]
		}
		l.size = l.recompute()
		g.bytes += l.size
		g.live[l.Inc.ID] = &l
		g.schedule(&l)
	}
	for i := range st.Index {
		e := st.Index[i].entity
		g.index[st.Index[i].Key] = &e
		g.bytes += int64(len(st.Index[i].Key)) + 64
		for _, k := range e.Keys {
			g.bytes += int64(len(k)) + 16
		}
	}
	return nil
}

// Config is the YAML form of grouping and the national stage, for a
// role's configuration file (the role embeds it; this package reads no
// files). Zero values take the defaults of [DefaultConfig].
type Config struct {
	Routes          []Route        `yaml:"routes"`
	Link            LinkOptions    `yaml:"link"`
	National        NationalConfig `yaml:"national"`
	MaxGroups       int            `yaml:"max_groups"`
	MaxBytes        int64          `yaml:"max_bytes"`
	MaxEntityValues int            `yaml:"max_entity_values"`
	MaxPending      int            `yaml:"max_pending"`
	// RSITFile is the tag to RSIT mapping (configs/rsit.yaml).
	RSITFile string `yaml:"rsit_file"`
}

// NationalConfig is the YAML form of [NationalOptions].
type NationalConfig struct {
	Disabled   bool          `yaml:"disabled"`
	Window     time.Duration `yaml:"window"`
	MinOrgs    int           `yaml:"min_orgs"`
	MinSectors int           `yaml:"min_sectors"`
	MaxValues  int           `yaml:"max_values"`
	Link       LinkOptions   `yaml:"link"`
}

// DefaultConfig is one default route, linking on source.ip, user.name
// and host.name, and the national stage at 3 organisations or 2 sectors
// in 24 hours.
func DefaultConfig() Config {
	return Config{Routes: []Route{DefaultRoute()}, RSITFile: "configs/rsit.yaml",
		National: NationalConfig{Window: 24 * time.Hour, MinOrgs: 3, MinSectors: 2}}
}

// ParseConfig reads a Config strictly (unknown keys are errors) over the
// defaults, and validates it.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("incidents: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the configuration; each error names its field under
// "incidents.".
func (c *Config) Validate() error {
	var errs []error
	g := c.GrouperOptions(0, 1, nil, nil)
	g.setDefaults()
	if err := g.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !c.National.Disabled {
		n := c.NationalOptions(0, 1, nil)
		n.setDefaults()
		errs = append(errs, n.Validate())
	}
	if c.RSITFile == "" {
		errs = append(errs, errors.New("rsit_file: missing"))
	}
	if c.MaxGroups < 0 || c.MaxBytes < 0 || c.MaxEntityValues < 0 || c.MaxPending < 0 {
		errs = append(errs, errors.New("max_groups, max_bytes, max_entity_values, max_pending: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return prefixErrors("incidents.", err)
	}
	return nil
}

func prefixErrors(prefix string, err error) error {
	var out []error
	for _, line := range strings.Split(err.Error(), "\n") {
		out = append(out, errors.New(prefix+line))
	}
	return errors.Join(out...)
}

// GrouperOptions are the options of partition p of n.
func (c *Config) GrouperOptions(p, n int, rsit *RSITMapping, count CountFunc) GrouperOptions {
	return GrouperOptions{Routes: c.Routes, Link: c.Link, RSIT: rsit, Partition: p, Partitions: n,
		MaxGroups: c.MaxGroups, MaxBytes: c.MaxBytes, MaxEntityValues: c.MaxEntityValues, MaxPending: c.MaxPending, Count: count}
}

// NationalOptions are the national stage's options for partition p of n.
func (c *Config) NationalOptions(p, n int, count CountFunc) NationalOptions {
	return NationalOptions{Link: c.National.Link, Window: c.National.Window, MinOrgs: c.National.MinOrgs,
		MinSectors: c.National.MinSectors, MaxValues: c.National.MaxValues, Partition: p, Partitions: n, Count: count}
}
