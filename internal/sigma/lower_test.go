package sigma

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestContextLowerAndText: the context's buffered lower and text give what
// strings.ToLower and text give, across buffer chunks.
func TestContextLowerAndText(t *testing.T) {
	c := &evalCtx{}
	strs := []string{"", "abc", "ABC", `C:\Windows\System32\CMD.EXE`, "ÄÖÜ straße", "mixed Ünicode AND ascii", "\xffBAD", strings.Repeat("AbC", 3000)}
	var got []string
	for i := 0; i < 50; i++ {
		for _, s := range strs {
			got = append(got, c.lower(s))
		}
	}
	for i, g := range got {
		if want := strings.ToLower(strs[i%len(strs)]); g != want {
			t.Errorf("lower(%q) = %q, want %q", strs[i%len(strs)], g, want)
		}
	}
	// Every length around the word size, with the bytes next to the
	// upper-case range and around 0x80.
	edge := []byte("@AZ[`az{\x7f\x80\xff09 ")
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 40; n++ {
		for k := 0; k < 200; k++ {
			b := make([]byte, n)
			for j := range b {
				b[j] = edge[rng.IntN(len(edge))]
				if rng.IntN(4) == 0 {
					b[j] &^= 0x80 // mostly ASCII, so the word path runs
				}
			}
			s := string(b)
			got, ascii := c.lowerASCII(s)
			if want := strings.ToLower(s); got != want {
				t.Fatalf("lowerASCII(%q) = %q, want %q", s, got, want)
			}
			if wantASCII := !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }); ascii != wantASCII {
				t.Fatalf("lowerASCII(%q): ascii %v", s, ascii)
			}
		}
	}
	vals := []any{int64(-42), 7, 4688.0, math.Copysign(0, -1), 0.0, 3.5, 1e15, 1e20, -1e14, math.NaN(), math.Inf(1), json.Number("12"), true, uint64(1 << 63), "s", nil, []any{1}}
	for _, v := range vals {
		g, gok := c.text(v)
		w, wok := text(v)
		if g != w || gok != wok {
			t.Errorf("text(%#v) = %q %v, want %q %v", v, g, gok, w, wok)
		}
	}
}

// TestRegexFoldedLiteral: a case-insensitive regular expression whose
// literal has an s or a k also matches the long s (U+017F) and the Kelvin
// sign (U+212A), which lower-casing keeps; neither the prefilter nor the
// matcher's literal check may then skip the rule.
func TestRegexFoldedLiteral(t *testing.T) {
	rules, errs := ParseRules("t.yml", []byte(`title: t
id: 5e0c5b8e-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|re: '(?i)passwords'
  kel:
    CommandLine|re: '(?i)kerberos'
  condition: sel or kel
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ps, err := DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	eng, rej, _ := Compile(rules, Options{Pipelines: ps})
	if len(rej) > 0 {
		t.Fatal(rej[0].Err)
	}
	for _, cl := range []string{"x PASSWORDS", "x pa\u017f\u017fword\u017f", "\u212Aerberos", "\u212AERBEROS ü", "nothing", "nothing ü"} {
		ev := MapEvent{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": int64(1), "CommandLine": cl}
		got, want := eng.matchIDs(ev), eng.bruteMatch(ev)
		if !slices.Equal(got, want) {
			t.Errorf("%q: engine %v, every rule evaluated %v", cl, got, want)
		}
		if (len(want) == 1) != !strings.HasPrefix(cl, "nothing") {
			t.Errorf("%q: matches %v", cl, want)
		}
	}
}

// TestReMatcherShortcuts: the literal and length checks a regex matcher
// makes before running the expression never reject a value the expression
// matches (the prefilter differential cannot see this: the brute-force
// side runs the same matcher).
func TestReMatcherShortcuts(t *testing.T) {
	pats := []string{`(?i)passwords`, `(?i)kerberos`, `(?i)(?:set).*&&\s?set.*(?:environment|invoke)`,
		`\s[a-fA-F0-9]{4}\s[a-fA-F0-9]{2}`, `\s[a-f0-9]{8}\s`, `(?i)\.exe\s+x`, `(?i)^C:\\Users\\[^\\]+\\NTUSER\.DAT$`, `(?i)ssh`, `x{3,}`}
	texts := []string{"", "x PASSWORDS", "x pa\u017f\u017fword\u017f", "\u212Aerberos", "KERBEROS", "SET a&& \u017fet ENVIRONMENT",
		"set a&& set invoke", " abcd 0f", " ABCD\t0F", "A.EXE  X", "a.\u212Bxe x", `c:\users\bob\ntuser.dat`, `C:\USERS\BOB\NTU\u017fER.DAT`,
		"\u017f\u017fh", "SSH", "xx", "xxx", "\xffSSH", " 0123abcd ", " 0123abc\u212a ", " 0123abcd\t", "x 0123abcd 0123abcd y"}
	c := &evalCtx{}
	for _, p := range pats {
		m := newReMatcher(regexp.MustCompile(p))
		for _, s := range texts {
			fv := c.prepare(s)
			if got, want := m.match(c, &fv), m.re.MatchString(s); got != want {
				t.Errorf("%q on %q: matcher %v, expression %v (lit %q folded %v asciiOnly %v minLen %d)", p, s, got, want, m.lit, m.folded, m.asciiOnly, m.minLen)
			}
		}
	}
}

// TestFoldOrbitsLower pins what regexNeed relies on: every case of an
// ASCII letter that (?i) matches lower-cases to the letter, except the
// long s.
func TestFoldOrbitsLower(t *testing.T) {
	for c := 'a'; c <= 'z'; c++ {
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			if l := strings.ToLower(string(f)); l != string(c) && !(c == 's' && f == '\u017f') {
				t.Errorf("(?i)%c matches %U, which lower-cases to %q", c, f, l)
			}
		}
	}
}
