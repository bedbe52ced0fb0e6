// Package regexlit finds a literal every match of a regular expression
// contains, for cheap prefilters (strings.Contains, Aho-Corasick) in front
// of the regular expression.
package regexlit

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Required returns the longest literal that is a direct part of the
// pattern's top-level concatenation (captures looked into), so every match
// contains it, or "" when there is none. Case-folded literals ((?i)) count
// only with foldCase, for callers that compare lower-cased text, and come
// back in lower case.
func Required(pattern string, foldCase bool) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	best := ""
	consider := func(n *syntax.Regexp) {
		if n.Op != syntax.OpLiteral || (!foldCase && n.Flags&syntax.FoldCase != 0) {
			return
		}
		s := string(n.Rune)
		if n.Flags&syntax.FoldCase != 0 {
			s = strings.ToLower(s) // the parser gives folded literals in upper case
		}
		if len(s) > len(best) {
			best = s
		}
	}
	var walk func(n *syntax.Regexp)
	walk = func(n *syntax.Regexp) {
		switch n.Op {
		case syntax.OpConcat:
			for _, c := range n.Sub {
				if c.Op == syntax.OpCapture {
					walk(c.Sub[0])
					continue
				}
				consider(c)
			}
		case syntax.OpCapture:
			walk(n.Sub[0])
		case syntax.OpLiteral:
			consider(n)
		}
	}
	walk(re)
	return best
}

// MinLen returns a lower bound on the length in bytes of any match of the
// pattern (0 when it does not parse), so a shorter text cannot match. An
// invalid UTF-8 byte counts as one byte that matches as U+FFFD, as the
// regexp package matches it.
func MinLen(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0
	}
	return min(minLen(re.Simplify()), 1<<20)
}

func minLen(n *syntax.Regexp) int {
	switch n.Op {
	case syntax.OpLiteral:
		l := 0
		for _, r := range n.Rune {
			w := runeMinLen(r)
			if n.Flags&syntax.FoldCase != 0 {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					w = min(w, runeMinLen(f))
				}
			}
			l += w
		}
		return l
	case syntax.OpCharClass:
		if len(n.Rune) == 0 {
			return 0 // matches nothing; 0 is still a lower bound
		}
		w := 4
		for i := 0; i+1 < len(n.Rune); i += 2 {
			lo, hi := n.Rune[i], n.Rune[i+1]
			if lo <= utf8.RuneError && utf8.RuneError <= hi {
				return 1
			}
			w = min(w, runeMinLen(lo))
		}
		return w
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(n.Sub[0])
	case syntax.OpRepeat:
		return min(n.Min, 1<<20) * minLen(n.Sub[0])
	case syntax.OpConcat:
		l := 0
		for _, s := range n.Sub {
			l = min(l+minLen(s), 1<<20)
		}
		return l
	case syntax.OpAlternate:
		l := 1 << 20
		for _, s := range n.Sub {
			l = min(l, minLen(s))
		}
		return l
	}
	return 0 // empty-width assertions, star, quest, empty and no match
}

// runeMinLen is the bytes a rune matches: its UTF-8 length, or one byte
// for U+FFFD (which an invalid byte matches as).
func runeMinLen(r rune) int {
	if r == utf8.RuneError {
		return 1
	}
	if l := utf8.RuneLen(r); l > 0 {
		return l
	}
	return 1
}

// ByteSet is a set of bytes.
type ByteSet [4]uint64

// Has reports whether b is in the set.
func (s *ByteSet) Has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }

// RequiredRun returns the longest run every match contains of
// consecutive characters from one ASCII-only character class, as the
// class's bytes and the run's length (0: none): `\s[a-f0-9]{64}\s` gives
// the hexadecimal digits and 64. As the class holds only ASCII, each of
// its characters is one byte of the text, so a text without n
// consecutive bytes of the set cannot match.
func RequiredRun(pattern string) (ByteSet, int) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ByteSet{}, 0
	}
	var elems []*syntax.Regexp
	var flatten func(n *syntax.Regexp)
	flatten = func(n *syntax.Regexp) {
		switch n.Op {
		case syntax.OpConcat:
			for _, s := range n.Sub {
				flatten(s)
			}
		case syntax.OpCapture:
			flatten(n.Sub[0])
		default:
			elems = append(elems, n)
		}
	}
	flatten(re.Simplify())
	var best, cur []rune // classes
	bestN, curN := 0, 0
	for _, e := range elems {
		// The element's class and the least number of its characters it
		// matches, if all it matches is characters of one class.
		cls, n := []rune(nil), 0
		switch e.Op {
		case syntax.OpCharClass:
			cls, n = e.Rune, 1
		case syntax.OpPlus, syntax.OpStar, syntax.OpQuest, syntax.OpRepeat:
			if e.Sub[0].Op == syntax.OpCharClass {
				cls = e.Sub[0].Rune
				switch e.Op {
				case syntax.OpPlus:
					n = 1
				case syntax.OpRepeat:
					n = e.Min
				}
			}
		}
		if cls == nil || !asciiClass(cls) {
			cur, curN = nil, 0
			continue
		}
		if !slices.Equal(cls, cur) {
			cur, curN = cls, 0
		}
		curN += n
		if curN > bestN {
			best, bestN = cur, curN
		}
	}
	var set ByteSet
	for i := 0; i+1 < len(best); i += 2 {
		for r := best[i]; r <= best[i+1]; r++ {
			set[r>>6] |= 1 << (r & 63)
		}
	}
	return set, bestN
}

func asciiClass(cls []rune) bool {
	return len(cls) > 0 && cls[len(cls)-1] < utf8.RuneSelf
}
