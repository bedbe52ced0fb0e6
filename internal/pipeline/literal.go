package pipeline

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// fastRegexp is a regular expression with a prefilter: a literal every
// match must contain, checked with strings.Contains before the regexp runs
// (most records fail that check, and it is far cheaper).
type fastRegexp struct {
	re  *regexp.Regexp
	lit string
}

func newFastRegexp(pattern string) (*fastRegexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return &fastRegexp{re: re, lit: requiredLiteral(pattern)}, nil
}

func (f *fastRegexp) MatchString(s string) bool {
	if f.lit != "" && !strings.Contains(s, f.lit) {
		return false
	}
	return f.re.MatchString(s)
}

func (f *fastRegexp) FindStringSubmatch(s string) []string {
	if f.lit != "" && !strings.Contains(s, f.lit) {
		return nil
	}
	return f.re.FindStringSubmatch(s)
}

// requiredLiteral returns the longest case-sensitive literal that is a
// direct part of the pattern's top-level concatenation (so every match
// contains it), or "".
func requiredLiteral(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	best := ""
	consider := func(n *syntax.Regexp) {
		if n.Op == syntax.OpLiteral && n.Flags&syntax.FoldCase == 0 && len(string(n.Rune)) > len(best) {
			best = string(n.Rune)
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
