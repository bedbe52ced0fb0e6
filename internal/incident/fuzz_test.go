package incident_test

import (
	"os"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// FuzzParseConfig: any input gives a config or an error, never a panic;
// an accepted config builds a grouper and a national stage.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"example.yaml", "fields.bad.yaml", "unknown_key.bad.yaml"} {
		data, err := os.ReadFile("testdata/config/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("routes: [{name: r, group_by: [rule], group_interval: 1ns, repeat_interval: 1ns}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := incident.ParseConfig(data)
		if err != nil {
			return
		}
		if _, err := incident.NewGrouper(c.GrouperOptions(0, 1, nil, nil)); err != nil {
			t.Fatalf("valid config, grouper refused: %v", err)
		}
		if !c.National.Disabled {
			if _, err := incident.NewNational(c.NationalOptions(0, 1, nil)); err != nil {
				t.Fatalf("valid config, national stage refused: %v", err)
			}
		}
	})
}

func FuzzParseRSITMapping(f *testing.F) {
	data, err := os.ReadFile("../../configs/rsit.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("rules: [{tag: a, class: other, type: other}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := incident.ParseRSITMapping(data)
		if err != nil {
			return
		}
		if c, ty := m.Classify([]string{"a", "attack.t1110"}); !incident.ValidRSIT(c, ty) {
			t.Fatalf("classified as %s:%s", c, ty)
		}
	})
}

// FuzzRestore: a checkpoint read back from storage may be damaged; Restore
// refuses it or gives a grouper that keeps working.
func FuzzRestore(f *testing.F) {
	g, _ := incident.NewGrouper(streamOptions())
	var last string
	run(f, g, stream(200, 3), 0, 200, &last)
	snap, _ := g.Snapshot()
	f.Add(snap)
	f.Add([]byte(`{"version":1,"partition":0,"partitions":1}`))
	more := stream(50, 5)
	f.Fuzz(func(t *testing.T, data []byte) {
		g, _ := incident.NewGrouper(streamOptions())
		if err := g.Restore(data); err != nil {
			return
		}
		now := t0.Add(time.Hour)
		for _, s := range more {
			if !s.close {
				g.Add(s.a, now)
			}
		}
		g.Tick(now.Add(time.Hour))
		if _, err := g.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}
