package pipeline

import (
	"errors"
	"slices"
	"strings"
)

// Cond is a condition on a field (a raw field, or an event field when no
// raw field has the name). Field tests compare the value as text; a list
// value passes when one of its items does. Any, All and Not combine
// conditions.
type Cond struct {
	Field    string   `yaml:"field"`
	Equals   *string  `yaml:"equals"`
	In       []string `yaml:"in"`
	Prefix   *string  `yaml:"prefix"`
	Suffix   *string  `yaml:"suffix"`
	Contains *string  `yaml:"contains"`
	Regex    string   `yaml:"regex"`
	Exists   *bool    `yaml:"exists"`
	Not      *Cond    `yaml:"not"`
	Any      []Cond   `yaml:"any"`
	All      []Cond   `yaml:"all"`

	re *fastRegexp
	// ref is Field resolved (compile).
	ref *fieldRef
}

func (c *Cond) compile() error {
	tests := 0
	for _, set := range []bool{c.Equals != nil, c.In != nil, c.Prefix != nil, c.Suffix != nil, c.Contains != nil,
		c.Regex != "", c.Exists != nil} {
		if set {
			tests++
		}
	}
	combos := 0
	for _, set := range []bool{c.Not != nil, c.Any != nil, c.All != nil} {
		if set {
			combos++
		}
	}
	switch {
	case combos > 1 || (combos == 1 && (tests > 0 || c.Field != "")):
		return errors.New("a condition is either a field test or one of not, any, all")
	case combos == 0 && (c.Field == "" || tests != 1):
		return errors.New("a field test needs field and exactly one of equals, in, prefix, suffix, contains, regex, exists")
	}
	if c.Field != "" {
		c.ref = newFieldRef(c.Field)
	}
	if c.Regex != "" {
		re, err := newFastRegexp(c.Regex)
		if err != nil {
			return err
		}
		c.re = re
	}
	if c.Not != nil {
		return c.Not.compile()
	}
	for _, group := range [][]Cond{c.Any, c.All} {
		for i := range group {
			if err := group[i].compile(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cond) eval(st *state) bool {
	switch {
	case c.Not != nil:
		return !c.Not.eval(st)
	case c.Any != nil:
		for i := range c.Any {
			if c.Any[i].eval(st) {
				return true
			}
		}
		return false
	case c.All != nil:
		for i := range c.All {
			if !c.All[i].eval(st) {
				return false
			}
		}
		return true
	}
	var v any
	var ok bool
	if c.ref != nil {
		var s string
		if v, s, ok = st.getRefText(c.ref); ok && v == nil {
			// A text event field, not boxed.
			return c.Exists != nil && *c.Exists || c.Exists == nil && c.test(s)
		}
	} else {
		v, ok = st.get(c.Field)
	}
	if c.Exists != nil {
		return ok == *c.Exists
	}
	if !ok {
		return false
	}
	switch x := v.(type) {
	case string:
		return c.test(x) // the common case, without a list
	case []any, []string:
	default:
		return c.test(st.text(x))
	}
	for _, s := range texts(v) {
		if c.test(s) {
			return true
		}
	}
	return false
}

func (c *Cond) test(s string) bool {
	switch {
	case c.Equals != nil:
		return s == *c.Equals
	case c.In != nil:
		return slices.Contains(c.In, s)
	case c.Prefix != nil:
		return strings.HasPrefix(s, *c.Prefix)
	case c.Suffix != nil:
		return strings.HasSuffix(s, *c.Suffix)
	case c.Contains != nil:
		return strings.Contains(s, *c.Contains)
	case c.re != nil:
		return c.re.MatchString(s)
	}
	return false
}
