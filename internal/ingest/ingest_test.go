package ingest_test

import (
	"testing"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

func TestCutField(t *testing.T) {
	for _, c := range []struct {
		s, escapable string
		p            int
		want         string
		next         int
		ok           bool
	}{
		{s: "a|b", want: "a", next: 2, ok: true},
		{s: "x|a|b", p: 2, want: "a", next: 4, ok: true},
		{s: `a\|b|c`, want: "a|b", next: 5, ok: true},
		{s: `a\\|b`, escapable: `\`, want: `a\`, next: 4, ok: true},
		{s: `a\b|`, want: `a\b`, next: 4, ok: true}, // a backslash not escaping is kept
		{s: `a\\|b`}, // without \ escapable, the second one escapes the pipe
		{s: `a\nb|`, escapable: `\`, want: `a\nb`, next: 5, ok: true},
		{s: `a\|b`},
		{s: ""},
	} {
		got, next, ok := ingest.CutField(c.s, c.p, '|', c.escapable)
		if got != c.want || next != c.next || ok != c.ok {
			t.Errorf("CutField(%q, %d, %q) = %q, %d, %v; want %q, %d, %v", c.s, c.p, c.escapable, got, next, ok, c.want, c.next, c.ok)
		}
	}
}

func TestIndexAtWord(t *testing.T) {
	for s, want := range map[string]int{
		"CEF:0|a":           0,
		"host app: CEF:0|a": 10,
		"xCEF:0 then CEF:1": 12,
		"no record here":    -1,
		"xCEF:":             -1,
		"CEF:CEF: CEF:":     0,
		"a CEF:x b":         2,
	} {
		if got := ingest.IndexAtWord(s, "CEF:"); got != want {
			t.Errorf("IndexAtWord(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestDetail(t *testing.T) {
	err := &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 3, Err: ingest.Detail("empty key")}
	if got := err.Error(); got != "syntax at byte 3: empty key" {
		t.Errorf("Error() = %q", got)
	}
}
