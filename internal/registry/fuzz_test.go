package registry_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// FuzzParse: no document makes Parse, NewMatcher or the matcher panic, and
// an accepted object's zone is one the matcher can give (weird zone names:
// paths, "Local", offsets, control characters).
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(conformance.ModuleRoot(f), "configs", "registry.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, z := range []string{"Asia/Tokyo", "UTC", "Local", "../../etc/passwd", "+05:00", "Asia/Almaty\x00", "/etc/localtime", "Etc/GMT-14", `""`} {
		f.Add([]byte(`version: 1
centers: [{id: o1, name: O, kind: oisc}]
organisations: [{id: org, name: Org, sectors: [banking]}]
objects:
  - {id: ob, name: X, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o1, hostnames: [h1], zone: ` + z + `}
`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := registry.Parse(data)
		if err != nil {
			return
		}
		m := registry.NewMatcher(r, "")
		for i := range r.Objects {
			o := &r.Objects[i]
			for _, h := range o.Hostnames {
				ev := &event.Event{Host: &event.Host{Name: h}}
				if l := m.Zone(ev); l == nil && o.Zone != "" && m.Match(ev) == o {
					t.Errorf("object %s has zone %q, the matcher gives none", o.ID, o.Zone)
				}
			}
		}
	})
}
