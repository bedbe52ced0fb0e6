package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Logsource is a rule's log source.
type Logsource struct {
	Product    string `yaml:"product,omitempty" json:"product,omitempty"`
	Category   string `yaml:"category,omitempty" json:"category,omitempty"`
	Service    string `yaml:"service,omitempty" json:"service,omitempty"`
	Definition string `yaml:"definition,omitempty" json:"definition,omitempty"`
}

// Related is a related rule reference.
type Related struct {
	ID   string `yaml:"id" json:"id"`
	Type string `yaml:"type" json:"type"`
}

// Rule is a parsed Sigma rule: a detection rule (Detection set) or a
// correlation rule (Correlation set). Attributes the specification does not
// define are kept in Custom.
type Rule struct {
	Title          string     `yaml:"title"`
	ID             string     `yaml:"id"`
	Name           string     `yaml:"name"`
	Status         string     `yaml:"status"`
	Description    string     `yaml:"description"`
	License        string     `yaml:"license"`
	References     []string   `yaml:"references"`
	Author         string     `yaml:"author"`
	Date           string     `yaml:"date"`
	Modified       string     `yaml:"modified"`
	Tags           []string   `yaml:"tags"`
	Level          string     `yaml:"level"`
	Logsource      Logsource  `yaml:"logsource"`
	Fields         []string   `yaml:"fields"`
	FalsePositives []string   `yaml:"falsepositives"`
	Related        []Related  `yaml:"related"`
	Scope          []string   `yaml:"scope"`
	Taxonomy       string     `yaml:"taxonomy"`
	Detection      *Detection `yaml:"-"`
	// Correlation is set for correlation rules.
	Correlation *Correlation `yaml:"-"`
	// Custom holds attributes the specification does not define.
	Custom map[string]any `yaml:"-"`

	// File is where the rule was read from; Doc its index in the file.
	File string `yaml:"-"`
	Doc  int    `yaml:"-"`
}

// Detection is a rule's detection section: named search identifiers and
// the condition over them.
type Detection struct {
	// Searches maps identifier names to their YAML definitions.
	Searches map[string]*yaml.Node
	// Order lists the identifiers in the order the rule defines them.
	Order []string
	// Conditions are the condition expressions; several are OR-ed.
	Conditions []string
	// Timeframe is the legacy aggregation window, if given.
	Timeframe string
}

// Correlation is a correlation rule's correlation section (Sigma
// correlation rules specification v2.1, with pySigma's value_median). The
// evaluator is internal/correlate; this carries everything it needs.
type Correlation struct {
	// Type is event_count, value_count, temporal, temporal_ordered,
	// value_sum, value_avg, value_percentile or value_median.
	Type string
	// Rules are the referenced rules (ids or names), in order.
	Rules []string
	// GroupBy fields (or aliases); empty: one group.
	GroupBy []string
	// Timespan is the window.
	Timespan time.Duration
	// Condition maps operators (gt, gte, lt, lte, eq, neq) to thresholds;
	// every one must hold, so two make a range. A temporal correlation
	// without a condition gets gte: len(Rules), as in pySigma.
	Condition map[string]float64
	// Field is condition.field: the field value_* types aggregate.
	Field string
	// Percentile is value_percentile's rank (0 to 100); 50 for value_median.
	Percentile float64
	// Aliases maps an alias to a field name per referenced rule.
	Aliases map[string]map[string]string
	// Generate makes the referenced rules also emit their own alerts.
	Generate bool
}

// Correlation types.
var correlationTypes = map[string]bool{"event_count": true, "value_count": true, "temporal": true,
	"temporal_ordered": true, "value_sum": true, "value_avg": true, "value_percentile": true, "value_median": true}

// knownTop are the attributes the specification defines.
var knownTop = map[string]bool{"title": true, "id": true, "name": true, "status": true, "description": true,
	"license": true, "references": true, "author": true, "date": true, "modified": true, "tags": true, "level": true,
	"logsource": true, "detection": true, "fields": true, "falsepositives": true, "related": true, "scope": true,
	"taxonomy": true, "correlation": true, "action": true, "filter": true}

// ParseError is a rule that cannot be used, with the reason.
type ParseError struct {
	File string
	Doc  int
	Err  error
}

