package correlate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// Correlation is a compiled correlation rule.
type Correlation struct {
	// Rule is the parsed rule.
	Rule *sigma.Rule
	// ID is the rule's id, or its title when it has none (as
	// sigma.CompiledRule.ID).
	ID string
	// Type is the correlation type (sigma.Correlation.Type).
	Type string
	// Span is the timespan.
	Span time.Duration
	// Inputs are the ids of the referenced rules, in the order of rules:.
	Inputs []string
	// GroupBy are the group-by names as written (fields or aliases).
	GroupBy []string
	// Generate is the rule's generate attribute.
	Generate bool

	cond       []bound
	percentile float64
	inputs     map[string]*input
	feeds      []*Correlation // correlations that reference this one
}

type input struct {
	idx   int
	group []string // the field holding each group-by value, in this input's events
	value string   // condition.field in this input's events
	// upstream is set when the input is a correlation (a chain).
	upstream *Correlation
}

type bound struct {
	op string
	v  float64
}

// Fields returns the event fields a signal of rule ruleID carries for c:
// one per group-by entry (aliases resolved) and condition.field ("" when
// the type has none). ok is false when c does not reference ruleID.
func (c *Correlation) Fields(ruleID string) (group []string, value string, ok bool) {
	in := c.inputs[ruleID]
	if in == nil {
		return nil, "", false
	}
	return in.group, in.value, true
}

// hasValue reports whether the type aggregates condition.field.
func (c *Correlation) hasValue() bool {
	switch c.Type {
	case "value_count", "value_sum", "value_avg", "value_percentile", "value_median":
		return true
	}
	return false
}

// numeric reports whether condition.field must be a number.
func (c *Correlation) numeric() bool { return c.hasValue() && c.Type != "value_count" }

// countType reports whether the metric of a window only grows as events
// join it, so that exceeding an upper bound is final.
func (c *Correlation) countType() bool {
	switch c.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
		return true
	}
	return false
}

func (c *Correlation) holds(m float64) bool {
	for _, b := range c.cond {
		var ok bool
		switch b.op {
		case "gt":
			ok = m > b.v
		case "gte":
			ok = m >= b.v
		case "lt":
			ok = m < b.v
		case "lte":
			ok = m <= b.v
		case "eq":
			ok = m == b.v
		case "neq":
			ok = m != b.v
		}
		if !ok {
			return false
		}
	}
	return true
}

// exceeded reports whether m is above an upper bound of the condition.
func (c *Correlation) exceeded(m float64) bool {
	for _, b := range c.cond {
		switch b.op {
		case "lt":
			if m >= b.v {
				return true
			}
		case "lte", "eq":
			if m > b.v {
				return true
			}
		}
	}
	return false
}

// Set is a compiled set of correlation rules. It is immutable and safe for
// concurrent use.
type Set struct {
	corrs []*Correlation
	byID  map[string]*Correlation
	// feeds maps a rule id to the correlations that reference it.
	feeds map[string][]*Correlation
}

// Correlations returns the compiled correlations in rule order.
func (s *Set) Correlations() []*Correlation { return s.corrs }

// Correlation returns the correlation with that id, or nil.
func (s *Set) Correlation(id string) *Correlation { return s.byID[id] }

// Feeds returns the correlations rule ruleID feeds (detection rule or
// correlation id).
func (s *Set) Feeds(ruleID string) []*Correlation { return s.feeds[ruleID] }

// Referenced reports whether a correlation references rule ruleID.
func (s *Set) Referenced(ruleID string) bool { return len(s.feeds[ruleID]) > 0 }

// Generates reports whether rule ruleID raises alerts of its own: it is
// referenced by no correlation, or by one with generate: true.
func (s *Set) Generates(ruleID string) bool {
	fs := s.feeds[ruleID]
	if len(fs) == 0 {
		return true
	}
	for _, c := range fs {
		if c.Generate {
			return true
		}
	}
	return false
}

func ruleID(r *sigma.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	return r.Title
}

