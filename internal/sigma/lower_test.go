package sigma

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
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
	for _, cl := range []string{"x PASSWORDS", "x pa\u017f\u017fword\u017f", "\u212Aerberos", "nothing"} {
		ev := MapEvent{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": int64(1), "CommandLine": cl}
		got, want := eng.matchIDs(ev), eng.bruteMatch(ev)
		if !slices.Equal(got, want) {
			t.Errorf("%q: engine %v, every rule evaluated %v", cl, got, want)
		}
		if (len(want) == 1) != (cl != "nothing") {
			t.Errorf("%q: matches %v", cl, want)
		}
	}
}
