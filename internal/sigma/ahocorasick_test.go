package sigma

import (
	"sort"
	"strings"
	"testing"
)

func TestAhoCorasick(t *testing.T) {
	pats := []string{"he", "she", "his", "hers", "\\cmd.exe", "cmd", "a", "aa"}
	m := newACMachine(pats)
	for _, text := range []string{"ushers", "c:\\windows\\cmd.exe /c", "aaa", "", "xyz"} {
		var got []string
		m.scan(text, func(p int32) { got = append(got, pats[p]) })
		var want []string
		for _, p := range pats {
			for i := 0; i+len(p) <= len(text); i++ {
				if text[i:i+len(p)] == p {
					want = append(want, p)
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
}

func FuzzAhoCorasick(f *testing.F) {
	f.Add("he,she,his,hers", "ushers")
	f.Fuzz(func(t *testing.T, pl, text string) {
		var pats []string
		for _, p := range strings.Split(pl, ",") {
			if p != "" {
				pats = append(pats, p)
			}
		}
		if len(pats) == 0 {
			return
		}
		m := newACMachine(pats)
		got := map[int32]int{}
		m.scan(text, func(p int32) { got[p]++ })
		for i, p := range pats {
			if n := strings.Count(text, p); n > 0 && got[int32(i)] == 0 {
				t.Fatalf("pattern %q in %q not found", p, text)
			}
			if strings.Count(text, p) == 0 && got[int32(i)] > 0 {
				t.Fatalf("pattern %q reported in %q", p, text)
			}
		}
	})
}
