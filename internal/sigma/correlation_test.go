package sigma_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/sigma"
)

func TestParseTimespan(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"30s", 30 * time.Second}, {"5m", 5 * time.Minute}, {"1h", time.Hour}, {"2d", 48 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		// pySigma's lengths: the mean Gregorian month and year.
		{"1M", 2629746 * time.Second}, {"1y", 31556952 * time.Second},
		{"90m", 90 * time.Minute},
	} {
		got, err := sigma.ParseTimespan(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTimespan(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "s", "0m", "-5m", "+5m", "1.5h", "5 m", " 5m", "5", "5x", "1H", "99999999999999y", "0x10m"} {
		if d, err := sigma.ParseTimespan(bad); err == nil {
			t.Errorf("ParseTimespan(%q) = %v, want an error", bad, d)
		}
	}
}

func parseOne(t *testing.T, y string) (*sigma.Rule, error) {
	t.Helper()
	rules, errs := sigma.ParseRules("c.yml", []byte(y))
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(rules) != 1 {
		t.Fatalf("%d rules", len(rules))
	}
	return rules[0], nil
}

func TestParseCorrelation(t *testing.T) {
	r, err := parseOne(t, `title: avg
correlation:
  type: value_avg
  rules: [a]
  group-by: Host
  timespan: 1h
  condition: {field: Bytes, gt: 2.5, lte: 100}
`)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Correlation
	if c.Condition["gt"] != 2.5 || c.Condition["lte"] != 100 || len(c.Condition) != 2 {
		t.Errorf("condition %v", c.Condition)
	}
	if len(c.GroupBy) != 1 || c.GroupBy[0] != "Host" {
		t.Errorf("group-by %v", c.GroupBy)
	}

	r, err = parseOne(t, `title: median
correlation: {type: value_median, rules: a, timespan: 5m, condition: {field: Bytes, gte: 10}}
`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Correlation.Type != "value_median" || r.Correlation.Percentile != 50 {
		t.Errorf("median: %+v", r.Correlation)
	}

	// temporal without condition: every referenced rule (pySigma's default).
	r, err = parseOne(t, `title: t
correlation: {type: temporal, rules: [a, b, c], group-by: [User], timespan: 5m}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Correlation.Condition; len(got) != 1 || got["gte"] != 3 {
		t.Errorf("temporal default condition %v", got)
	}

	for _, c := range []struct{ yaml, want string }{
		{`{type: value_percentile, rules: a, timespan: 5m, condition: {field: x, percentile: 101, gt: 1}}`, "percentile must be"},
		{`{type: value_percentile, rules: a, timespan: 5m, condition: {field: x, percentile: 12.5, gt: 1}}`, "percentile must be"},
		{`{type: value_percentile, rules: a, timespan: 5m, condition: {field: x, gt: 1}}`, "needs condition.percentile"},
		{`{type: temporal, rules: [a, b], timespan: 5m, condition: "a and b"}`, "extended (boolean) correlation conditions are not supported"},
		{`{type: event_count, rules: a, timespan: 5m, condition: {gt: 5, lt: 3}}`, "can never hold"},
		{`{type: event_count, rules: a, timespan: 5m, condition: {gt: yes}}`, "condition gt must be a number"},
		{`{type: event_count, rules: a, timespan: 1.5h, condition: {gt: 1}}`, "invalid timespan"},
		{`{type: event_count, rules: [], timespan: 5m, condition: {gt: 1}}`, "missing rules"},
		{`{type: event_count, rules: a, timespan: 5m, condition: {gt: 1}, aliases: {ip: [x]}}`, "aliases"},
	} {
		_, err := parseOne(t, "title: x\ncorrelation: "+c.yaml+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
