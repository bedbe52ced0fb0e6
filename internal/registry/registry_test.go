package registry_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

func shipped(t *testing.T) *registry.Registry {
	t.Helper()
	r, err := registry.LoadFile(filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestShippedRegistry(t *testing.T) {
	r := shipped(t)
	if len(r.Objects) < 5 || len(r.Organisations) < 5 {
		t.Fatalf("demo registry too small: %d objects, %d organisations", len(r.Objects), len(r.Organisations))
	}
	sectors := map[string]bool{}
	for _, o := range r.Objects {
		sectors[o.Sector] = true
	}
	if len(sectors) < 4 {
		t.Errorf("demo registry spans %d sectors, want several", len(sectors))
	}
	// The rule pack finds SCADA hosts and OT gateways by tag.
	if o := r.Object("water-scada"); o == nil || !slices.Contains(o.Tags, "scada") || !slices.Contains(o.Tags, "ot_gateway") {
		t.Errorf("water-scada tags: %v", o)
	}
}

func TestSectors(t *testing.T) {
	want := "heat_supply electricity gas_supply water_supply industry healthcare communications banking transport hydraulic_structures law_enforcement digital_government"
	var got []string
	for _, s := range registry.Sectors {
		got = append(got, s.ID)
		if s.NameEN == "" || s.NameRU == "" || s.NameKK == "" {
			t.Errorf("sector %s lacks a name", s.ID)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("sectors = %v", got)
	}
	if !registry.ValidSector("banking") || registry.ValidSector("Banking") {
		t.Error("ValidSector")
	}
}

func TestParseErrors(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"unknown key": {"version: 1\ncentres: []\n", "field centres not found"},
		"version":     {"version: 2\n", "version: must be 1"},
		"empty":       {"", "empty document"},
		"refs": {`version: 1
centers: [{id: ncc, name: N, kind: ncc}, {id: o1, name: O, kind: oisc, parent: nope}]
organisations: [{id: org1, name: Org, sectors: [space], oiscs: [ncc], bin: "12"}]
objects:
  - {id: ob1, name: X, kind: server, owner: org2, sector: water, criticality: 4, oisc: ncc, cidrs: [10.0.0.0/33], hostnames: ["a b"]}
  - {id: ob1, name: Y, kind: server_room_dc, owner: org1, sector: banking, criticality: 1, oisc: o1, cidrs: [10.1.0.0/16, 10.1.0.0/16], tags: [scada, SCADA, "", scada], zone: Asia/Tokio}
  - {id: ob2, name: Z, kind: server_room_dc, owner: org1, sector: banking, criticality: 1, oisc: o1, zone: Local}
  - {id: ob3, name: Z, kind: server_room_dc, owner: org1, sector: banking, criticality: 1, oisc: o1, zone: ../../etc/passwd}
`, "objects[1].zone: unknown time zone Asia/Tokio|objects[2].zone: \"Local\" is not an IANA zone name|objects[3].zone: |objects[1].tags: invalid tag \"SCADA\"|objects[1].tags: invalid tag \"\"|objects[1].tags: duplicate tag \"scada\"|centers[1].parent: unknown center \"nope\"|organisations[0].sectors: unknown sector \"space\"|organisations[0].oiscs|organisations[0].bin|" +
			"objects[0].kind|objects[0].owner: unknown organisation \"org2\"|objects[0].sector|objects[0].criticality|objects[0].oisc|objects[0].cidrs|objects[0].hostnames|objects[1].id: duplicate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := registry.Parse([]byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range strings.Split(c.want, "|") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestMatcherScopedToOISC(t *testing.T) {
	r := shipped(t)
	almaty := registry.NewMatcher(r, "oisc-almaty")
	astana := registry.NewMatcher(r, "oisc-astana")
	// 10.10.0.0/16 is altyn-scada in Almaty and qazbank-cbs in Astana.
	if o := almaty.MatchIP("10.10.3.4"); o == nil || o.ID != "altyn-scada" {
		t.Errorf("almaty 10.10.3.4 = %v", o)
	}
	if o := astana.MatchIP("10.10.3.4"); o == nil || o.ID != "qazbank-cbs" {
		t.Errorf("astana 10.10.3.4 = %v", o)
	}
	if o := almaty.MatchHost("cbs-db-01"); o != nil {
		t.Errorf("almaty matched another OISC's host: %v", o.ID)
	}
	all := registry.NewMatcher(r, "")
	if o := all.MatchHost("egov-web-01"); o == nil || o.ID != "egov-portal" {
		t.Errorf("all: %v", o)
	}
}

// TestMatcherZone: the zone of the object an event matches, nil when none
// matched or the object names no zone.
func TestMatcherZone(t *testing.T) {
	r, err := registry.Parse([]byte(`version: 1
centers: [{id: o1, name: O, kind: oisc}, {id: o2, name: P, kind: oisc}]
organisations: [{id: org, name: Org, sectors: [banking]}]
objects:
  - {id: tokyo, name: T, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o1, hostnames: [fw-tokyo], zone: Asia/Tokyo}
  - {id: aqtau, name: A, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o1, cidrs: [10.1.0.0/16], zone: Asia/Aqtau}
  - {id: plain, name: P, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o1, hostnames: [plain-1]}
  - {id: other, name: O, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o2, hostnames: [fw-other], zone: Europe/Berlin}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := registry.NewMatcher(r, "o1")
	for _, c := range []struct {
		ev   *event.Event
		want string
	}{
		{&event.Event{Host: &event.Host{Name: "fw-tokyo"}}, "Asia/Tokyo"},
		{&event.Event{Log: &event.Log{Source: &event.LogSource{Address: "10.1.0.9:514"}}}, "Asia/Aqtau"},
		{&event.Event{Host: &event.Host{Name: "plain-1"}}, ""},
		{&event.Event{Host: &event.Host{Name: "fw-other"}}, ""}, // another OISC's object
		{&event.Event{}, ""},
	} {
		got := ""
		if l := m.Zone(c.ev); l != nil {
			got = l.String()
		}
		if got != c.want {
			t.Errorf("Zone(%+v) = %q, want %q", c.ev.Host, got, c.want)
		}
	}
	if l := registry.NewMatcher(&registry.Registry{}, "o1").Zone(&event.Event{Host: &event.Host{Name: "fw-tokyo"}}); l != nil {
		t.Errorf("empty registry: zone %v", l)
	}
}

func TestMatcherRules(t *testing.T) {
	r, err := registry.Parse([]byte(`version: 1
centers: [{id: o1, name: O, kind: oisc}]
organisations: [{id: org, name: Org, sectors: [banking]}]
objects:
  - {id: wide, name: W, kind: telecom_network, owner: org, sector: banking, criticality: 3, oisc: o1, cidrs: [10.0.0.0/8, "2001:db8::/32"], hostnames: ["*.corp.example"]}
  - {id: narrow, name: N, kind: server_room_dc, owner: org, sector: banking, criticality: 1, oisc: o1, cidrs: [10.1.2.0/24, 192.0.2.7], hostnames: ["*.dc.corp.example", "DB-01"], tags: [scada, remote_access]}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := registry.NewMatcher(r, "o1")
	for in, want := range map[string]string{
		"10.1.2.3": "narrow", "10.1.3.3": "wide", "192.0.2.7": "narrow", "192.0.2.8": "",
		"::ffff:10.1.2.3": "narrow", "2001:db8::1": "wide", "fe80::1%eth0": "", "garbage": "",
	} {
		got := ""
		if o := m.MatchIP(in); o != nil {
			got = o.ID
		}
		if got != want {
			t.Errorf("MatchIP(%s) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"db-01": "narrow", "DB-01.corp.example": "narrow", "x.dc.corp.example": "narrow",
		"a.b.corp.example": "wide", "corp.example": "", "dc.corp.example.": "wide", "": "",
	} {
		got := ""
		if o := m.MatchHost(in); o != nil {
			got = o.ID
		}
		if got != want {
			t.Errorf("MatchHost(%q) = %q, want %q", in, got, want)
		}
	}
	// Host name wins over addresses; destination over source.
	ev := &event.Event{Host: &event.Host{Name: "db-01"}, Source: &event.Endpoint{IP: "10.9.9.9"}}
	if o := m.Enrich(ev); o == nil || ev.Kuzet.Object != "narrow" || ev.Kuzet.Sector != "banking" ||
		ev.Kuzet.Org != "org" || ev.Kuzet.Criticality != 1 || ev.Kuzet.Asset != event.AssetKnown ||
		strings.Join(ev.Kuzet.ObjectTags, ",") != "scada,remote_access" {
		t.Errorf("enrich by host: %+v", ev.Kuzet)
	}
	// The event's tags are its own copy: changing them leaves the registry alone.
	if len(ev.Kuzet.ObjectTags) > 0 {
		ev.Kuzet.ObjectTags[0] = "changed"
	}
	if r.Object("narrow").Tags[0] != "scada" {
		t.Errorf("enrich shares the object's tags: %v", r.Object("narrow").Tags)
	}
	ev = &event.Event{Source: &event.Endpoint{IP: "10.200.0.1"}}
	if m.Enrich(ev); ev.Kuzet.Object != "wide" || ev.Kuzet.ObjectTags != nil {
		t.Errorf("an object without tags: %+v", ev.Kuzet)
	}
	ev = &event.Event{Log: &event.Log{Source: &event.LogSource{Address: "192.0.2.7:514"}}, Source: &event.Endpoint{IP: "10.5.5.5"}}
	if m.Enrich(ev); ev.Kuzet.Object != "narrow" {
		t.Errorf("enrich by sender address: %+v", ev.Kuzet)
	}
	ev = &event.Event{Source: &event.Endpoint{IP: "8.8.8.8"}}
	ev.Kuzet.Object, ev.Kuzet.ObjectTags = "stale", []string{"scada"}
	if o := m.Enrich(ev); o != nil || ev.Kuzet.Asset != event.AssetUnknown || ev.Kuzet.Object != "" || ev.Kuzet.ObjectTags != nil {
		t.Errorf("unknown asset: %+v", ev.Kuzet)
	}
}
