package pipeline_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// TestShippedPipelines loads every pipeline in pipelines/ and runs the
// examples written in them.
func TestShippedPipelines(t *testing.T) {
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auditd", "cef", "fortigate", "leef", "ndjson", "suricata", "syslog", "wazuh", "winevent", "zeek"}
	if got := strings.Join(set.Names(), " "); got != strings.Join(want, " ") {
		t.Errorf("pipelines %s, want %s", got, strings.Join(want, " "))
	}
	for _, name := range set.Names() {
		t.Run(name, func(t *testing.T) {
			if len(set.Spec(name).Tests) == 0 {
				t.Errorf("pipeline %s has no tests", name)
			}
			for _, f := range set.RunExamples(name) {
				t.Error(f)
			}
		})
	}
}

func TestBadPipelines(t *testing.T) {
	for name, c := range map[string]struct{ yaml, want string }{
		"unknown key":              {"name: x\nparser: line\nsteps: []\nstepz: []\n", "field stepz not found"},
		"bad parser":               {"name: x\nparser: xml\n", `parser: must be one of`},
		"bad target":               {"name: x\nparser: line\nsteps:\n  - map: {a: source.nope}\n", `x.yaml:4: pipeline "x": steps[0]: a -> source.nope: not an event field`},
		"two actions":              {"name: x\nparser: line\nsteps:\n  - tag: [a]\n    drop: true\n", "exactly one action, it has 2"},
		"bad regex":                {"name: x\nparser: line\nsteps:\n  - regex: {field: message, pattern: '('}\n", "steps[0].regex.pattern"},
		"bad condition":            {"name: x\nparser: line\nsteps:\n  - if: {field: a}\n    drop: true\n", "steps[0].if"},
		"bad zone":                 {"name: x\nparser: line\nsteps:\n  - timestamp: {field: a, formats: [unix], zone: Mars/Base}\n", "timestamp.zone"},
		"bad namespace":            {"name: x\nparser: line\nnamespace: stuff\n", "namespace: must be one of"},
		"unknown dispatch":         {"name: x\nparser: line\nsteps:\n  - dispatch: nowhere\n", `dispatches to unknown pipeline "nowhere"`},
		"test without expectation": {"name: x\nparser: line\ntests:\n  - input: a\n", "needs expect or reject"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.Load(fstest.MapFS{"x.yaml": {Data: []byte(c.yaml)}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}
