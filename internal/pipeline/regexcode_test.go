package pipeline

import (
	"regexp"
	"slices"
	"testing"
)

// regexCodeSeeds are values the patterns of regexCodes meet, and edges.
var regexCodeSeeds = []string{
	"", "/", "/a/b?c=1#frag", "/a#x?y", "?q", "#", "/p?", "/p?#", "http://host/x?y=1", "https://h:8443", "http://h?x=1/y",
	"HTTP+s.1-x://h/p", "1http://h/p", "h://", "://x", "mailto:x", "CORP\\op", "\\op", "CORP\\", "C\\a\\b", "CORP\\a\nb",
	"a\nb\\c", "TLS 1.2", "TLSv1.3", "SSLv3", "TLS\t\n 1.0", "TLS 1.", "TLS 12", "TLSx1.2", "TLSv12", "DTLSv10", "SSLv30",
	"DTLSv1", "TLSvv12", "xTLSv12", "/\xff?\xfe#", "\xff\\\xfe",
}

func FuzzRegexCode(f *testing.F) {
	for _, s := range regexCodeSeeds {
		f.Add(s)
	}
	type pattern struct {
		re   *regexp.Regexp
		fast *fastRegexp
	}
	var patterns []pattern
	for p := range regexCodes {
		fast, err := newFastRegexp(p)
		if err != nil {
			f.Fatal(err)
		}
		patterns = append(patterns, pattern{regexp.MustCompile(p), fast})
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range patterns {
			want := p.re.FindStringSubmatch(s)
			got := p.fast.submatch(s, nil)
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("%s on %q: code %q, regexp %q", p.re, s, got, want)
			}
		}
	})
}

// TestRegexCodeUsed checks that the patterns of regexCodes are the ones
// the shipped pipelines use (a pattern changed in a YAML file would
// silently fall back to the regexp).
func TestRegexCodeUsed(t *testing.T) {
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, spec := range set.specs {
		walkSteps(spec.Steps, func(st *Step) {
			if st.Regex != nil {
				used[st.Regex.Pattern] = true
			}
		})
	}
	for p := range regexCodes {
		if !used[p] {
			t.Errorf("pattern %q has code but no pipeline uses it", p)
		}
	}
}
