package pipeline

import "testing"

func TestFastRegexp(t *testing.T) {
	for p, want := range map[string]string{
		`(^|\s)CEF:\d+\|`: "CEF:",
		`^(?P<r>Failed|Accepted) (?:(?P<m>\S+) for )?(?P<u>\S+) from (?P<ip>[0-9.]+)`: " from ",
		`(?i)abc`: "",
		`a|b`:     "",
		`x*`:      "",
		`^foo$`:   "foo",
	} {
		if got := requiredLiteral(p); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", p, got, want)
		}
		f, err := newFastRegexp(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"x CEF:0|", "Failed password for root from 1.2.3.4", "abc", "ABC", "foo", "b", ""} {
			if f.MatchString(s) != f.re.MatchString(s) {
				t.Errorf("%q on %q: prefiltered result differs", p, s)
			}
		}
	}
}
