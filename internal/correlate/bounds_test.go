package correlate_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
)

// TestStateBounded: a flood of distinct groups (one signal each, a 1h
// timespan, so nothing expires) keeps the engine within MaxGroups and
// MaxBytes, counts the evictions, and keeps the Go heap near the estimate.
func TestStateBounded(t *testing.T) {
	set, _ := compile(t, pair)
	const n, maxGroups = 400000, 1000
	eng := correlate.NewEngine(set, correlate.Options{MaxGroups: maxGroups, MaxBytes: 1 << 20})
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	group := make([]string, 1)
	for i := 0; i < n; i++ {
		group[0] = "user" + strconv.Itoa(i)
		if _, err := eng.Apply(correlate.Signal{Correlation: "corr-1", Rule: "base-1", EventID: strconv.Itoa(i),
			Time: at.Add(time.Duration(i) * time.Millisecond), Group: group}); err != nil {
			t.Fatal(err)
		}
		if eng.Groups() > maxGroups || eng.Bytes() > 1<<20 {
			t.Fatalf("signal %d: %d groups, %d bytes", i, eng.Groups(), eng.Bytes())
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	c := eng.Counters()
	if c.Evicted != n-int64(eng.Groups()) {
		t.Errorf("evicted %d of %d, %d groups left", c.Evicted, n, eng.Groups())
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d groups, estimate %d bytes, Go heap grew %d bytes", eng.Groups(), eng.Bytes(), grown)
	if grown > 2*eng.Bytes()+(256<<10) {
		t.Errorf("Go heap grew %d bytes for an estimated %d", grown, eng.Bytes())
	}
	runtime.KeepAlive(eng)
}
