package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// NationalOptions configure the national stage.
type NationalOptions struct {
	// Link: Fields, StopValues and MaxCardinality apply here too;
	// MaxCardinality counts organisations in the window (default 20).
	Link LinkOptions
	// Window is how long a sighting of a value counts (sliding).
	// Default 24h.
	Window time.Duration
	// MinOrgs and MinSectors: a value seen at MinOrgs organisations or
	// MinSectors sectors in the window opens a national incident. Defaults
	// 3 and 2.
	MinOrgs, MinSectors int
	// Partition and Partitions: the stage takes only values with
	// EntityPartition(field, value, Partitions) == Partition.
	Partition, Partitions int
	// MaxValues bounds the entity values watched (default 200000); past
	// it the least recently seen values go (counted).
	MaxValues int
	// Count receives the counters (nil: not counted).
	Count CountFunc
}

func (o *NationalOptions) setDefaults() {
	o.Link.setDefaults()
	if o.Window == 0 {
		o.Window = 24 * time.Hour
	}
	if o.MinOrgs == 0 {
		o.MinOrgs = 3
	}
	if o.MinSectors == 0 {
		o.MinSectors = 2
	}
	if o.Partitions == 0 {
		o.Partitions = 1
	}
	if o.MaxValues == 0 {
		o.MaxValues = 200000
	}
}

// Validate checks the options; errors name the field.
func (o *NationalOptions) Validate() error {
	var errs []error
	errs = append(errs, o.Link.Validate("national.link"))
	if o.Window <= 0 {
		errs = append(errs, fmt.Errorf("national.window: must be positive"))
	}
	if o.MinOrgs < 2 {
		errs = append(errs, fmt.Errorf("national.min_orgs: must be at least 2"))
	}
	if o.MinSectors < 2 {
		errs = append(errs, fmt.Errorf("national.min_sectors: must be at least 2"))
	}
	if o.Link.MaxCardinality < o.MinOrgs {
		errs = append(errs, fmt.Errorf("national.link.max_cardinality: %d is below min_orgs %d", o.Link.MaxCardinality, o.MinOrgs))
	}
	if o.MaxValues < 1 {
		errs = append(errs, fmt.Errorf("national.max_values: must be positive"))
	}
	if o.Partitions < 1 || o.Partition < 0 || o.Partition >= o.Partitions {
		errs = append(errs, fmt.Errorf("national.partition: %d not in 0..%d", o.Partition, o.Partitions-1))
	}
	return errors.Join(errs...)
}

// LocalRef is what a local incident publishes to the national stage.
type LocalRef struct {
	Incident        string              `json:"incident"`
	Org             string              `json:"org"`
	Sectors         []string            `json:"sectors"`
	Entities        map[string][]string `json:"entities"`
	Criticality     int                 `json:"criticality"`
	RSITClass       string              `json:"rsit_class,omitempty"`
	RSITType        string              `json:"rsit_type,omitempty"`
	FirstActivityAt time.Time           `json:"first_activity_at,omitzero"`
}

// Ref is the LocalRef of a local incident.
func (in *Incident) Ref() LocalRef {
	return LocalRef{Incident: in.ID, Org: in.Org, Sectors: in.Sectors, Entities: in.Entities,
		Criticality: in.Criticality, RSITClass: in.RSITClass, RSITType: in.RSITType, FirstActivityAt: in.FirstActivityAt}
}

// NationalUpdate is a national incident opened or given new links.
type NationalUpdate struct {
	Kind     UpdateKind `json:"kind"` // opened or updated
	Incident Incident   `json:"incident"`
	// NewLinks are the local incidents linked by this update.
	NewLinks []string  `json:"new_links"`
	At       time.Time `json:"at"`
}

type sighting struct {
	Incident string    `json:"incident"`
	Org      string    `json:"org"`
	Sectors  []string  `json:"sectors"`
	At       time.Time `json:"at"`
}

type watch struct {
	Field     string     `json:"field"`
	Value     string     `json:"value"`
	Epoch     int        `json:"epoch"`
	Seen      []sighting `json:"seen"`
	Saturated bool       `json:"saturated,omitempty"`
	// Open is the national incident while the window lasts.
	Open *Incident `json:"open,omitempty"`
	// Last is when the value was last observed.
	Last time.Time `json:"last"`
}

