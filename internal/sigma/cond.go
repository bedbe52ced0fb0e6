package sigma

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Condition syntax tree.
type (
	condNode interface{ String() string }
	condAnd  struct{ L, R condNode }
	condOr   struct{ L, R condNode }
	condNot  struct{ X condNode }
	condRef  struct{ Name string }
	// condOf is "N of pattern", "all of pattern", "1 of them"...; N == 0
	// means all.
	condOf struct {
		N       int
		Pattern string
	}
)

func (c condAnd) String() string { return "(" + c.L.String() + " and " + c.R.String() + ")" }
func (c condOr) String() string  { return "(" + c.L.String() + " or " + c.R.String() + ")" }
func (c condNot) String() string { return "not " + c.X.String() }
func (c condRef) String() string { return c.Name }
func (c condOf) String() string {
	n := "all"
	if c.N > 0 {
		n = strconv.Itoa(c.N)
	}
	return n + " of " + c.Pattern
}

type token struct {
	kind string // ( ) word
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	if i := strings.Index(strings.ToLower(s), "count("); i >= 0 {
		return nil, fmt.Errorf("%w: aggregation %q (use a correlation rule)", ErrLegacy, strings.TrimSpace(s[i:]))
	}
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, token{kind: string(c), text: string(c), pos: i})
			i++
		case c == '|':
			return nil, fmt.Errorf("%w: aggregation %q", ErrLegacy, strings.TrimSpace(s[i:]))
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			w := s[i:j]
			for _, r := range w {
				if !(r == '_' || r == '*' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
					return nil, fmt.Errorf("invalid character %q in condition at %d", r, i)
				}
			}
			out = append(out, token{kind: "word", text: w, pos: i})
			i = j
		}
	}
	return out, nil
}

type condParser struct {
	toks []token
	i    int
}

// parseCondition parses a condition expression.
func parseCondition(s string) (condNode, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty condition")
	}
	p := &condParser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at %d", p.toks[p.i].text, p.toks[p.i].pos)
	}
	return n, nil
}

func (p *condParser) peekWord(w string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == "word" && strings.EqualFold(p.toks[p.i].text, w)
}

func (p *condParser) or() (condNode, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = condOr{l, r}
	}
	return l, nil
}

func (p *condParser) and() (condNode, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = condAnd{l, r}
	}
	return l, nil
}

func (p *condParser) not() (condNode, error) {
	if p.peekWord("not") {
		p.i++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return condNot{x}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (condNode, error) {
	if p.i >= len(p.toks) {
		return nil, errors.New("condition ends unexpectedly")
	}
	t := p.toks[p.i]
	switch {
	case t.kind == "(":
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ")" {
			return nil, fmt.Errorf("missing ')' for '(' at %d", t.pos)
		}
		p.i++
		return n, nil
	case t.kind == ")":
		return nil, fmt.Errorf("unexpected ')' at %d", t.pos)
	}
	low := strings.ToLower(t.text)
	switch low {
	case "and", "or":
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	case "near":
		return nil, fmt.Errorf("%w: near", ErrLegacy)
	}
	// Quantifier: N of X, all of X, any of X.
	if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of") {
		n := -1
		switch low {
		case "all":
			n = 0
		case "any":
			n = 1
		default:
			if v, err := strconv.Atoi(low); err == nil && v > 0 {
				n = v
			}
		}
		if n < 0 {
			return nil, fmt.Errorf("invalid quantifier %q at %d", t.text, t.pos)
		}
		if p.i+2 >= len(p.toks) || p.toks[p.i+2].kind != "word" {
			return nil, fmt.Errorf("'%s of' needs an identifier pattern or them", t.text)
		}
		pat := p.toks[p.i+2].text
		p.i += 3
		return condOf{N: n, Pattern: pat}, nil
	}
	if strings.Contains(t.text, "*") {
		return nil, fmt.Errorf("wildcard identifier %q outside '1 of' or 'all of'", t.text)
	}
	p.i++
	return condRef{Name: t.text}, nil
}

// resolve returns the identifiers a pattern names: "them" is every
// identifier not starting with "_".
func resolve(pattern string, idents []string) []string {
	var out []string
	for _, id := range idents {
		if pattern == "them" {
			if !strings.HasPrefix(id, "_") {
				out = append(out, id)
			}
			continue
		}
		if ok, _ := path.Match(pattern, id); ok {
			out = append(out, id)
		}
	}
	return out
}
