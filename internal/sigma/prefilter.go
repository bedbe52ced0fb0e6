package sigma

import (
	"slices"
	"strings"

	"github.com/kuzet-kz/kuzet/internal/regexlit"
)

// Prefiltering: most rules cannot match most events, and a literal tells
// which. For each rule the compiler derives a necessary condition in
// conjunctive form: up to maxClauses clauses, each a set of (field,
// literal) atoms of which at least one must hold (the field's lower-cased
// text contains the literal) for the rule to match. For each route, the
// atoms of its rules are compiled into one Aho-Corasick automaton per
// field; an event is scanned once per field and only the rules with a hit
// in every clause, plus those without a necessary condition, are
// evaluated. Keeping several clauses of an AND, not only the one with the
// longest literal, matters: "Company: Microsoft Corporation" is long and
// on nearly every event, the other selection's literal is rare.

type atom struct {
	field string
	lit   string
	// asciiOnly: the atom is necessary only when the field's text is
	// ASCII (see regexNeed); a non-ASCII text makes the rule a candidate.
	asciiOnly bool
}

// need is one clause: an OR of atoms. ok false means none is known.
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

// union is the clause of an OR: both must be known.
func union(a, b need) need {
	if !a.ok || !b.ok {
		return unknown()
	}
	return need{atoms: append(append([]atom{}, a.atoms...), b.atoms...), ok: true}
}

// maxClauses bounds a rule's clauses (the prefilter keeps a bit per
// clause).
const maxClauses = 4

// cnf is an AND of clauses, each known and with atoms; empty means
// nothing is known (true). Dropping clauses weakens it, which is always
// safe.
type cnf []need

func clause(n need) cnf {
	if !n.ok || len(n.atoms) == 0 {
		return nil
	}
	return cnf{n}
}

// limit keeps the n clauses with the best score.
func (c cnf) limit(n int) cnf {
	if len(c) <= n {
		return c
	}
	c = slices.Clone(c)
	slices.SortStableFunc(c, func(a, b need) int { return b.score() - a.score() })
	return c[:n]
}

func and(a, b cnf) cnf {
	return append(slices.Clip(a), b...).limit(maxClauses)
}

// or distributes: (a1 and a2) or b1 is (a1 or b1) and (a2 or b1).
func or(a, b cnf) cnf {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	if len(a)*len(b) > maxClauses {
		a, b = a.limit(2), b.limit(2)
	}
	var out cnf
	for _, x := range a {
		for _, y := range b {
			out = append(out, union(x, y))
		}
	}
	return out.limit(maxClauses)
}

func needOfCond(n condNode, searches map[string]search, order []string) cnf {
	switch x := n.(type) {
	case condAnd:
		return and(needOfCond(x.L, searches, order), needOfCond(x.R, searches, order))
	case condOr:
		return or(needOfCond(x.L, searches, order), needOfCond(x.R, searches, order))
	case condNot:
		return nil
	case condRef:
		return needOfSearch(searches[x.Name])
	case condOf:
		names := resolve(x.Pattern, order)
		if len(names) == 0 {
			return nil
		}
		if x.N == 0 || x.N >= len(names) {
			// All of them.
			var r cnf
			for _, nm := range names {
				r = and(r, needOfSearch(searches[nm]))
			}
			return r
		}
		// At least one of them holds.
		r := needOfSearch(searches[names[0]])
		for _, nm := range names[1:] {
			r = or(r, needOfSearch(searches[nm]))
		}
		return r
	}
	return nil
}

func needOfSearch(s search) cnf {
	switch x := s.(type) {
	case andSearch:
		var r cnf
		for _, e := range x {
			r = and(r, needOfSearch(e))
		}
		return r
	case orSearch:
		if len(x) == 0 {
			return nil
		}
		r := needOfSearch(x[0])
		for _, e := range x[1:] {
			r = or(r, needOfSearch(e))
		}
		return r
	case *fieldSearch:
		if x.exists != nil || x.null || len(x.matchers) == 0 {
			return nil
		}
		if x.all {
			var r cnf
			for _, m := range x.matchers {
				r = and(r, clause(needOfMatcher(x.field, m)))
			}
			return r
		}
		r := need{ok: true}
		for _, m := range x.matchers {
			r = union(r, needOfMatcher(x.field, m))
		}
		return clause(r)
	}
	return nil // keywords
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
	// hits[f][pid] are the clauses that pattern pid of field f satisfies,
	// each as a rule's position (in the route's rule list) shifted left by
	// clauseBits, or'ed with the clause's index.
	hits [][][]int32
	// nonASCII[f] are the clauses with an asciiOnly atom of field f (as in
	// hits): satisfied when the field's text is not ASCII.
	nonASCII [][]int32
	// full[pos] has a bit for each of the rule's clauses.
	full   []uint8
	always []int32
}

const clauseBits = 3 // 1<<clauseBits >= maxClauses

// candidate marks a rule in candidates' got.
const candidate = 0x80

func buildRouteIndex(rules []*CompiledRule, fields *fieldTable) *routeIndex {
	ix := &routeIndex{full: make([]uint8, len(rules))}
	type fieldPats struct {
		pats     []string
		byLit    map[string]int32
		hits     [][]int32
		nonASCII []int32
	}
	byField := map[string]*fieldPats{}
	var order []string
	for pos, r := range rules {
		if len(r.need) == 0 {
			ix.always = append(ix.always, int32(pos))
			continue
		}
		for j, cl := range r.need {
			ix.full[pos] |= 1 << j
			h := int32(pos)<<clauseBits | int32(j)
			for _, a := range cl.atoms {
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
					fp.hits = append(fp.hits, nil)
				}
				if !slices.Contains(fp.hits[pid], h) {
					fp.hits[pid] = append(fp.hits[pid], h)
				}
				if a.asciiOnly && !slices.Contains(fp.nonASCII, h) {
					fp.nonASCII = append(fp.nonASCII, h)
				}
			}
		}
	}
	for _, f := range order {
		fp := byField[f]
		ix.fields = append(ix.fields, fields.id(f))
		ix.ac = append(ix.ac, newACMachine(fp.pats))
		ix.hits = append(ix.hits, fp.hits)
		ix.nonASCII = append(ix.nonASCII, fp.nonASCII)
	}
	return ix
}

// candidates appends to cand the positions of the route's rules an event
// can match, each once. got holds, for each rule, the clauses satisfied
// so far and, in its high bit, whether it is a candidate already (all
// zero on entry and on return; rules without clauses are never hit).
func (ix *routeIndex) candidates(c *evalCtx, got []uint8, cand []int32) []int32 {
	cand = append(cand, ix.always...)
	touched := c.touchedRules[:0]
	add := func(hs []int32) {
		for _, h := range hs {
			p := h >> clauseBits
			g := got[p]
			if g&candidate != 0 {
				continue
			}
			if g == 0 {
				touched = append(touched, p)
			}
			g |= 1 << (h & (1<<clauseBits - 1))
			if g == ix.full[p] {
				g |= candidate
				cand = append(cand, p)
			}
			got[p] = g
		}
	}
	for i, f := range ix.fields {
		id := c.mapID(f)
		v, ok := c.value(id)
		if !ok || v == nil {
			continue
		}
		hits := ix.hits[i]
		scan := func(s string, ascii bool) {
			if !ascii {
				add(ix.nonASCII[i])
			}
			ix.ac[i].scan(s, func(pid int32) { add(hits[pid]) })
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
	for _, p := range touched {
		got[p] = 0
	}
	c.touchedRules = touched[:0]
	return cand
}
