package alert_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

func TestIDIsDeterministicPerRuleAndEvent(t *testing.T) {
	a, b := alert.ID("r1", "e1"), alert.ID("r1", "e1")
	if a != b {
		t.Fatalf("same rule and event: %v and %v", a, b)
	}
	// The ids of alerts already stored must not change.
	if got := a.String(); got != "d863cc85-7d7a-5e32-aa7e-3b8857a8bef5" {
		t.Errorf("ID(r1, e1) = %s; ids of stored alerts would change", got)
	}
	for _, other := range []struct{ r, e string }{{"r2", "e1"}, {"r1", "e2"}, {"e1", "r1"}} {
		if alert.ID(other.r, other.e) == a {
			t.Errorf("ID(%s, %s) equals ID(r1, e1)", other.r, other.e)
		}
	}
}

func TestAttackTags(t *testing.T) {
	got := alert.AttackTags([]string{"attack.credential_access", "cve.2021-44228", "attack.t1003.001", "attack"})
	if want := []string{"attack.credential_access", "attack.t1003.001"}; !slices.Equal(got, want) {
		t.Errorf("AttackTags = %v, want %v", got, want)
	}
	if alert.AttackTags([]string{"car.2013-05-002"}) != nil {
		t.Error("no ATT&CK tags should give nil")
	}
}

func TestFromSigma(t *testing.T) {
	ev := &event.Event{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Host: &event.Host{Name: "app-01"},
		Source: &event.Endpoint{IP: "10.0.0.7"}, User: &event.User{Name: "ivan"}}
	ev.Kuzet = event.Kuzet{EventID: "e1", ReceivedAt: ev.Timestamp.Add(time.Second), Collector: "c1", OISC: "oisc-a",
		Org: "org-1", Object: "obj-1", Sector: "energy", Asset: "asset-1", Criticality: 3}
	now := ev.Timestamp.Add(time.Minute)
	r := &sigma.CompiledRule{Rule: &sigma.Rule{Title: "LSASS dump", ID: "r1", Tags: []string{"attack.t1003", "x"}}}
	a := alert.FromSigma(r, "v1", ev, now)
	want := alert.Alert{ID: alert.ID("r1", "e1"), ReceivedAt: ev.Kuzet.ReceivedAt, DetectedAt: now, EventTime: ev.Timestamp,
		RuleID: "r1", RuleTitle: "LSASS dump", Level: alert.DefaultLevel, Tags: []string{"attack.t1003", "x"},
		Attack: []string{"attack.t1003"}, EventIDs: []string{"e1"}, Collector: "c1", OISC: "oisc-a", Org: "org-1",
		Object: "obj-1", Sector: "energy", Asset: "asset-1", Criticality: 3, HostName: "app-01", SourceIP: "10.0.0.7",
		UserName: "ivan", RuleSet: "v1"}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("FromSigma =\n%+v\nwant\n%+v", a, want)
	}
	r.Rule.Level, r.Rule.ID = "critical", ""
	if a := alert.FromSigma(r, "v1", ev, now); a.Level != "critical" || a.RuleID != "LSASS dump" {
		t.Errorf("level %q, rule id %q: want the rule's level, and its title without an id", a.Level, a.RuleID)
	}
}
