package regexlit_test

import (
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
