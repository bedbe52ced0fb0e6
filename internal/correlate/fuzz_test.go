package correlate_test

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// FuzzRestore: a snapshot from anywhere either restores or fails with an
// error, and the engine keeps working; it never panics.
func FuzzRestore(f *testing.F) {
	rules, errs := sigma.ParseRules("mixed.yml", []byte(mixed))
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	set, _ := correlate.Compile(rules)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	eng := correlate.NewEngine(set, correlate.Options{})
	for i, r := range []string{"a", "b", "a", "a", "b"} {
		for _, c := range set.Feeds(r) {
			_, _ = eng.Apply(correlate.Signal{Correlation: c.ID, Rule: r, EventID: string(rune('0' + i)), Time: at.Add(time.Duration(i) * time.Second),
				Group: []string{"u"}, Value: "h"})
		}
	}
	seed, _ := eng.Snapshot()
	f.Add(seed)
	f.Add([]byte(`{"v":1,"groups":[{"correlation":"count","values":["u"],"entries":[{"t":5,"id":"x","input":7}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := correlate.NewEngine(set, correlate.Options{})
		if err := e.Restore(data); err != nil {
			return
		}
		for i, r := range []string{"a", "b", "a"} {
			for _, c := range set.Feeds(r) {
				_, _ = e.Apply(correlate.Signal{Correlation: c.ID, Rule: r, EventID: "f" + string(rune('0'+i)), Time: at.Add(time.Hour),
					Group: []string{"u"}, Value: "h"})
			}
		}
		e.Advance(at.Add(100 * time.Hour))
		if _, err := e.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}
