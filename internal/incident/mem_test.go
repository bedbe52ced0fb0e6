package incident_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// TestByteEstimateTracksTheHeap: MaxBytes bounds an estimate; the heap
// the state really takes must stay within a small factor of it, or the
// bound would not bound memory.
func TestByteEstimateTracksTheHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates")
	}
	const n = 5000
	alerts := make([]incident.Alert, n)
	for i := range alerts {
		alerts[i] = incident.Alert{ID: fmt.Sprintf("0196f6a2-7c1e-7d3a-9a3e-%012d", i), Org: fmt.Sprintf("org%d", i%7),
			RuleID: fmt.Sprintf("5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c%04d", i%6), RuleTitle: "SSH Login Attempt For A Non-Existent User",
			Level: "high", Object: fmt.Sprintf("object-%d", i), Sector: "electricity", ObjectClass: 1, DetectedAt: t0, EventTime: t0,
			Entities: map[string]string{"source.ip": fmt.Sprintf("198.51.%d.%d", i/250, i%250), "user.name": fmt.Sprintf("user%d", i),
				"host.name": fmt.Sprintf("host-%d.example.kz", i)}}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g, err := incident.NewGrouper(incident.GrouperOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range alerts {
		if _, err := g.Add(alerts[i], t0.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	g.Tick(t0.Add(time.Hour)) // report: no pending ids held
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	st := g.Stats()
	t.Logf("%d groups: heap %d bytes (%d per group), estimate %d (%d per group), ratio %.2f",
		st.Groups, heap, heap/int64(st.Groups), st.Bytes, st.Bytes/int64(st.Groups), float64(heap)/float64(st.Bytes))
	if heap > 2*st.Bytes {
		t.Errorf("heap %d is more than twice the estimate %d", heap, st.Bytes)
	}
	runtime.KeepAlive(g)
}

// TestBoundsPastTheLimitStayCheap: when every group holds unreported
// alerts (a burst of new groups within group_wait), nothing can be
// evicted; Add must not re-sort every group on each call then.
func TestBoundsPastTheLimitStayCheap(t *testing.T) {
	g, err := incident.NewGrouper(incident.GrouperOptions{MaxGroups: 100, Routes: []incident.Route{{Name: "r",
		GroupBy: []string{"object"}, GroupWait: time.Hour, GroupInterval: time.Hour, RepeatInterval: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	alerts := make([]incident.Alert, 3500)
	for i := range alerts {
		alerts[i] = incident.Alert{ID: fmt.Sprintf("a%d", i), Org: "o1", RuleID: "R", Level: "low", DetectedAt: t0, Object: fmt.Sprintf("obj%d", i)}
	}
	for i := range alerts[:3000] {
		g.Add(alerts[i], t0)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range alerts[3000:] {
		g.Add(alerts[3000+i], t0)
	}
	runtime.ReadMemStats(&after)
	perAdd := (after.TotalAlloc - before.TotalAlloc) / 500
	if perAdd > 8<<10 {
		t.Errorf("%d bytes allocated per Add past the bound (%d groups held)", perAdd, g.Stats().Groups)
	}
	// Once reported, the groups are evictable again.
	g.Tick(t0.Add(time.Hour))
	g.Add(incident.Alert{ID: "z", Org: "o1", RuleID: "R", Level: "low", DetectedAt: t0, Object: "z"}, t0.Add(time.Hour))
	if n := g.Stats().Groups; n > 100 {
		t.Errorf("%d groups after the burst was reported", n)
	}
}