// Bounds of one value's state.
const (
	maxSightingsPerOrg = 8    // the latest local incidents of one organisation
	maxLinks           = 1000 // local incidents one national incident links
)

// bound evicts the least recently observed values, down to 90% of
// MaxValues, keeping the value just added (key).
func (n *National) bound(key string) {
	if len(n.watches) <= n.opts.MaxValues {
		return
	}
	ks := sortedKeys(n.watches)
	slices.SortStableFunc(ks, func(a, b string) int { return n.watches[a].Last.Compare(n.watches[b].Last) })
	for _, k := range ks {
		if len(n.watches) <= n.opts.MaxValues*9/10 {
			break
		}
		if k != key {
			delete(n.watches, k)
			n.opts.Count.inc(MetricEvictions, "national_values")
		}
	}
}

// National is the national stage of one partition of entity values. It
// is not safe for concurrent use; it has no goroutines and no clock.
type National struct {
	opts    NationalOptions
	watches map[string]*watch
}

// NewNational validates opts and returns an empty stage.
func NewNational(opts NationalOptions) (*National, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := &National{opts: opts, watches: map[string]*watch{}}
	return n, nil
}

// Observe takes a local incident's entities at now and returns the
// national incidents it opens or joins, ordered by field and value.
func (n *National) Observe(ref LocalRef, now time.Time) []NationalUpdate {
	var out []NationalUpdate
	for _, f := range n.opts.Link.Fields {
		for _, v := range ref.Entities[f] {
			if v == "" || n.opts.Link.stops(v) || EntityPartition(f, v, n.opts.Partitions) != n.opts.Partition {
				continue
			}
			k := f + "=" + v
			w := n.watches[k]
			if w == nil {
				w = &watch{Field: f, Value: v}
				n.watches[k] = w
				n.bound(k)
			}
			w.Last = now
			if u, ok := n.observe(w, ref, now); ok {
				out = append(out, u)
			}
		}
	}
	return out
}

func (n *National) observe(w *watch, ref LocalRef, now time.Time) (NationalUpdate, bool) {
	n.expire(w, now)
	if w.Saturated {
		return NationalUpdate{}, false
	}
	i := slices.IndexFunc(w.Seen, func(s sighting) bool { return s.Incident == ref.Incident })
	if i >= 0 {
		w.Seen[i].At = now
		w.Seen[i].Sectors = slices.Clone(ref.Sectors)
	} else {
		w.Seen = append(w.Seen, sighting{Incident: ref.Incident, Org: ref.Org, Sectors: slices.Clone(ref.Sectors), At: now})
		n.boundSightings(w, ref.Org)
	}
	orgs, sectors := w.counts()
	if len(orgs) > n.opts.Link.MaxCardinality {
		w.Saturated = true
		n.opts.Count.inc(MetricNational, "saturated")
		return NationalUpdate{}, false
	}
	if w.Open == nil {
		if len(orgs) < n.opts.MinOrgs && len(sectors) < n.opts.MinSectors {
			return NationalUpdate{}, false
		}
		in := Incident{ID: NationalID(w.Field, w.Value, w.Epoch), National: true, Origin: OriginNCCDetected,
			Title:  fmt.Sprintf("%s %s seen at %d organisations in %d sectors", w.Field, w.Value, len(orgs), len(sectors)),
			Status: StatusNew, Determination: DeterminationSuspected, TLP: TLPAmber,
			RSITClass: RSITUndeterminedClass, RSITType: RSITUndeterminedType,
			Entities: map[string][]string{w.Field: {w.Value}}, DetectedAt: now.UTC(), OpenedAt: now}
		w.Open = &in
		n.opts.Count.inc(MetricNational, "opened")
		var links []string
		for _, s := range w.Seen {
			links = append(links, s.Incident)
		}
		slices.Sort(links)
		return n.link(w, links, ref, UpdateOpened, now), true
	}
	if slices.Contains(w.Open.Linked, ref.Incident) {
		return NationalUpdate{}, false
	}
	n.opts.Count.inc(MetricNational, "linked")
	return n.link(w, []string{ref.Incident}, ref, UpdateUpdated, now), true
}

// boundSightings keeps the latest maxSightingsPerOrg sightings of org.
func (n *National) boundSightings(w *watch, org string) {
	c := 0
	for i := len(w.Seen) - 1; i >= 0; i-- {
		if w.Seen[i].Org == org {
			if c++; c > maxSightingsPerOrg {
				w.Seen = slices.Delete(w.Seen, i, i+1)
			}
		}
	}
}