func (e *ParseError) Error() string {
	if e.Doc > 0 {
		return fmt.Sprintf("%s (document %d): %v", e.File, e.Doc+1, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ErrLegacy marks constructs the current specification removed
// (aggregations after a pipe, near).
var ErrLegacy = errors.New("legacy construct removed from the Sigma specification")

// ParseRules parses every rule of a YAML file: one document, several
// (correlation rules with their detection rules), or the legacy
// action: global / repeat / reset collections.
func ParseRules(file string, data []byte) ([]*Rule, []error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var (
		rules  []*Rule
		errs   []error
		global *yaml.Node
		prev   *yaml.Node
	)
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &ParseError{File: file, Doc: i, Err: err})
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind != yaml.MappingNode {
			errs = append(errs, &ParseError{File: file, Doc: i, Err: errors.New("a rule must be a mapping")})
			continue
		}
		switch action := scalar(mapGet(n, "action")); action {
		case "global":
			global = withoutKey(n, "action")
			continue
		case "reset":
			global = nil
			continue
		case "repeat":
			if prev == nil {
				errs = append(errs, &ParseError{File: file, Doc: i, Err: errors.New("action: repeat without a previous rule")})
				continue
			}
			n = merge(prev, withoutKey(n, "action"))
		case "":
		default:
			errs = append(errs, &ParseError{File: file, Doc: i, Err: fmt.Errorf("unknown action %q", action)})
			continue
		}
		if global != nil {
			n = merge(global, n)
		}
		prev = n
		r, err := parseRule(n)
		if err != nil {
			errs = append(errs, &ParseError{File: file, Doc: i, Err: err})
			continue
		}
		r.File, r.Doc = file, i
		rules = append(rules, r)
	}
	return rules, errs
}

func parseRule(n *yaml.Node) (*Rule, error) {
	var r Rule
	if err := n.Decode(&r); err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if !knownTop[k] {
			if r.Custom == nil {
				r.Custom = map[string]any{}
			}
			var v any
			_ = n.Content[i+1].Decode(&v)
			r.Custom[k] = v
		}
	}
	if r.Title == "" {
		return nil, errors.New("missing title")
	}
	if r.Level != "" {
		switch r.Level {
		case "informational", "low", "medium", "high", "critical":
		default:
			return nil, fmt.Errorf("invalid level %q", r.Level)
		}
	}
	if c := mapGet(n, "correlation"); c != nil {
		corr, err := parseCorrelation(c)
		if err != nil {
			return nil, fmt.Errorf("correlation: %w", err)
		}
		r.Correlation = corr
		return &r, nil
	}
	d := mapGet(n, "detection")
	if d == nil {
		if mapGet(n, "filter") != nil {
			return nil, errors.New("filter rules (meta filters) are not detection rules")
		}
		return nil, errors.New("missing detection")
	}
	det, err := parseDetection(d)
	if err != nil {
		return nil, fmt.Errorf("detection: %w", err)
	}
	r.Detection = det
	return &r, nil
}

func parseDetection(n *yaml.Node) (*Detection, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("must be a mapping")
	}
	d := &Detection{Searches: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "condition":
			switch v.Kind {
			case yaml.ScalarNode:
				d.Conditions = []string{v.Value}
			case yaml.SequenceNode:
				for _, c := range v.Content {
					d.Conditions = append(d.Conditions, c.Value)
				}
			default:
				return nil, errors.New("condition must be a string or a list of strings")
			}
		case "timeframe":
			d.Timeframe = v.Value
		default:
			if _, dup := d.Searches[k]; dup {
				return nil, fmt.Errorf("search identifier %q defined twice", k)
			}
			d.Searches[k] = v
			d.Order = append(d.Order, k)
		}
	}
	if len(d.Conditions) == 0 {
		return nil, errors.New("missing condition")
	}
	for _, c := range d.Conditions {
		if i := strings.Index(c, "|"); i >= 0 {
			return nil, fmt.Errorf("%w: aggregation %q (use a correlation rule)", ErrLegacy, strings.TrimSpace(c[i:]))
		}
	}
	return d, nil
}

