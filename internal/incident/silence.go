package incident

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MatchOp is a matcher's operator (Alertmanager's).
type MatchOp string

// Operators.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher tests one label of an alert: rule_id, rule_title, level, org,
// object, sector, oisc, correlation ("true" for a correlation rule's
// alert), tag (any of the tags) or an entity field such as source.ip. A missing label is the empty string. Regexps are anchored.
type Matcher struct {
	Name  string  `json:"name" yaml:"name"`
	Op    MatchOp `json:"op" yaml:"op"`
	Value string  `json:"value" yaml:"value"`
	re    *regexp.Regexp
}

func (m *Matcher) compile() error {
	switch m.Op {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			return fmt.Errorf("matcher %s%s%q: %w", m.Name, m.Op, m.Value, err)
		}
		m.re = re
	default:
		return fmt.Errorf("matcher %s: unknown operator %q", m.Name, m.Op)
	}
	if m.Name == "" {
		return fmt.Errorf("matcher: no label name")
	}
	return nil
}

func (m *Matcher) matchValue(v string) bool {
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// Matches reports whether the alert's label satisfies the matcher; for
// "tag", a positive operator needs one matching tag and a negative one
// needs every tag to satisfy it.
func (m *Matcher) Matches(a *Alert) bool {
	if m.re == nil && (m.Op == MatchRegexp || m.Op == MatchNotRegexp) {
		if m.compile() != nil {
			return false
		}
	}
	if m.Name == "tag" {
		neg := m.Op == MatchNotEqual || m.Op == MatchNotRegexp
		if len(a.Tags) == 0 {
			return m.matchValue("")
		}
		for _, t := range a.Tags {
			ok := m.matchValue(t)
			if !neg && ok {
				return true
			}
			if neg && !ok {
				return false
			}
		}
		return neg
	}
	return m.matchValue(label(a, m.Name))
}

func label(a *Alert, name string) string {
	switch name {
	case "rule_id", "rule":
		return a.RuleID
	case "rule_title":
		return a.RuleTitle
	case "level":
		return a.Level
	case "org":
		return a.Org
	case "object":
		return a.Object
	case "sector":
		return a.Sector
	case "oisc":
		return a.OISC
	case "correlation":
		return strconv.FormatBool(a.Correlation)
	}
	return a.Entities[name]
}

func matchAll(ms []Matcher, a *Alert) bool {
	for i := range ms {
		if !ms[i].Matches(a) {
			return false
		}
	}
	return true
}

// Silence mutes the alerts its matchers all match between StartsAt and
// EndsAt: a silenced alert is stored, counted and marked by the caller,
// and opens or updates no incident. A silence never touches an incident
// that exists (its updates and notification stages go on).
type Silence struct {
	ID       string    `json:"id"`
	Matchers []Matcher `json:"matchers"`
	Owner    string    `json:"owner"`
	Reason   string    `json:"reason"`
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at"`
}

// Validate checks the silence and compiles its matchers.
func (s *Silence) Validate() error {
	switch {
	case s.ID == "":
		return fmt.Errorf("silence: no id")
	case s.Owner == "" || s.Reason == "":
		return fmt.Errorf("silence %s: owner and reason are required", s.ID)
	case s.EndsAt.IsZero():
		return fmt.Errorf("silence %s: no expiry (ends_at)", s.ID)
	case len(s.Matchers) == 0:
		return fmt.Errorf("silence %s: no matchers (a silence of everything is not allowed)", s.ID)
	}
	for i := range s.Matchers {
		if err := s.Matchers[i].compile(); err != nil {
			return fmt.Errorf("silence %s: %w", s.ID, err)
		}
	}
	return nil
}

// Active reports whether the silence applies at now.
func (s *Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Silences is a set of silences.
type Silences struct{ list []Silence }

// Set replaces silence s (by id), after validating it.
func (ss *Silences) Set(s Silence) error {
	if err := s.Validate(); err != nil {
		return err
	}
	i := slices.IndexFunc(ss.list, func(x Silence) bool { return x.ID == s.ID })
	if i < 0 {
		ss.list = append(ss.list, s)
		slices.SortFunc(ss.list, func(a, b Silence) int { return strings.Compare(a.ID, b.ID) })
	} else {
		ss.list[i] = s
	}
	return nil
}

// Expire drops silences that ended by now.
func (ss *Silences) Expire(now time.Time) {
	ss.list = slices.DeleteFunc(ss.list, func(s Silence) bool { return !now.Before(s.EndsAt) })
}

// Match returns the id of the first (by id) active silence muting a.
func (ss *Silences) Match(a *Alert, now time.Time) string {
	for i := range ss.list {
		if ss.list[i].Active(now) && matchAll(ss.list[i].Matchers, a) {
			return ss.list[i].ID
		}
	}
	return ""
}

// Get returns the silence with id, if the set holds it.
func (ss *Silences) Get(id string) (Silence, bool) {
	i := slices.IndexFunc(ss.list, func(x Silence) bool { return x.ID == id })
	if i < 0 {
		return Silence{}, false
	}
	return ss.list[i], true
}
