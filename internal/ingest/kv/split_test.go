package kv

import (
	"reflect"
	"testing"
)

// splitBlanks is splitAny's shortcut for blank-separated pairs: they must
// agree on every input, errors and skipped tokens included.
func FuzzSplitBlanks(f *testing.F) {
	for _, s := range []string{`date=2026-11-24 devname="FG" msg="a \"b\""`, "a=1\tb=\"2 3\" c", "=v", " k\n=v ", "x y=", `a="unterminated`,
		"k\u00a0=v", "a==b c=d=e", `q='x y' z=\'`} {
		f.Add(s, byte('='), uint8(0))
	}
	f.Fuzz(func(t *testing.T, s string, delim byte, q uint8) {
		if delim == ' ' || delim == '\t' {
			return
		}
		quote := []rune{'"', '\'', -1}[q%3]
		o := Options{Delimiter: string([]byte{delim}), Quote: quote}
		got, gskip, gerr := splitBlanks(s, delim, quote, nil)
		want, wskip, werr := splitAny(s, o, nil)
		if !reflect.DeepEqual(got, want) || gskip != wskip || !reflect.DeepEqual(gerr, werr) {
			t.Fatalf("splitBlanks(%q, %q, %q) = %q, %d, %v; splitAny: %q, %d, %v", s, delim, quote, got, gskip, gerr, want, wskip, werr)
		}
	})
}

// quotedRef is quoted without its shortcut for a value without escapes.
func quotedRef(s string, j int, q byte) (string, int, bool) {
	var b []byte
	start, escaped := j+1, false
	for k := j + 1; k < len(s); k++ {
		switch s[k] {
		case '\\':
			if k+1 < len(s) && (s[k+1] == q || s[k+1] == '\\') {
				b = append(append(b, s[start:k]...), s[k+1])
				k++
				start, escaped = k+1, true
			}
		case q:
			v := s[start:k]
			if escaped {
				v = string(append(b, v...))
			}
			return v, k + 1, true
		}
	}
	return "", 0, false
}

func FuzzQuoted(f *testing.F) {
	for _, s := range []string{`"abc" x`, `"a\"b"`, `"a\\"`, `"a\x"`, `"open`, `""`} {
		f.Add(s, byte('"'))
	}
	f.Fuzz(func(t *testing.T, s string, q byte) {
		if len(s) == 0 {
			return
		}
		s = string(q) + s[1:]
		v, end, ok := quoted(s, 0, q)
		rv, rend, rok := quotedRef(s, 0, q)
		if v != rv || end != rend || ok != rok {
			t.Fatalf("quoted(%q, %q) = %q, %d, %v; want %q, %d, %v", s, q, v, end, ok, rv, rend, rok)
		}
	})
}
