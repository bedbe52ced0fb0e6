// Package regexlit finds a literal every match of a regular expression
// contains, for cheap prefilters (strings.Contains, Aho-Corasick) in front
// of the regular expression.
package regexlit

import (
	"regexp/syntax"
	"strings"
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
