package correlate

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Options bound and tune an Engine.
type Options struct {
	// Lateness is how far behind the latest event time seen a signal may
	// be and still count. Default 1m; 0 (after defaults: set NoLateness)
	// accepts only signals in time order.
	Lateness time.Duration
	// NoLateness makes Lateness 0 whatever its value.
	NoLateness bool
	// MaxGroups bounds the groups kept. Default 100000.
	MaxGroups int
	// MaxBytes bounds the estimated bytes of kept state. Default 64 MiB.
	MaxBytes int64
	// MaxEventIDs bounds the event ids an update carries, in all and per
	// share (the count is always exact). Default 100.
	MaxEventIDs int
	// NoChain stops the engine from applying a correlation's episodes to
	// the correlations that reference it; use Set.Chained instead.
	NoChain bool
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Lateness: time.Minute, MaxGroups: 100000, MaxBytes: 64 << 20, MaxEventIDs: 100}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Lateness == 0 {
		o.Lateness = d.Lateness
	}
	if o.NoLateness {
		o.Lateness = 0
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = d.MaxGroups
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = d.MaxBytes
	}
	if o.MaxEventIDs <= 0 {
		o.MaxEventIDs = d.MaxEventIDs
	}
	return o
}

// Status is an update's kind.
type Status string

// Statuses.
const (
	StatusOpened  Status = "opened"
	StatusUpdated Status = "updated"
	StatusClosed  Status = "closed"
)

// Reasons an episode closed.
const (
	ReasonQuiet   = "quiet"   // one timespan without a signal
	ReasonBound   = "bound"   // an upper bound of a count condition was exceeded
	ReasonEvicted = "evicted" // the group was evicted to keep the state bounded
)

// ShareEvents are the events of an episode that belong to one share.
type ShareEvents struct {
	Share    Share    `json:"share"`
	Count    int      `json:"count"`
	EventIDs []string `json:"event_ids"`
}

// Update is the state of an alert after a change. Its slices are the
// caller's: the engine does not write to them again.
type Update struct {
	AlertID uuid.UUID
	// Version starts at 1 and grows by one with every update of the alert.
	Version uint64
	Status  Status
	// Reason says why a closed episode closed.
	Reason string
	// Rule is the correlation's id.
	Rule string
	// GroupBy are the group-by names and Group their values.
	GroupBy []string
	Group   []string
	// WindowStart (exclusive) is the start of the window that fired;
	// WindowEnd the time of the latest event of the episode.
	WindowStart, WindowEnd time.Time
	// FiredAt is the time of the signal whose window fired.
	FiredAt time.Time
	// FirstSeen and LastSeen are the times of the first and latest events.
	FirstSeen, LastSeen time.Time
	// Count is the number of distinct events in the episode.
	Count int
	// EventIDs are the first Options.MaxEventIDs of them.
	EventIDs []string
	// Shares are the events per share, in order of first appearance.
	Shares []ShareEvents
	// Values are the distinct condition.field values of the episode (up to
	// Options.MaxEventIDs), for value_* types.
	Values []string
	// Metric is the condition's measure over the window of the latest
	// event: the count, distinct count, sum, average or percentile.
	Metric float64
}

// Counters are the engine's counts since it was created (or of the
// snapshot it was restored from).
type Counters struct {
	Applied    int64 `json:"applied"`    // signals that changed the state
	Duplicates int64 `json:"duplicates"` // signals of an event id the group already had
	Late       int64 `json:"late"`       // signals older than the watermark (ErrLate)
	Invalid    int64 `json:"invalid"`    // signals of unknown rules or malformed
	Evicted    int64 `json:"evicted"`    // groups evicted to stay within the bounds
	Trimmed    int64 `json:"trimmed"`    // oldest events dropped from a group larger than MaxBytes alone
	Opened     int64 `json:"opened"`     // episodes opened
	Closed     int64 `json:"closed"`     // episodes closed, evictions included
}