func parseCorrelation(n *yaml.Node) (*Correlation, error) {
	var raw struct {
		Type      string                       `yaml:"type"`
		Rules     any                          `yaml:"rules"`
		GroupBy   any                          `yaml:"group-by"`
		Timespan  string                       `yaml:"timespan"`
		Timeframe string                       `yaml:"timeframe"`
		Condition any                          `yaml:"condition"`
		Aliases   map[string]map[string]string `yaml:"aliases"`
		Generate  bool                         `yaml:"generate"`
		Ordered   bool                         `yaml:"ordered"`
	}
	if err := n.Decode(&raw); err != nil {
		if mapGet(n, "aliases") != nil {
			return nil, fmt.Errorf("aliases must map each alias to rule: field mappings: %w", err)
		}
		return nil, err
	}
	c := &Correlation{Type: raw.Type, Aliases: raw.Aliases, Generate: raw.Generate}
	if !correlationTypes[c.Type] {
		return nil, fmt.Errorf("unknown type %q", c.Type)
	}
	var err error
	if c.Rules, err = stringList(raw.Rules); err != nil || len(c.Rules) == 0 {
		return nil, errors.New("missing rules: a rule id or name, or a list of them")
	}
	if c.GroupBy, err = stringList(raw.GroupBy); err != nil {
		return nil, errors.New("group-by must be a field name or a list of them")
	}
	span := raw.Timespan
	if span == "" {
		span = raw.Timeframe
	}
	if c.Timespan, err = ParseTimespan(span); err != nil {
		return nil, fmt.Errorf("timespan: %w", err)
	}
	temporal := c.Type == "temporal" || c.Type == "temporal_ordered"
	if temporal && len(c.Rules) < 2 {
		return nil, errors.New("temporal correlations need at least two rules")
	}
	var cond map[string]any
	switch x := raw.Condition.(type) {
	case nil:
		if !temporal {
			return nil, errors.New("missing condition")
		}
	case map[string]any:
		cond = x
	case string:
		return nil, fmt.Errorf("extended (boolean) correlation conditions are not supported: %q", x)
	default:
		return nil, errors.New("condition must be a mapping")
	}
	c.Condition = map[string]float64{}
	hasPercentile := false
	for k, v := range cond {
		switch k {
		case "field":
			s, ok := v.(string)
			if !ok {
				return nil, errors.New("condition field must be a string")
			}
			c.Field = s
		case "percentile":
			x, ok := v.(int)
			if !ok || x < 0 || x > 100 {
				return nil, fmt.Errorf("percentile must be an integer from 0 to 100, not %v", v)
			}
			c.Percentile, hasPercentile = float64(x), true
		case "gt", "gte", "lt", "lte", "eq", "neq":
			var f float64
			switch x := v.(type) {
			case int:
				f = float64(x)
			case float64:
				f = x
			default:
				return nil, fmt.Errorf("condition %s must be a number, not %v", k, v)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("condition %s must be a finite number", k)
			}
			c.Condition[k] = f
		default:
			return nil, fmt.Errorf("unknown condition operator %q", k)
		}
	}
	if len(c.Condition) == 0 {
		if !temporal {
			return nil, errors.New("condition needs one of gt, gte, lt, lte, eq, neq")
		}
		c.Condition["gte"] = float64(len(c.Rules))
	}
	if err := checkRange(c.Condition); err != nil {
		return nil, err
	}
	if strings.HasPrefix(c.Type, "value_") && c.Field == "" {
		return nil, fmt.Errorf("%s needs condition.field", c.Type)
	}
	switch c.Type {
	case "value_percentile":
		if !hasPercentile {
			return nil, errors.New("value_percentile needs condition.percentile")
		}
	case "value_median":
		c.Percentile = 50
	}
	return c, nil
}

// checkRange rejects a condition no value can satisfy (gt: 5 with lt: 3).
func checkRange(c map[string]float64) error {
	lo, hi := math.Inf(-1), math.Inf(1)
	loOpen, hiOpen := false, false
	for op, v := range c {
		switch op {
		case "gt", "gte":
			if v > lo || (v == lo && op == "gt") {
				lo, loOpen = v, op == "gt"
			}
		case "lt", "lte":
			if v < hi || (v == hi && op == "lt") {
				hi, hiOpen = v, op == "lt"
			}
		case "eq":
			if v > lo || (v == lo && !loOpen) {
				lo, loOpen = v, false
			}
			if v < hi || (v == hi && !hiOpen) {
				hi, hiOpen = v, false
			}
		}
	}
	if eq, ok := c["eq"]; ok && (eq < lo || eq > hi || (eq == lo && loOpen) || (eq == hi && hiOpen)) {
		return fmt.Errorf("condition %v can never hold", c)
	}
	if lo > hi || (lo == hi && (loOpen || hiOpen)) {
		return fmt.Errorf("condition %v can never hold", c)
	}
	return nil
}

// stringList takes a string or a list of strings.
func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a string", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v is neither a string nor a list", v)
}

// timespanUnits are the units of Sigma timespans, with pySigma's lengths
// for months and years (the mean Gregorian month and year).
var timespanUnits = map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour,
	'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'M': 2629746 * time.Second, 'y': 31556952 * time.Second}

// ParseTimespan parses a Sigma timespan: a positive decimal integer and a
// unit, s, m, h, d, w, M (month) or y (year), as in 30s, 90m, 2d, 1M.
func ParseTimespan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid timespan %q", s)
	}
	unit, ok := timespanUnits[s[len(s)-1]]
	if !ok {
		return 0, fmt.Errorf("invalid timespan unit in %q", s)
	}
	var n int64
	for _, ch := range s[:len(s)-1] {
		if ch < '0' || ch > '9' {
			return 0, fmt.Errorf("invalid timespan %q", s)
		}
		n = n*10 + int64(ch-'0')
		if n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("timespan %q is too long", s)
		}
	}
	if n <= 0 {
		return 0, fmt.Errorf("invalid timespan %q", s)
	}
	return time.Duration(n) * unit, nil
}

// YAML helpers.

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func withoutKey(n *yaml.Node, key string) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			out.Content = append(out.Content, n.Content[i], n.Content[i+1])
		}
	}
	return out
}

// merge returns base with over's keys (mappings merged recursively).
func merge(base, over *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: base.Tag, Line: over.Line, Column: over.Column}
	out.Content = append(out.Content, base.Content...)
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		replaced := false
		for j := 0; j+1 < len(out.Content); j += 2 {
			if out.Content[j].Value == k.Value {
				out.Content[j+1] = merge(out.Content[j+1], v)
				replaced = true
				break
			}
		}
		if !replaced {
			out.Content = append(out.Content, k, v)
		}
	}
	return out
}
