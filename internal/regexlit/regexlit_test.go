package regexlit_test

import (
	"regexp"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/regexlit"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		pat  string
		fold bool
		want string
	}{
		{`(^|\s)CEF:\d+\|`, false, "CEF:"},
		{`^(?P<r>Failed|Accepted) (?:(?P<m>\S+) for )?(?P<u>\S+) from (?P<ip>[0-9.]+)`, false, " from "},
		{`(?i)abc`, false, ""},
		{`(?i)abc`, true, "abc"},
		{`a|b`, false, ""},
		{`x*`, false, ""},
		{`^foo$`, false, "foo"},
		{`(`, false, ""},
	} {
		if got := regexlit.Required(c.pat, c.fold); got != c.want {
			t.Errorf("Required(%q, %v) = %q, want %q", c.pat, c.fold, got, c.want)
		}
	}
}

func TestMinLen(t *testing.T) {
	for _, c := range []struct {
		pat  string
		want int
	}{
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, 82},
		{`(?i)abc`, 3},
		{`(?i)k`, 1}, // also the Kelvin sign, three bytes
		{`a|bc`, 1},
		{`x*y+`, 1},
		{`^$`, 0},
		{`.{3,}`, 3},
		{`é`, 2},
		{`[é-ñ]`, 2},
		{`[^a]`, 1}, // an invalid byte matches as U+FFFD
		{`(?:ab){2}c?`, 4},
		{`(`, 0},
	} {
		if got := regexlit.MinLen(c.pat); got != c.want {
			t.Errorf("MinLen(%q) = %d, want %d", c.pat, got, c.want)
		}
	}
}

// TestMinLenBound checks that no match is shorter than MinLen says.
func TestMinLenBound(t *testing.T) {
	texts := []string{"", "a", "ab k K \u212A", "\xff\xfe", "é ñ x", "aaaa bbbb", "ſ S s", "0123456789abcdef"}
	for _, pat := range []string{`.`, `[^a]`, `(?i)k`, `(?i)s+`, `é|x`, `\S{2}`, `[\x{80}-\x{10FFFF}]`, `\x{FFFD}`, `a{2,}|b`} {
		re := regexp.MustCompile(pat)
		n := regexlit.MinLen(pat)
		for _, s := range texts {
			for _, m := range re.FindAllStringIndex(s, -1) {
				if m[1]-m[0] < n {
					t.Errorf("%q matches %q (%d bytes) in %q, under MinLen %d", pat, s[m[0]:m[1]], m[1]-m[0], s, n)
				}
			}
		}
	}
}

func TestRequiredRun(t *testing.T) {
	for _, c := range []struct {
		pat   string
		n     int
		in    string // bytes in the set
		notIn string
	}{
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, 64, "09afAF", "gG \\"},
		{`x[0-9]+[0-9]{2}y`, 3, "09", "xy"},
		{`[0-9]*[0-9]?`, 0, "", ""},
		{`(?i)[a-k]{5}`, 0, "", ""}, // the Kelvin sign folds in: not ASCII-only
		{`[^"]{10}`, 0, "", ""},
		{`a{3}`, 0, "", ""}, // a literal, not a class
		{`[ab]{2}\b[ab]{3}`, 3, "ab", "c"},
	} {
		set, n := regexlit.RequiredRun(c.pat)
		if n != c.n {
			t.Errorf("RequiredRun(%q) = %d, want %d", c.pat, n, c.n)
		}
		for i := 0; i < len(c.in); i++ {
			if !set.Has(c.in[i]) {
				t.Errorf("RequiredRun(%q): %q not in the set", c.pat, c.in[i])
			}
		}
		for i := 0; i < len(c.notIn); i++ {
			if set.Has(c.notIn[i]) {
				t.Errorf("RequiredRun(%q): %q in the set", c.pat, c.notIn[i])
			}
		}
	}
}

// TestRequiredRunBound checks that every match holds the run.
func TestRequiredRunBound(t *testing.T) {
	texts := []string{"ab12 ffff 0123", "x999y x12y", " 0123456789abcdef0123 ", "\u212a\u212aabc", "aab\xffbb"}
	for _, pat := range []string{`[0-9]{2,}`, `x[0-9]+[0-9]{2}y`, `[a-f0-9]{4}\s?[0-9]*`, `[ab]+[ab]`, `\s[0-9a-f]{8}`} {
		re := regexp.MustCompile(pat)
		set, n := regexlit.RequiredRun(pat)
		for _, s := range texts {
			for _, m := range re.FindAllStringIndex(s, -1) {
				run, longest := 0, 0
				for i := m[0]; i < m[1]; i++ {
					if set.Has(s[i]) {
						run++
						longest = max(longest, run)
					} else {
						run = 0
					}
				}
				if longest < n {
					t.Errorf("%q matches %q in %q with a run of %d, under %d", pat, s[m[0]:m[1]], s, longest, n)
				}
			}
		}
	}
}
