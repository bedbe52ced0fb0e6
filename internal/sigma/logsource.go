package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pipeline is a Sigma processing pipeline as data (pipelines/sigma/*.yaml):
// routes from log sources to the events they describe, with field
// mappings, and placeholder values for the expand modifier.
type Pipeline struct {
	Name         string              `yaml:"name"`
	Description  string              `yaml:"description"`
	Routes       []Route             `yaml:"routes"`
	Placeholders map[string][]string `yaml:"placeholders"`
}

// Route says which events a log source describes: those where every
// condition holds (a field equal to one of its values, compared as text,
// case-insensitively), with rule fields renamed by FieldMap.
type Route struct {
	Name       string              `yaml:"name"`
	Logsource  Logsource           `yaml:"logsource"`
	Conditions map[string][]string `yaml:"conditions"`
	FieldMap   map[string]string   `yaml:"fieldmap"`

	conds []routeCond
}

type routeCond struct {
	field  string
	values []string // lowered
}

func (r *Route) prepare() error {
	if r.Name == "" {
		return errors.New("a route needs a name")
	}
	if (r.Logsource == Logsource{}) {
		return fmt.Errorf("route %s: needs a logsource", r.Name)
	}
	r.conds = nil
	for f, vals := range r.Conditions {
		if len(vals) == 0 {
			return fmt.Errorf("route %s: condition %s has no values", r.Name, f)
		}
		rc := routeCond{field: f}
		for _, v := range vals {
			rc.values = append(rc.values, strings.ToLower(v))
		}
		r.conds = append(r.conds, rc)
	}
	// Cheap, selective conditions first: EventID before Channel.
	for i := range r.conds {
		if r.conds[i].field == "EventID" && i > 0 {
			r.conds[0], r.conds[i] = r.conds[i], r.conds[0]
		}
	}
	return nil
}

// holds reports whether a value (or, for a list, one of its items) is one
// of the condition's values.
func (c *routeCond) holds(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if c.holds(e) {
				return true
			}
		}
		return false
	case []string:
		for _, e := range x {
			if c.holds(e) {
				return true
			}
		}
		return false
	}
	if n, ok := v.(int64); ok && n >= 0 && n < 1<<31 {
		// EventIDs: compare digits without formatting the number.
		var buf [12]byte
		s := strconv.AppendInt(buf[:0], n, 10)
		for _, want := range c.values {
			if string(s) == want {
				return true
			}
		}
		return false
	}
	s, isStr := v.(string)
	if !isStr {
		var buf [32]byte
		b, ok := appendText(buf[:0], v)
		if !ok {
			return false
		}
		s = string(b) // does not escape: on the stack
	}
	for _, want := range c.values {
		if equalLower(s, want) {
			return true
		}
	}
	return false
}

// equalLower reports whether lower(s) == want, without lowering s when it
// is ASCII.
func equalLower(s, want string) bool {
	if len(s) != len(want) {
		// Only non-ASCII lowering changes a length.
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return lower(s) == want
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return lower(s) == want
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

func (r *Route) matches(ev Event) bool {
	for _, c := range r.conds {
		v, ok := ev.Field(c.field)
		if !ok || !c.holds(v) {
			return false
		}
	}
	return true
}

// ParsePipeline parses one pipeline file strictly.
func ParsePipeline(name string, data []byte) (*Pipeline, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Pipeline
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i := range p.Routes {
		if err := p.Routes[i].prepare(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &p, nil
}

// LoadPipelines loads every *.yaml of fsys.
func LoadPipelines(fsys fs.FS) ([]*Pipeline, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Pipeline
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		p, err := ParsePipeline(path.Base(f), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}
