package incident_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

func TestConfigExampleAndDefaults(t *testing.T) {
	data, err := os.ReadFile("testdata/config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := incident.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 2 || c.Routes[0].GroupWait != time.Minute || c.Routes[0].Matchers[0].Op != incident.MatchRegexp ||
		c.National.MinSectors != 2 || c.Link.StopValues[2] != "10.0.0.1" {
		t.Errorf("decoded %+v", c)
	}
	if _, err := incident.NewGrouper(c.GrouperOptions(0, 1, nil, nil)); err != nil {
		t.Error(err)
	}
	if _, err := incident.NewNational(c.NationalOptions(0, 1, nil)); err != nil {
		t.Error(err)
	}
	d, err := incident.ParseConfig(nil)
	if err != nil || len(d.Routes) != 1 || d.Routes[0].Name != "default" || d.National.Window != 24*time.Hour || d.RSITFile != "configs/rsit.yaml" {
		t.Errorf("defaults %+v %v", d, err)
	}
}

func TestBadConfigs(t *testing.T) {
	for file, want := range map[string][]string{
		"unknown_key.bad.yaml": {"field continue not found"},
		"fields.bad.yaml": {"incidents.routes[0].group_by: empty", "incidents.routes[0].group_wait: negative",
			"incidents.routes[0].repeat_interval: must be at least group_interval",
			`incidents.routes[0].matchers[0]: matcher rule_id: unknown operator "~~"`,
			`incidents.routes[1].group_by[0]: "tag" cannot be a group key`, `incidents.routes[1].name: "r" twice`,
			"incidents.link.max_cardinality: must be at least 2", "incidents.national.window: must be positive",
			"incidents.national.min_orgs: must be at least 2"},
	} {
		data, err := os.ReadFile("testdata/config/" + file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = incident.ParseConfig(data)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: want %q in %v", file, w, err)
			}
		}
	}
}
