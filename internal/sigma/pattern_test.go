package sigma

import "testing"

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pat     string
		windash bool
		cased   bool
		in      string
		want    bool
	}{
		{`cmd.exe`, false, false, "CMD.EXE", true},
		{`cmd.exe`, false, true, "CMD.EXE", false},
		{`*\cmd.exe`, false, false, `C:\Windows\System32\cmd.exe`, true},
		{`C:\Windows\\*`, false, false, `c:\windows\x`, true},
		{`C:\Windows\*`, false, false, `c:\windows\x`, false},
		{`C:\Windows\*`, false, false, `c:\windows*`, true},
		{`*whoami*`, false, false, "a WHOAMI b", true},
		{`*`, false, false, "", true},
		{``, false, false, "", true},
		{``, false, false, "x", false},
		{`a?c`, false, false, "abc", true},
		{`a?c`, false, false, "ac", false},
		{`a?c`, false, false, "aжc", true},
		{`a*b*c`, false, false, "a__b__c", true},
		{`a*b*c`, false, false, "a__c__b", false},
		{`*a*b*`, false, false, "xxaxxbxx", true},
		{`a\*b`, false, false, "a*b", true},
		{`a\*b`, false, false, "axb", false},
		{`a\?b`, false, false, "a?b", true},
		{`a\\*`, false, false, `a\xyz`, true},
		{`a\b`, false, false, `a\b`, true},
		{`*\\*`, false, false, `x\y`, true},
		{`ab*ab`, false, false, "ab", false},
		{`ab*ab`, false, false, "abab", true},
		{`*.exe -enc *`, true, false, "powershell.exe /enc abc", true},
		{`*.exe -enc *`, true, false, "powershell.exe \u2013enc abc", true},
		{`*.exe -enc *`, true, false, "powershell.exe +enc abc", false},
		{`*.exe -enc *`, false, false, "powershell.exe /enc abc", false},
		{`ПРИВЕТ*`, false, false, "привет мир", true},
	} {
		p := newPattern(parseWildcards(c.pat, c.windash), c.cased)
		in := c.in
		if !c.cased {
			in = lower(in)
		}
		if got := p.match(in); got != c.want {
			t.Errorf("%q (windash %v, cased %v) on %q = %v, want %v", c.pat, c.windash, c.cased, c.in, got, c.want)
		}
	}
}

func FuzzPattern(f *testing.F) {
	f.Add("a*b?c", "xaxxbyc", false)
	f.Add(`*\\*.exe -*`, "c:\\x.exe /y", true)
	f.Add("*a*", "", false)
	f.Fuzz(func(t *testing.T, pat, s string, windash bool) {
		p := newPattern(parseWildcards(pat, windash), false)
		p.match(lower(s))
	})
}