// Compile compiles the correlation rules among rules, resolving their
// references against all of rules (by id, then by name). Detection rules
// are only looked up. It returns the set and the correlations it rejected
// with their reasons.
func Compile(rules []*sigma.Rule) (*Set, []sigma.Rejected) {
	byRef := map[string]*sigma.Rule{}
	for _, r := range rules {
		if r.Detection == nil && r.Correlation == nil {
			continue
		}
		if id := ruleID(r); byRef[id] == nil {
			byRef[id] = r
		}
	}
	byName := map[string]*sigma.Rule{}
	for _, r := range rules {
		if r.Name != "" && byName[r.Name] == nil && (r.Detection != nil || r.Correlation != nil) {
			byName[r.Name] = r
		}
	}
	resolve := func(ref string) *sigma.Rule {
		if r := byRef[ref]; r != nil {
			return r
		}
		return byName[ref]
	}
	c := &compiler{resolve: resolve, done: map[*sigma.Rule]*Correlation{}, failed: map[*sigma.Rule]error{},
		visiting: map[*sigma.Rule]bool{}}
	set := &Set{byID: map[string]*Correlation{}, feeds: map[string][]*Correlation{}}
	var rejected []sigma.Rejected
	for _, r := range rules {
		if r.Correlation == nil {
			continue
		}
		corr, err := c.compile(r)
		if err != nil {
			rejected = append(rejected, sigma.Rejected{File: r.File, ID: r.ID, Err: fmt.Errorf("correlation %q: %w", ruleID(r), err)})
			continue
		}
		if set.byID[corr.ID] != nil {
			rejected = append(rejected, sigma.Rejected{File: r.File, ID: r.ID, Err: fmt.Errorf("correlation %q: a second rule with this id", corr.ID)})
			continue
		}
		set.corrs = append(set.corrs, corr)
		set.byID[corr.ID] = corr
	}
	for _, corr := range set.corrs {
		for _, in := range corr.Inputs {
			if !slices.Contains(set.feeds[in], corr) {
				set.feeds[in] = append(set.feeds[in], corr)
			}
			if up := corr.inputs[in].upstream; up != nil && !slices.Contains(up.feeds, corr) {
				up.feeds = append(up.feeds, corr)
			}
		}
	}
	return set, rejected
}

type compiler struct {
	resolve  func(string) *sigma.Rule
	done     map[*sigma.Rule]*Correlation
	failed   map[*sigma.Rule]error
	visiting map[*sigma.Rule]bool
}

var errCycle = errors.New("correlation chain refers back to itself")

func (cp *compiler) compile(r *sigma.Rule) (*Correlation, error) {
	if c := cp.done[r]; c != nil {
		return c, nil
	}
	if err := cp.failed[r]; err != nil {
		return nil, err
	}
	if cp.visiting[r] {
		return nil, errCycle
	}
	cp.visiting[r] = true
	defer delete(cp.visiting, r)
	c, err := cp.build(r)
	if err != nil {
		cp.failed[r] = err
		return nil, err
	}
	cp.done[r] = c
	return c, nil
}

func (cp *compiler) build(r *sigma.Rule) (*Correlation, error) {
	sc := r.Correlation
	c := &Correlation{Rule: r, ID: ruleID(r), Type: sc.Type, Span: sc.Timespan, GroupBy: sc.GroupBy,
		Generate: sc.Generate, percentile: sc.Percentile, inputs: map[string]*input{}}
	if c.Span <= 0 {
		return nil, errors.New("timespan must be positive")
	}
	for _, op := range []string{"gt", "gte", "lt", "lte", "eq", "neq"} {
		if v, ok := sc.Condition[op]; ok {
			c.cond = append(c.cond, bound{op, v})
		}
	}
	if len(c.cond) == 0 {
		return nil, errors.New("no condition")
	}
	refs := map[string]string{} // reference as written -> resolved id
	for _, ref := range sc.Rules {
		t := cp.resolve(ref)
		if t == nil {
			return nil, fmt.Errorf("rule %q: no rule has this id or name", ref)
		}
		id := ruleID(t)
		refs[ref] = id
		if _, dup := c.inputs[id]; dup {
			return nil, fmt.Errorf("rule %q referenced twice", ref)
		}
		in := &input{idx: len(c.Inputs)}
		if t.Correlation != nil {
			up, err := cp.compile(t)
			if err != nil {
				if errors.Is(err, errCycle) {
					return nil, err
				}
				return nil, fmt.Errorf("rule %q: the referenced correlation was rejected: %w", ref, err)
			}
			in.upstream = up
		}
		c.inputs[id] = in
		c.Inputs = append(c.Inputs, id)
	}
	if c.Type == "temporal" && len(c.Inputs) > 64 {
		return nil, fmt.Errorf("temporal correlations take at most 64 rules, not %d", len(c.Inputs))
	}
	// aliases: alias -> input id -> field
	aliases := map[string]map[string]string{}
	for alias, m := range sc.Aliases {
		aliases[alias] = map[string]string{}
		for ref, field := range m {
			id, ok := refs[ref]
			if !ok {
				if t := cp.resolve(ref); t != nil {
					id, ok = ruleID(t), c.inputs[ruleID(t)] != nil
				}
			}
			if !ok {
				return nil, fmt.Errorf("alias %q names rule %q, which the correlation does not reference", alias, ref)
			}
			aliases[alias][id] = field
		}
	}
	fieldFor := func(name, id string) string {
		if m, ok := aliases[name]; ok {
			if f, ok := m[id]; ok {
				return f
			}
		}
		return name
	}
	for _, id := range c.Inputs {
		in := c.inputs[id]
		for _, g := range c.GroupBy {
			in.group = append(in.group, fieldFor(g, id))
		}
		if c.hasValue() {
			in.value = fieldFor(sc.Field, id)
		}
		if up := in.upstream; up != nil {
			for _, f := range append(slices.Clone(in.group), in.value) {
				if f != "" && !slices.Contains(up.GroupBy, f) {
					return nil, fmt.Errorf("field %q is not among the group-by fields %v of the referenced correlation %q", f, up.GroupBy, up.ID)
				}
			}
		}
	}
	return c, nil
}

