package sigma

import (
	"strconv"
	"testing"
)

// equalLower(s, w) is lower(s) == w for a lowered w; route conditions on
// numbers compare as their decimal text.
func FuzzEqualLower(f *testing.F) {
	for _, seed := range [][2]string{{"Security", "security"}, {"SECURITY", "security"}, {"İx", "i̇x"},
		{"Microsoft-Windows-Sysmon/Operational", "microsoft-windows-sysmon/operational"}, {"ſ", "s"}, {"K", "k"}} {
		f.Add(seed[0], seed[1], int64(4688))
	}
	f.Fuzz(func(t *testing.T, s, w string, n int64) {
		w = lower(w)
		if got, want := equalLower(s, w), lower(s) == w; got != want {
			t.Fatalf("equalLower(%q, %q) = %v, lower gives %v", s, w, got, want)
		}
		c := routeCond{values: []string{w, strconv.FormatInt(n, 10)}}
		if !c.holds(n) {
			t.Fatalf("%d does not hold for %q", n, c.values)
		}
		if got, want := c.holds(s), lower(s) == w || lower(s) == c.values[1]; got != want {
			t.Fatalf("holds(%q) = %v for %q, want %v", s, got, c.values, want)
		}
	})
}
