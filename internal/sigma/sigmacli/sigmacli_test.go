package sigmacli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/sigma/sigmacli"
)

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var o, e strings.Builder
	code := sigmacli.Main(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

func TestCheckSigmaHQ(t *testing.T) {
	root := conformance.Path(t, "sigmahq")
	code, out, _ := run(t, "", "check", "--rules", filepath.Join(root, "rules"), "--rules", filepath.Join(root, "rules-emerging-threats"),
		"--rules", filepath.Join(root, "rules-threat-hunting"))
	last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
	if code != 0 || !strings.HasPrefix(last, "compiled ") || !strings.HasSuffix(strings.TrimSpace(last), ", rejected 0") {
		t.Errorf("exit %d, summary %q", code, last)
	}
	code, out, _ = run(t, "", "check", "--rules", filepath.Join(root, "unsupported"))
	if code != 0 || !strings.Contains(out, "legacy construct removed from the Sigma specification: aggregation") ||
		!strings.Contains(out, "near") {
		t.Errorf("unsupported: exit %d\n%s", code, out)
	}
}

func TestScanRegressionFile(t *testing.T) {
	root := conformance.Path(t, "sigmahq")
	// Every rule of the regression set over the flat events on stdin.
	data, err := os.ReadFile(filepath.Join(root, "regression_events.flat.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, string(data), "scan", "--rules", filepath.Join(root, "rules"), "--events", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var m struct {
			RuleID string `json:"rule_id"`
			Title  string `json:"title"`
			Level  string `json:"level"`
			Event  int    `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		if m.Event < 0 || m.Event >= 238 || m.RuleID == "" || m.Title == "" {
			t.Fatalf("bad match %+v", m)
		}
		ids[m.RuleID] = true
		n++
	}
	// The regression rules under rules/ fire; far from every rule fires.
	if len(ids) < 150 || len(ids) > 1500 {
		t.Errorf("%d distinct rules matched (%d matches)", len(ids), n)
	}
	t.Logf("%d matches of %d distinct rules over 238 events", n, len(ids))
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"check"}, {"scan", "--rules", "."}, {"frobnicate", "--rules", "."}} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestScanCorrelation: a correlation beside its base rule; the base rule
// prints its own matches only with generate: true, events without a time or
// group field are reported on stderr and left out.
func TestScanCorrelation(t *testing.T) {
	dir := t.TempDir()
	rules := `title: Two failures
id: corr
correlation: {type: event_count, rules: fail, group-by: [User], timespan: 1m, condition: {gte: 2}GEN}
---
title: Failure
id: fail
name: fail
detection: {sel: {EventID: 4625}, condition: sel}
`
	events := `{"TimeCreated_SystemTime":"2017-08-30 19:13:38.198483","EventID":4625,"User":"a"}
{"EventID":4625,"User":"a"}
{"TimeCreated_SystemTime":"2017-08-30 19:13:40","EventID":4625}
{"TimeCreated_SystemTime":"2017-08-30 19:14:38.198","EventID":4625,"User":"a"}
`
	for _, gen := range []bool{false, true} {
		g := ""
		if gen {
			g = ", generate: true"
		}
		f := filepath.Join(dir, "r.yml")
		if err := os.WriteFile(f, []byte(strings.Replace(rules, "GEN", g, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, events, "scan", "--rules", f, "--events", "-", "--no-logsource-gating")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		want := `{"rule_id":"corr","title":"Two failures","level":"","correlation":true,"group":{"User":"a"},"window":{"start":"2017-08-30T19:13:38.198Z","end":"2017-08-30T19:14:38.198Z"},"events":[0,3]}` + "\n"
		if gen {
			want = `{"rule_id":"fail","title":"Failure","level":"","event":0}
{"rule_id":"fail","title":"Failure","level":"","event":1}
{"rule_id":"fail","title":"Failure","level":"","event":2}
{"rule_id":"fail","title":"Failure","level":"","event":3}
` + want
		}
		if out != want {
			t.Errorf("generate %v:\n%s\nwant:\n%s", gen, out, want)
		}
		if !strings.Contains(errOut, "event 1: correlation corr: no event time") ||
			!strings.Contains(errOut, `event 2: correlation corr: missing_group_field: event 2 has no group-by field "User"`) ||
			!strings.Contains(errOut, "left out: missing_group_field 1, no_time 1") {
			t.Errorf("stderr:\n%s", errOut)
		}
	}
}

func TestCheckRejectsBrokenCorrelation(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yml")
	rules := `title: Dangling
id: dangling
correlation: {type: event_count, rules: nowhere, timespan: 5m, condition: {gte: 2}}
---
title: Base
id: base
detection: {sel: {EventID: 1}, condition: sel}
`
	if err := os.WriteFile(f, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "", "check", "--rules", f)
	if code != 0 || !strings.Contains(out, `correlation "dangling": rule "nowhere": no rule has this id or name`) ||
		!strings.HasSuffix(out, "compiled 1, rejected 1\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}