// Share is who an event belongs to: the caller's data, kept per episode so
// that each organisation can get its own alert row.
type Share struct {
	Org    string `json:"org,omitempty"`
	Object string `json:"object,omitempty"`
	Sector string `json:"sector,omitempty"`
	OISC   string `json:"oisc,omitempty"`
}

// Signal is one match of a referenced rule on one event, for one
// correlation.
type Signal struct {
	// Correlation is the id of the correlation the signal feeds.
	Correlation string
	// Rule is the id of the referenced rule that matched.
	Rule string
	// EventID identifies the event; it counts once per correlation and group.
	EventID string
	// Time is the event's own time.
	Time time.Time
	// Group holds the group-by values, in the correlation's group-by order.
	Group []string
	// Value is condition.field's value for value_* types.
	Value string
	// Share is the caller's data about the event's owner.
	Share Share
}

// Rejection reasons, for SignalError.Reason and a metric's reason label.
const (
	ReasonLate              = "late"
	ReasonMissingGroupField = "missing_group_field"
	ReasonMissingValue      = "missing_value_field"
	ReasonNotNumeric        = "value_not_numeric"
	ReasonUnknown           = "unknown_rule"
	ReasonMalformed         = "malformed_signal"
)

// SignalError is a signal that cannot be applied, with the reason.
type SignalError struct {
	Reason string
	Detail string
}

func (e *SignalError) Error() string { return e.Reason + ": " + e.Detail }

// Is makes errors.Is(err, ErrLate) hold for late signals.
func (e *SignalError) Is(target error) bool { return target == ErrLate && e.Reason == ReasonLate }

// ErrLate matches (errors.Is) the error of a signal older than the
// engine's watermark.
var ErrLate = errors.New("late signal")

// Signal builds the signal of a match of rule ruleID on an event for c,
// reading the event's fields with field. It fails with a *SignalError when
// a group-by field or condition.field is missing or not a number where one
// is needed.
func (c *Correlation) Signal(ruleID, eventID string, t time.Time, field func(name string) (string, bool), share Share) (Signal, error) {
	in := c.inputs[ruleID]
	if in == nil {
		return Signal{}, &SignalError{ReasonUnknown, fmt.Sprintf("correlation %q does not reference rule %q", c.ID, ruleID)}
	}
	s := Signal{Correlation: c.ID, Rule: ruleID, EventID: eventID, Time: t, Share: share}
	if len(in.group) > 0 {
		s.Group = make([]string, len(in.group))
	}
	for i, f := range in.group {
		v, ok := field(f)
		if !ok {
			return Signal{}, &SignalError{ReasonMissingGroupField, fmt.Sprintf("event %s has no group-by field %q", eventID, f)}
		}
		s.Group[i] = v
	}
	if in.value != "" {
		v, ok := field(in.value)
		if !ok {
			return Signal{}, &SignalError{ReasonMissingValue, fmt.Sprintf("event %s has no field %q", eventID, in.value)}
		}
		if c.numeric() {
			if _, err := parseNumber(v); err != nil {
				return Signal{}, &SignalError{ReasonNotNumeric, fmt.Sprintf("event %s: field %q is %q, not a number", eventID, in.value, v)}
			}
		}
		s.Value = v
	}
	return s, nil
}

func parseNumber(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = errors.New("not finite")
	}
	return f, err
}

// EventFields reads fields of a Sigma event as strings, for
// Correlation.Signal: strings as they are, numbers in their JSON form,
// booleans as true/false, other values as JSON. A null or absent field is
// missing.
func EventFields(ev sigma.Event) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := ev.Field(name)
		if !ok || v == nil {
			return "", false
		}
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case int64:
			return strconv.FormatInt(x, 10), true
		case int:
			return strconv.Itoa(x), true
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}
