package pipeline

import (
	"regexp"
	"strings"

	"github.com/kuzet-kz/kuzet/internal/regexlit"
)

// fastRegexp is a regular expression with a prefilter: a literal every
// match must contain, checked with strings.Contains before the regexp runs
// (most records fail that check, and it is far cheaper).
type fastRegexp struct {
	re  *regexp.Regexp
	lit string
	// code runs the pattern as string code (regexcode.go), when it has one.
	code regexCode
}

func newFastRegexp(pattern string) (*fastRegexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return &fastRegexp{re: re, lit: requiredLiteral(pattern), code: regexCodes[pattern]}, nil
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

// requiredLiteral returns a literal every match contains (case-sensitive).
func requiredLiteral(pattern string) string { return regexlit.Required(pattern, false) }
