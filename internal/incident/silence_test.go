package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

func TestMatchers(t *testing.T) {
	a := incident.Alert{ID: "a", RuleID: "R1", Level: "high", Org: "o1", Sector: "banking",
		Tags: []string{"attack.t1110", "attack.credential-access"}, Entities: map[string]string{"source.ip": "203.0.113.7"}}
	for _, tc := range []struct {
		m    incident.Matcher
		want bool
	}{
		{incident.Matcher{Name: "rule_id", Op: "=", Value: "R1"}, true},
		{incident.Matcher{Name: "rule_id", Op: "!=", Value: "R1"}, false},
		{incident.Matcher{Name: "source.ip", Op: "=~", Value: `203\.0\.113\..*`}, true},
		{incident.Matcher{Name: "source.ip", Op: "=~", Value: `203\.0`}, false}, // anchored
		{incident.Matcher{Name: "source.ip", Op: "!~", Value: `10\..*`}, true},
		{incident.Matcher{Name: "user.name", Op: "=", Value: ""}, true}, // missing label is ""
		{incident.Matcher{Name: "tag", Op: "=", Value: "attack.t1110"}, true},
		{incident.Matcher{Name: "tag", Op: "!=", Value: "attack.t1110"}, false},
		{incident.Matcher{Name: "tag", Op: "!~", Value: "attack\\.t9.*"}, true},
		{incident.Matcher{Name: "tag", Op: "=~", Value: "attack\\.t9.*"}, false},
		{incident.Matcher{Name: "sector", Op: "=", Value: "electricity"}, false},
		{incident.Matcher{Name: "correlation", Op: "=", Value: "false"}, true},
		{incident.Matcher{Name: "correlation", Op: "=", Value: "true"}, false},
	} {
		if got := tc.m.Matches(&a); got != tc.want {
			t.Errorf("%s %s %q: %v, want %v", tc.m.Name, tc.m.Op, tc.m.Value, got, tc.want)
		}
	}
}

func TestSilenceValidityAndExpiry(t *testing.T) {
	ok := incident.Silence{ID: "s1", Owner: "ivan", Reason: "maintenance", StartsAt: t0, EndsAt: t0.Add(time.Hour),
		Matchers: []incident.Matcher{{Name: "object", Op: "=", Value: "x"}}}
	for _, tc := range []struct {
		edit func(*incident.Silence)
		want string
	}{
		{func(s *incident.Silence) { s.ID = "" }, "no id"},
		{func(s *incident.Silence) { s.Owner = "" }, "owner and reason"},
		{func(s *incident.Silence) { s.Reason = "" }, "owner and reason"},
		{func(s *incident.Silence) { s.EndsAt = time.Time{} }, "no expiry"},
		{func(s *incident.Silence) { s.Matchers = nil }, "no matchers"},
		{func(s *incident.Silence) { s.Matchers[0].Op = "~" }, "unknown operator"},
		{func(s *incident.Silence) { s.Matchers[0] = incident.Matcher{Name: "x", Op: "=~", Value: "("} }, "error parsing regexp"},
	} {
		s := ok
		s.Matchers = append([]incident.Matcher(nil), ok.Matchers...)
		tc.edit(&s)
		var ss incident.Silences
		if err := ss.Set(s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	var ss incident.Silences
	if err := ss.Set(ok); err != nil {
		t.Fatal(err)
	}
	a := incident.Alert{ID: "a", Object: "x"}
	for at, want := range map[time.Duration]string{-time.Second: "", 0: "s1", 59 * time.Minute: "s1", time.Hour: ""} {
		if got := ss.Match(&a, t0.Add(at)); got != want {
			t.Errorf("at %s: %q, want %q", at, got, want)
		}
	}
	ss.Expire(t0.Add(time.Hour))
	if got := ss.Match(&a, t0.Add(time.Minute)); got != "" {
		t.Errorf("expired silence still matches: %s", got)
	}
}
