package sigma

import (
	"slices"
	"strings"

	"github.com/kuzet-kz/kuzet/internal/regexlit"
)

// Prefiltering: most rules cannot match most events, and a literal tells
// which. For each rule the compiler derives a necessary condition, a set of
// (field, literal) atoms of which at least one must hold (the field's
// lower-cased text contains the literal) for the rule to match. For each
// route, the atoms of its rules are compiled into one Aho-Corasick
// automaton per field; an event is scanned once per field and only the
// rules with a hit, plus those without a necessary condition, are
// evaluated.

type atom struct {
	field string
	lit   string
	// asciiOnly: the atom is necessary only when the field's text is
	// ASCII (see regexNeed); a non-ASCII text makes the rule a candidate.
	asciiOnly bool
}

// need is a necessary condition: OR of atoms. ok false means none is known.
type need struct {
	atoms []atom
	ok    bool
}

func unknown() need { return need{} }

func (n need) score() int {
	if !n.ok || len(n.atoms) == 0 {
		return -1
	}
	min := 1 << 30
	for _, a := range n.atoms {
		if len(a.lit) < min {
			min = len(a.lit)
		}
	}
	// Longer shortest literal, then fewer atoms.
	return min*1000 - len(n.atoms)
}

// best returns the more selective of two necessary conditions of an AND.
func best(a, b need) need {
	if a.score() >= b.score() {
		return a
	}
	return b
}

// union is the condition of an OR: both must be known.
func union(a, b need) need {
	if !a.ok || !b.ok {
		return unknown()
	}
	return need{atoms: append(append([]atom{}, a.atoms...), b.atoms...), ok: true}
}

func needOfCond(n condNode, searches map[string]search, order []string) need {
	switch x := n.(type) {
	case condAnd:
		return best(needOfCond(x.L, searches, order), needOfCond(x.R, searches, order))
	case condOr:
		return union(needOfCond(x.L, searches, order), needOfCond(x.R, searches, order))
	case condNot:
		return unknown()
	case condRef:
		return needOfSearch(searches[x.Name])
	case condOf:
		names := resolve(x.Pattern, order)
		if x.N == 0 || x.N >= len(names) {
			// All of them: any one's condition is necessary.
			r := unknown()
			for _, nm := range names {
				r = best(r, needOfSearch(searches[nm]))
			}
			return r
		}
		r := need{ok: true}
		for _, nm := range names {
			r = union(r, needOfSearch(searches[nm]))
		}
		return r
	}
	return unknown()
}

func needOfSearch(s search) need {
	switch x := s.(type) {
	case andSearch:
		r := unknown()
		for _, e := range x {
			r = best(r, needOfSearch(e))
		}
		return r
	case orSearch:
		r := need{ok: true}
		for _, e := range x {
			r = union(r, needOfSearch(e))
		}
		return r
	case *fieldSearch:
		if x.exists != nil || x.null || len(x.matchers) == 0 {
			return unknown()
		}
		if x.all {
			r := unknown()
			for _, m := range x.matchers {
				r = best(r, needOfMatcher(x.field, m))
			}
			return r
		}
		r := need{ok: true}
		for _, m := range x.matchers {
			r = union(r, needOfMatcher(x.field, m))
		}
		return r
	}
	return unknown() // keywords
}

func needOfMatcher(field string, m valueMatcher) need {
	lit := func(s string) need {
		s = strings.ToLower(s)
		if s == "" {
			return unknown()
		}
		return need{atoms: []atom{{field: field, lit: s}}, ok: true}
	}
	switch x := m.(type) {
	case *strMatcher:
		r := need{ok: true}
		for _, p := range x.pats {
			r = union(r, lit(p.required))
		}
		return r
	case *numMatcher:
		return lit(x.text)
	case *reMatcher:
		n := lit(x.lit)
		for i := range n.atoms {
			n.atoms[i].asciiOnly = x.asciiOnly
		}
		return n
	case anyMatcher:
		r := need{ok: true}
		for _, e := range x {
			r = union(r, needOfMatcher(field, e))
		}
		return r
	}
	return unknown()
}