func (n *National) link(w *watch, links []string, ref LocalRef, kind UpdateKind, now time.Time) NationalUpdate {
	in := w.Open
	for _, l := range links {
		if len(in.Linked) >= maxLinks {
			n.opts.Count.inc(MetricNational, "links_capped")
			break
		}
		in.Linked = unionAdd(in.Linked, l)
	}
	orgs, sectors := w.counts()
	in.Orgs, in.Sectors = orgs, sectors
	in.Criticality = max(in.Criticality, ref.Criticality)
	in.Severity = SeverityOf(in.Criticality)
	in.FirstActivityAt = earliestOf(in.FirstActivityAt, ref.FirstActivityAt)
	if in.RSITClass == RSITUndeterminedClass && ValidRSIT(ref.RSITClass, ref.RSITType) {
		in.RSITClass, in.RSITType = ref.RSITClass, ref.RSITType
	}
	in.Title = fmt.Sprintf("%s %s seen at %d organisations in %d sectors", w.Field, w.Value, len(orgs), len(sectors))
	return NationalUpdate{Kind: kind, Incident: in.Clone(), NewLinks: links, At: now}
}

// counts are the distinct organisations and sectors in the window; the
// open national incident keeps the ones it has linked.
func (w *watch) counts() (orgs, sectors []string) {
	if w.Open != nil {
		orgs, sectors = slices.Clone(w.Open.Orgs), slices.Clone(w.Open.Sectors)
	}
	for _, s := range w.Seen {
		orgs = unionAdd(orgs, s.Org)
		for _, x := range s.Sectors {
			sectors = unionAdd(sectors, x)
		}
	}
	return orgs, sectors
}

// expire drops sightings older than the window; a watch left without
// sightings ends its national incident (the next one is a new epoch).
func (n *National) expire(w *watch, now time.Time) {
	cut := now.Add(-n.opts.Window)
	w.Seen = slices.DeleteFunc(w.Seen, func(s sighting) bool { return !s.At.After(cut) })
	if len(w.Seen) == 0 {
		if w.Open != nil {
			w.Open = nil
			w.Epoch++
			n.opts.Count.inc(MetricNational, "ended")
		}
		w.Saturated = false
	}
}

// Tick expires windows at now and forgets the values that never opened a
// national incident; a value that did keeps its epoch, so its next
// national incident gets a new id. It visits every value watched: call
// it every minute or so, not per alert (Observe expires the values it
// touches itself).
func (n *National) Tick(now time.Time) {
	for k, w := range n.watches { // each value on its own: order does not matter
		n.expire(w, now)
		if len(w.Seen) == 0 && w.Epoch == 0 {
			delete(n.watches, k)
		}
	}
}

// Closed tells the stage that a national incident was closed (by an
// analyst): its value's sightings are forgotten and its epoch advances,
// so only new sightings at MinOrgs organisations or MinSectors sectors
// open another (with a new id). Unknown ids are ignored.
func (n *National) Closed(id string) {
	for _, w := range n.watches { // one at most matches: order does not matter
		if w.Open != nil && w.Open.ID == id {
			w.Open, w.Seen, w.Saturated = nil, nil, false
			w.Epoch++
			n.opts.Count.inc(MetricNational, "ended")
			return
		}
	}
}

// Len is the number of entity values watched.
func (n *National) Len() int { return len(n.watches) }

// Snapshot returns the stage's state, deterministically.
func (n *National) Snapshot() ([]byte, error) {
	ws := []*watch{}
	for _, k := range sortedKeys(n.watches) {
		ws = append(ws, n.watches[k])
	}
	return json.Marshal(struct {
		Version int      `json:"version"`
		Watches []*watch `json:"watches"`
	}{snapshotVersion, ws})
}

// Restore replaces the state with a snapshot.
func (n *National) Restore(data []byte) error {
	var st struct {
		Version int      `json:"version"`
		Watches []*watch `json:"watches"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("incident: national restore: %w", err)
	}
	if st.Version != snapshotVersion {
		return fmt.Errorf("incident: national restore: snapshot version %d, want %d", st.Version, snapshotVersion)
	}
	n.watches = map[string]*watch{}
	for _, w := range st.Watches {
		n.watches[w.Field+"="+w.Value] = w
	}
	return nil
}