// entry is one signal kept in a group's window: 64 bytes and its strings.
type entry struct {
	t     int64
	seq   uint64
	id    string
	value string
	num   float64
	input int32
	share int32 // index in Engine.shares
}

type episode struct {
	id          uuid.UUID
	version     uint64
	fired       int64
	windowStart int64
	first, last int64
	count       int
	ids         []string
	shares      []ShareEvents
	values      []string
	valueSet    map[string]struct{}
	metric      float64
}

type group struct {
	key        string
	corr       *Correlation
	values     []string
	entries    []entry // buf[off:], in (time, arrival) order
	buf        []entry
	off        int
	ep         *episode
	prev, next *group // LRU list: head is the least recently updated
	deadline   int64  // latest entry time + span: after it the group is empty
	queued     bool   // in the deadline heap (maybe under an earlier deadline)
	bytes      int64
}

// insert puts en at position pos of the entries, reusing the space that
// dropped entries left at the front of buf before growing it.
func (g *group) insert(pos int, en entry) {
	if len(g.buf) == cap(g.buf) && g.off > 0 && g.off >= len(g.entries) {
		n := copy(g.buf, g.entries)
		clear(g.buf[n:])
		g.buf, g.off = g.buf[:n], 0
	}
	g.buf = append(g.buf, entry{})
	at := g.off + pos
	copy(g.buf[at+1:], g.buf[at:len(g.buf)-1])
	g.buf[at] = en
	g.entries = g.buf[g.off:]
}

// Engine is the correlation state of one partition. It is not safe for
// concurrent use.
type Engine struct {
	set        *Set
	o          Options
	groups     map[string]*group
	head, tail *group
	dl         deadlines
	watermark  int64 // unix ns; math.MinInt64 before the first signal
	maxSeen    int64
	seq        uint64
	bytes      int64
	c          Counters
	removed    uint64 // groups removed, to know when a looked-up group may be gone
	keyBuf     []byte
	out        []Update            // Apply's result, reused
	seen       map[string]struct{} // scratch for value_count
	nums       []float64           // scratch for percentiles
	// shares interns the signals' shares: entries keep an index. It holds
	// each distinct share once (organisations and objects of the registry).
	shares  []Share
	shareIx map[Share]int32
	// snapSize is the last snapshot's length, to size the next one's buffer.
	snapSize int
}

func (e *Engine) intern(s Share) int32 {
	if i, ok := e.shareIx[s]; ok {
		return i
	}
	if e.shareIx == nil {
		e.shareIx = map[Share]int32{}
	}
	i := int32(len(e.shares))
	e.shares = append(e.shares, s)
	e.shareIx[s] = i
	return i
}

// NewEngine returns an empty engine for set.
func NewEngine(set *Set, o Options) *Engine {
	return &Engine{set: set, o: o.withDefaults(), groups: map[string]*group{}, watermark: math.MinInt64, maxSeen: math.MinInt64}
}

// sub is a - b, saturating at math.MinInt64.
func sub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// Counters returns the engine's counts.
func (e *Engine) Counters() Counters { return e.c }

// Groups returns the number of groups kept.
func (e *Engine) Groups() int { return len(e.groups) }

// Bytes returns the estimated bytes of the kept state.
func (e *Engine) Bytes() int64 { return e.bytes }

// Watermark returns the current watermark: no signal older counts.
func (e *Engine) Watermark() time.Time { return time.Unix(0, e.watermark).UTC() }

// Partition returns the partition, of n, of a correlation's group: FNV-1a
// 64 over the correlation id and each group value, each followed by a zero
// byte, modulo n. It is stable across releases.
func Partition(ruleID string, groupValues []string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(ruleID))
	h.Write([]byte{0})
	for _, v := range groupValues {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return int(h.Sum64() % uint64(n))
}

func groupKey(corr string, values []string) string { return string(appendGroupKey(nil, corr, values)) }