// regexNeed returns a literal every match of the pattern contains, and
// whether it is case-folded: then the lower-cased text contains it in
// lower case, else the text contains it as it is (and the lower-cased
// text its lower case). A folded literal is used only when it is ASCII:
// the other cases of an ASCII letter (the Kelvin sign for k) lower-case to
// it, except the long s (U+017F) of (?i)s, which lower-casing keeps. So a
// folded literal with an s holds only for ASCII text (asciiOnly); it is
// used when longer than the case-sensitive literal.
func regexNeed(pattern string) (lit string, folded, asciiOnly bool) {
	exact := regexlit.Required(pattern, false)
	any := regexlit.Required(pattern, true)
	if any == exact || any == "" {
		return exact, false, false
	}
	for i := 0; i < len(any); i++ {
		if any[i] >= 0x80 {
			return exact, false, false
		}
	}
	if strings.IndexByte(any, 's') >= 0 {
		if len(exact) >= len(any) {
			return exact, false, false
		}
		return any, true, true
	}
	return any, true, false
}

// routeIndex is the prefilter of one route.
type routeIndex struct {
	fields []int32 // rule field ids
	ac     []*acMachine
	// rules[f][pid] are the positions (in the route's rule list) of the
	// rules whose atom is pattern pid of field f.
	rules [][][]int32
	// nonASCII[f] are the positions of the rules with an asciiOnly atom of
	// field f: candidates when the field's text is not ASCII.
	nonASCII [][]int32
	always   []int32
}

func buildRouteIndex(rules []*CompiledRule, fields *fieldTable) *routeIndex {
	ix := &routeIndex{}
	type fieldPats struct {
		pats     []string
		byLit    map[string]int32
		rules    [][]int32
		nonASCII []int32
	}
	byField := map[string]*fieldPats{}
	var order []string
	for pos, r := range rules {
		if !r.need.ok || len(r.need.atoms) == 0 {
			ix.always = append(ix.always, int32(pos))
			continue
		}
		for _, a := range r.need.atoms {
			fp := byField[a.field]
			if fp == nil {
				fp = &fieldPats{byLit: map[string]int32{}}
				byField[a.field] = fp
				order = append(order, a.field)
			}
			pid, ok := fp.byLit[a.lit]
			if !ok {
				pid = int32(len(fp.pats))
				fp.byLit[a.lit] = pid
				fp.pats = append(fp.pats, a.lit)
				fp.rules = append(fp.rules, nil)
			}
			fp.rules[pid] = append(fp.rules[pid], int32(pos))
			if a.asciiOnly && !slices.Contains(fp.nonASCII, int32(pos)) {
				fp.nonASCII = append(fp.nonASCII, int32(pos))
			}
		}
	}
	for _, f := range order {
		fp := byField[f]
		ix.fields = append(ix.fields, fields.id(f))
		ix.ac = append(ix.ac, newACMachine(fp.pats))
		ix.rules = append(ix.rules, fp.rules)
		ix.nonASCII = append(ix.nonASCII, fp.nonASCII)
	}
	return ix
}

// candidates appends to cand the positions of the route's rules an event
// can match, each once, marking them in mark (all false on entry).
func (ix *routeIndex) candidates(c *evalCtx, mark []bool, cand []int32) []int32 {
	for _, p := range ix.always {
		mark[p] = true
	}
	cand = append(cand, ix.always...)
	for i, f := range ix.fields {
		id := c.mapID(f)
		v, ok := c.value(id)
		if !ok || v == nil {
			continue
		}
		rules := ix.rules[i]
		add := func(ps []int32) {
			for _, p := range ps {
				if !mark[p] {
					mark[p] = true
					cand = append(cand, p)
				}
			}
		}
		scan := func(s string, ascii bool) {
			if !ascii {
				add(ix.nonASCII[i])
			}
			ix.ac[i].scan(s, func(pid int32) { add(rules[pid]) })
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if s, ok := c.text(e); ok {
					scan(c.lowerASCII(s))
				}
			}
		case []string:
			for _, e := range x {
				scan(c.lowerASCII(e))
			}
		default:
			if fv := c.prepared(id); fv.ok {
				scan(fv.ls, fv.ascii)
			}
		}
	}
	return cand
}