// appendGroupKey appends the map key of a group: the correlation id and
// each value with its length, so no two groups share a key.
func appendGroupKey(b []byte, corr string, values []string) []byte {
	b = append(b, corr...)
	for _, v := range values {
		b = append(b, 0)
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return b
}

// alertNamespace is the UUIDv5 namespace of correlation alert ids.
var alertNamespace = uuid.MustParse("3b8f5e0c-2f4d-5a61-9c1e-7d2a4b6c8e10")

// AlertID returns the id of the alert of a correlation's group whose
// firing window began with an event at first.
func AlertID(ruleID string, groupValues []string, first time.Time) uuid.UUID {
	g, _ := json.Marshal(groupValues)
	return uuid.NewSHA1(alertNamespace, []byte(ruleID+"\n"+string(g)+"\n"+first.UTC().Format(time.RFC3339Nano)))
}

// Apply applies a signal and returns the updates it causes: episodes it
// opens or updates, episodes of any group that the advancing watermark
// closes, evictions, and (unless NoChain) the updates of chained
// correlations. The returned slice is reused by the next call to Apply
// (the Updates in it are the caller's to keep). A redelivered signal (an
// event id the group has at the same time) changes nothing. A signal older
// than the watermark fails with ErrLate; a malformed one with a
// *SignalError; both are counted.
func (e *Engine) Apply(s Signal) ([]Update, error) {
	clear(e.out)
	out, err := e.apply(s, e.out[:0], false)
	e.out = out
	return out, err
}

func (e *Engine) apply(s Signal, out []Update, chained bool) ([]Update, error) {
	c := e.set.byID[s.Correlation]
	if c == nil {
		e.c.Invalid++
		return out, &SignalError{ReasonUnknown, fmt.Sprintf("no correlation %q", s.Correlation)}
	}
	in := c.inputs[s.Rule]
	if in == nil {
		e.c.Invalid++
		return out, &SignalError{ReasonUnknown, fmt.Sprintf("correlation %q does not reference rule %q", c.ID, s.Rule)}
	}
	if len(s.Group) != len(c.GroupBy) || s.EventID == "" {
		e.c.Invalid++
		return out, &SignalError{ReasonMalformed, fmt.Sprintf("%d group values for %d group-by fields, event id %q", len(s.Group), len(c.GroupBy), s.EventID)}
	}
	var num float64
	if c.hasValue() {
		if s.Value == "" {
			e.c.Invalid++
			return out, &SignalError{ReasonMissingValue, "event " + s.EventID + " has no value"}
		}
		if c.numeric() {
			var err error
			if num, err = parseNumber(s.Value); err != nil {
				e.c.Invalid++
				return out, &SignalError{ReasonNotNumeric, fmt.Sprintf("event %s: %q is not a number", s.EventID, s.Value)}
			}
		}
	}
	t := s.Time.UnixNano()
	if t < e.watermark && !chained {
		e.c.Late++
		return out, &SignalError{ReasonLate, fmt.Sprintf("event %s at %s is older than the watermark %s", s.EventID,
			s.Time.UTC().Format(time.RFC3339Nano), e.Watermark().Format(time.RFC3339Nano))}
	}
	e.keyBuf = appendGroupKey(e.keyBuf[:0], c.ID, s.Group)
	g := e.groups[string(e.keyBuf)]
	if g != nil && g.has(t, s.EventID) {
		e.c.Duplicates++
		return out, nil
	}
	e.c.Applied++
	if t > e.maxSeen {
		e.maxSeen = t
		if wm := sub(t, int64(e.o.Lateness)); wm > e.watermark {
			e.watermark = wm
		}
	}
	if removed := e.removed; e.expireDue() {
		out = e.expire(out)
		if e.removed != removed {
			g = e.groups[string(e.keyBuf)]
		}
	}
	if g == nil {
		g = &group{key: string(e.keyBuf), corr: c, values: slices.Clone(s.Group)}
		g.bytes = groupCost(g)
		e.bytes += g.bytes
		e.groups[g.key] = g
	}
	e.touch(g)
	e.seq++
	en := entry{t: t, seq: e.seq, id: s.EventID, input: int32(in.idx), value: s.Value, num: num, share: e.intern(s.Share)}
	pos := len(g.entries)
	if pos > 0 && g.entries[pos-1].t > t {
		pos = sort.Search(len(g.entries), func(i int) bool { return g.entries[i].t > t })
	}
	g.insert(pos, en)
	e.grow(g, entryCost(&en))
	if d := g.entries[len(g.entries)-1].t + int64(c.Span); d > g.deadline {
		g.deadline = d
	}
	if !g.queued {
		g.queued = true
		heap.Push(&e.dl, deadline{g.deadline, g})
	}
	first := len(out)
	out = e.evaluate(g, pos, out)
	e.prune(g)
	out = e.enforce(g, out)
	if !e.o.NoChain {
		// Only this signal's own updates: the chained applies below handle
		// the chains of the updates they add.
		end := len(out)
		for i := first; i < end; i++ {
			for _, sig := range e.set.Chained(out[i]) {
				var err error
				if out, err = e.apply(sig, out, true); err != nil {
					return out, fmt.Errorf("chained signal: %w", err)
				}
			}
		}
	}
	return out, nil
}

// Chained returns the signals an update sends to the correlations that
// reference its correlation: one per opened episode.
func (s *Set) Chained(u Update) []Signal {
	if u.Status != StatusOpened {
		return nil
	}
	up := s.byID[u.Rule]
	if up == nil {
		return nil
	}
	var out []Signal
	for _, d := range up.feeds {
		in := d.inputs[up.ID]
		sig := Signal{Correlation: d.ID, Rule: up.ID, EventID: u.AlertID.String(), Time: u.FiredAt}
		if len(u.Shares) > 0 {
			sig.Share = u.Shares[0].Share
		}
		value := func(f string) string { return u.Group[slices.Index(up.GroupBy, f)] }
		for _, f := range in.group {
			sig.Group = append(sig.Group, value(f))
		}
		if in.value != "" {
			sig.Value = value(in.value)
		}
		out = append(out, sig)
	}
	return out
}

// Advance moves the watermark to w (if later) and closes the episodes it
// ends, freeing groups whose events are all out of every future window.
func (e *Engine) Advance(w time.Time) []Update {
	if wn := w.UnixNano(); wn > e.watermark {
		e.watermark = wn
	}
	return e.expire(nil)
}

// Episodes returns the current state of the open episodes, least recently
// updated first (for a final report; the state does not change).
func (e *Engine) Episodes() []Update {
	var out []Update
	for g := e.head; g != nil; g = g.next {
		if g.ep != nil {
			st := StatusUpdated
			if g.ep.version == 1 {
				st = StatusOpened
			}
			out = append(out, e.update(g, st, ""))
		}
	}
	return out
}

// evaluate runs the episode logic for a new entry at pos.
func (e *Engine) evaluate(g *group, pos int, out []Update) []Update {
	c := g.corr
	span := int64(c.Span)
	en := &g.entries[pos]
	if ep := g.ep; ep != nil {
		if en.t-ep.last >= span {
			out = e.close(g, ReasonQuiet, out)
		} else if en.t > ep.first-span {
			e.join(g, en)
			if en.t > ep.last {
				ep.last = en.t
			}
			if en.t < ep.first {
				ep.first = en.t
			}
			ep.metric = e.metric(g, len(g.entries)-1)
			out = append(out, e.bump(g, StatusUpdated))
			if c.countType() && c.exceeded(ep.metric) {
				out = e.close(g, ReasonBound, out)
			}
			return out
		} else {
			return out
		}
	}
	// No open episode: the windows that now contain the entry are those of
	// the entries from pos on within one timespan.
	for j := pos; j < len(g.entries) && g.entries[j].t < en.t+span; j++ {
		if j > pos && g.entries[j].t == g.entries[j-1].t {
			continue
		}
		hi := j
		for hi+1 < len(g.entries) && g.entries[hi+1].t == g.entries[j].t {
			hi++
		}
		m := e.metric(g, hi)
		if !c.holds(m) {
			continue
		}
		tj := g.entries[j].t
		lo := windowStart(g.entries, tj, span)
		first := g.entries[lo].t
		ep := &episode{fired: tj, windowStart: tj - span, first: first, last: g.entries[len(g.entries)-1].t, metric: m,
			id: AlertID(c.ID, g.values, time.Unix(0, first))}
		g.ep = ep
		e.grow(g, episodeCost)
		for k := lo; k < len(g.entries); k++ {
			e.join(g, &g.entries[k])
		}
		e.c.Opened++
		out = append(out, e.bump(g, StatusOpened))
		if c.countType() && c.exceeded(m) {
			out = e.close(g, ReasonBound, out)
		}
		return out
	}
	return out
}

// has reports whether the group holds event id at time t. An event's
// signals all carry its time, so only entries at t need a look.
func (g *group) has(t int64, id string) bool {
	i := len(g.entries) - 1
	if i >= 0 && g.entries[i].t > t {
		i = sort.Search(len(g.entries), func(i int) bool { return g.entries[i].t > t }) - 1
	}
	for ; i >= 0 && g.entries[i].t == t; i-- {
		if g.entries[i].id == id {
			return true
		}
	}
	return false
}

// windowStart returns the index of the first entry in (t - span, t].
func windowStart(es []entry, t, span int64) int {
	// Pruning leaves about one lateness of entries before the window of
	// the latest one: look there first.
	for i := 0; i < len(es) && i < 8; i++ {
		if es[i].t > t-span {
			return i
		}
	}
	return sort.Search(len(es), func(i int) bool { return es[i].t > t-span })
}

// join adds an entry to the open episode.
func (e *Engine) join(g *group, en *entry) {
	ep := g.ep
	ep.count++
	max := e.o.MaxEventIDs
	if len(ep.ids) < max {
		ep.ids = append(ep.ids, en.id)
		e.grow(g, idCost(en.id))
	}
	share := e.shares[en.share]
	i := slices.IndexFunc(ep.shares, func(s ShareEvents) bool { return s.Share == share })
	if i < 0 {
		ep.shares = append(ep.shares, ShareEvents{Share: share})
		i = len(ep.shares) - 1
		e.grow(g, shareCost(share))
	}
	sh := &ep.shares[i]
	sh.Count++
	if len(sh.EventIDs) < max {
		sh.EventIDs = append(sh.EventIDs, en.id)
		e.grow(g, idCost(en.id))
	}
	if g.corr.hasValue() {
		if ep.valueSet == nil {
			ep.valueSet = map[string]struct{}{}
		}
		if _, ok := ep.valueSet[en.value]; !ok && len(ep.values) < max {
			ep.valueSet[en.value] = struct{}{}
			ep.values = append(ep.values, en.value)
			e.grow(g, 2*idCost(en.value))
		}
	}
}

// metric computes the condition's measure over the window that ends with
// entry hi: (entries[hi].t - span, entries[hi].t].
func (e *Engine) metric(g *group, hi int) float64 {
	c := g.corr
	es := g.entries
	lo := windowStart(es, es[hi].t, int64(c.Span))
	w := es[lo : hi+1]
	switch c.Type {
	case "event_count":
		return float64(len(w))
	case "value_count":
		if len(w) == 1 {
			return 1
		}
		if e.seen == nil {
			e.seen = map[string]struct{}{}
		}
		clear(e.seen)
		for i := range w {
			e.seen[w[i].value] = struct{}{}
		}
		n := len(e.seen)
		clear(e.seen) // drop references to the values
		return float64(n)
	case "temporal":
		var have uint64
		n := 0
		for i := len(w) - 1; i >= 0 && n < len(c.Inputs); i-- {
			if bit := uint64(1) << (w[i].input % 64); have&bit == 0 {
				have |= bit
				n++
			}
		}
		return float64(n)
	case "temporal_ordered":
		k := 0
		for i := range w {
			if k < len(c.Inputs) && int(w[i].input) == k {
				k++
			}
		}
		return float64(k)
	case "value_sum", "value_avg":
		sum := 0.0
		for i := range w {
			sum += w[i].num
		}
		if c.Type == "value_avg" {
			return sum / float64(len(w))
		}
		return sum
	default: // value_percentile, value_median
		xs := e.nums[:0]
		for i := range w {
			xs = append(xs, w[i].num)
		}
		e.nums = xs
		return percentile(xs, c.percentile)
	}
}

// percentile is the p-th percentile of xs by linear interpolation between
// closest ranks (numpy's default); xs is sorted in place.
func percentile(xs []float64, p float64) float64 {
	slices.Sort(xs)
	r := p / 100 * float64(len(xs)-1)
	i := int(r)
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (r-float64(i))*(xs[i+1]-xs[i])
}

// bump increments the episode's version and returns its update.
func (e *Engine) bump(g *group, st Status) Update {
	g.ep.version++
	return e.update(g, st, "")
}

func (e *Engine) update(g *group, st Status, reason string) Update {
	ep := g.ep
	u := Update{AlertID: ep.id, Version: ep.version, Status: st, Reason: reason, Rule: g.corr.ID, GroupBy: g.corr.GroupBy,
		Group: g.values[:len(g.values):len(g.values)], WindowStart: time.Unix(0, ep.windowStart).UTC(),
		WindowEnd: time.Unix(0, ep.last).UTC(), FiredAt: time.Unix(0, ep.fired).UTC(), FirstSeen: time.Unix(0, ep.first).UTC(),
		LastSeen: time.Unix(0, ep.last).UTC(), Count: ep.count, EventIDs: ep.ids[:len(ep.ids):len(ep.ids)],
		Values: ep.values[:len(ep.values):len(ep.values)], Metric: ep.metric}
	u.Shares = make([]ShareEvents, len(ep.shares))
	for i, s := range ep.shares {
		s.EventIDs = s.EventIDs[:len(s.EventIDs):len(s.EventIDs)]
		u.Shares[i] = s
	}
	return u
}

func (e *Engine) close(g *group, reason string, out []Update) []Update {
	g.ep.version++
	out = append(out, e.update(g, StatusClosed, reason))
	e.c.Closed++
	e.grow(g, -e.episodeBytes(g.ep))
	g.ep = nil
	return out
}

// prune drops entries no future window can contain: at or before
// watermark - span.
func (e *Engine) prune(g *group) {
	cut := sub(e.watermark, int64(g.corr.Span))
	n := 0
	for n < len(g.entries) && g.entries[n].t <= cut {
		n++
	}
	e.dropFront(g, n)
}

func (e *Engine) dropFront(g *group, n int) {
	if n == 0 {
		return
	}
	var freed int64
	for i := 0; i < n; i++ {
		freed += entryCost(&g.entries[i])
	}
	clear(g.entries[:n])
	g.off += n
	g.entries = g.buf[g.off:]
	if len(g.entries) == 0 {
		g.buf, g.off, g.entries = g.buf[:0], 0, g.buf[:0]
	}
	e.grow(g, -freed)
}

// expire closes the episodes and frees the groups whose deadline the
// watermark has reached, in deadline order.
func (e *Engine) expire(out []Update) []Update {
	for e.expireDue() {
		d := heap.Pop(&e.dl).(deadline)
		g := d.g
		if e.groups[g.key] != g {
			continue // evicted
		}
		if g.deadline > d.at {
			heap.Push(&e.dl, deadline{g.deadline, g})
			continue
		}
		g.queued = false
		if g.ep != nil {
			out = e.close(g, ReasonQuiet, out)
		}
		e.remove(g)
	}
	return out
}

func (e *Engine) expireDue() bool { return len(e.dl) > 0 && e.dl[0].at <= e.watermark }

// enforce evicts the least recently updated groups (never cur while others
// remain) until the bounds hold.
func (e *Engine) enforce(cur *group, out []Update) []Update {
	for len(e.groups) > e.o.MaxGroups || e.bytes > e.o.MaxBytes {
		g := e.head
		if g == cur {
			g = cur.next
		}
		if g == nil {
			// cur alone is too large: drop its oldest events.
			if len(cur.entries) <= 1 {
				return out
			}
			e.c.Trimmed++
			e.dropFront(cur, 1)
			continue
		}
		if g.ep != nil {
			out = e.close(g, ReasonEvicted, out)
		}
		e.c.Evicted++
		e.remove(g)
	}
	if len(e.dl) > 2*len(e.groups)+64 {
		e.rebuildDeadlines()
	}
	return out
}

// rebuildDeadlines drops the heap entries of evicted groups, which would
// otherwise keep them in memory until their deadline: one entry per group,
// under its current deadline.
func (e *Engine) rebuildDeadlines() {
	dl := make(deadlines, 0, len(e.groups))
	for g := e.head; g != nil; g = g.next {
		dl = append(dl, deadline{g.deadline, g})
	}
	heap.Init(&dl)
	e.dl = dl
}

func (e *Engine) remove(g *group) {
	e.removed++
	delete(e.groups, g.key)
	e.bytes -= g.bytes
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		e.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		e.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

// touch makes g the most recently updated group.
func (e *Engine) touch(g *group) {
	if e.tail == g {
		return
	}
	if g.prev != nil || g.next != nil || e.head == g {
		if g.prev != nil {
			g.prev.next = g.next
		} else {
			e.head = g.next
		}
		g.next.prev = g.prev
	}
	g.prev, g.next = e.tail, nil
	if e.tail != nil {
		e.tail.next = g
	} else {
		e.head = g
	}
	e.tail = g
}

func (e *Engine) grow(g *group, n int64) { g.bytes += n; e.bytes += n }

// Byte estimates: what the kept strings and structures take, roughly.
const episodeCost = 256

func groupCost(g *group) int64 {
	n := int64(480 + 2*len(g.key)) // group, map slot, heap entry, entry buffer slack: measured in TestStateBounded
	for _, v := range g.values {
		n += int64(16 + len(v))
	}
	return n
}
func entryCost(en *entry) int64 {
	return int64(96 + 2*len(en.id) + len(en.value))
}
func idCost(id string) int64 { return int64(16 + len(id)) }
func shareCost(s Share) int64 {
	return int64(96 + len(s.Org) + len(s.Object) + len(s.Sector) + len(s.OISC))
}

func (e *Engine) episodeBytes(ep *episode) int64 {
	n := int64(episodeCost)
	for _, id := range ep.ids {
		n += idCost(id)
	}
	for _, s := range ep.shares {
		n += shareCost(s.Share)
		for _, id := range s.EventIDs {
			n += idCost(id)
		}
	}
	for _, v := range ep.values {
		n += 2 * idCost(v)
	}
	return n
}

// deadline is a group's place in the deadline heap. A group's deadline
// only grows; the heap keeps the one it had when queued and expire
// requeues it under the current one, so every signal need not fix the heap.
// Entries of evicted groups are skipped when they come up.
type deadline struct {
	at int64
	g  *group
}

// deadlines is a min-heap by (deadline, group key): groups close in that
// order, however often they were requeued.
type deadlines []deadline

func (d deadlines) Len() int { return len(d) }
func (d deadlines) Less(i, j int) bool {
	if d[i].at != d[j].at {
		return d[i].at < d[j].at
	}
	return d[i].g.key < d[j].g.key
}
func (d deadlines) Swap(i, j int) { d[i], d[j] = d[j], d[i] }
func (d *deadlines) Push(x any)   { *d = append(*d, x.(deadline)) }
func (d *deadlines) Pop() any {
	old := *d
	x := old[len(old)-1]
	old[len(old)-1] = deadline{}
	*d = old[:len(old)-1]
	return x
}
