package incident_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

func TestSeverityLabels(t *testing.T) {
	// STIX Incident Core Appendix B, 5 qualitative: the band edges.
	for c, want := range map[int]incident.Severity{
		-5: "none", 0: "none", 1: "low", 29: "low", 30: "moderate", 49: "moderate",
		50: "high", 89: "high", 90: "critical", 100: "critical",
	} {
		if got := incident.SeverityOf(c); got != want {
			t.Errorf("SeverityOf(%d) = %s, want %s", c, got, want)
		}
	}
}

func TestCriticalityWeighsObjectClassAndSector(t *testing.T) {
	for _, tc := range []struct {
		level  string
		class  int
		sector string
		want   incident.Severity
	}{
		{"informational", 0, "banking", "low"},
		{"low", 3, "banking", "low"},
		{"medium", 3, "banking", "moderate"},
		{"high", 3, "banking", "high"},
		{"critical", 1, "electricity", "critical"},
		{"critical", 3, "banking", "high"},
		{"bogus", 1, "electricity", "none"},
	} {
		c := incident.Criticality(tc.level, tc.class, tc.sector)
		if got := incident.SeverityOf(c); got != tc.want || c < 0 || c > 100 {
			t.Errorf("%s class %d %s: criticality %d = %s, want %s", tc.level, tc.class, tc.sector, c, got, tc.want)
		}
	}
	// The same technical alert ranks higher on a class-1 object in a vital
	// sector than on a class-3 object elsewhere (NCISS rationale).
	if a, b := incident.Criticality("high", 1, "electricity"), incident.Criticality("high", 3, "banking"); a <= b {
		t.Errorf("class 1 electricity %d <= class 3 banking %d", a, b)
	}
	if a, b := incident.Criticality("high", 2, "banking"), incident.Criticality("high", 3, "banking"); a <= b {
		t.Errorf("class 2 %d <= class 3 %d", a, b)
	}
}

// TestShippedRSITMapping loads configs/rsit.yaml and classifies the tags
// of kuzet's own rule pack: every rule gets a category other than
// undetermined.
func TestShippedRSITMapping(t *testing.T) {
	root := conformance.ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "configs", "rsit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := incident.ParseRSITMapping(data)
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := filepath.Glob(filepath.Join(root, "pipelines", "rules", "*.yml"))
	if len(rules) == 0 {
		t.Fatal("no rules in pipelines/rules")
	}
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "- attack.") {
				tags = append(tags, strings.TrimPrefix(l, "- "))
			}
		}
		class, typ := m.Classify(tags)
		if class == incident.RSITUndeterminedClass || !incident.ValidRSIT(class, typ) {
			t.Errorf("%s %v: %s:%s", filepath.Base(f), tags, class, typ)
		}
	}
	for tags, want := range map[string]string{
		"attack.credential-access,attack.t1110": "intrusion-attempts:brute-force",
		"attack.credential_access":              "intrusion-attempts:brute-force",
		"attack.reconnaissance,attack.t1595":    "information-gathering:scanner",
		"attack.t1110.003":                      "intrusion-attempts:brute-force",
		"ATTACK.T1486":                          "information-content-security:unauthorised-information-modification",
		"attack.t11":                            "other:undetermined",
		"":                                      "other:undetermined",
		"attack.privilege-escalation,attack.t1548": "intrusions:privileged-account-compromise",
	} {
		c, ty := m.Classify(strings.Split(tags, ","))
		if c+":"+ty != want {
			t.Errorf("Classify(%s) = %s:%s, want %s", tags, c, ty, want)
		}
	}
}

func TestBadRSITMappings(t *testing.T) {
	for doc, want := range map[string]string{
		"rules: []": "rules: empty",
		"rules:\n- {tag: a, class: intrusions, type: brute-force}": "rules[0]: \"intrusions\":\"brute-force\" is not an RSIT",
		"rules:\n- {class: other, type: other}":                    "rules[0].tag: missing",
		"rules:\n- {tag: a, class: Other, type: other}":            "rules[0]",
		"rules:\n- {tag: a, class: other, type: other, weight: 2}": "field weight not found",
		"rulez: []": "field rulez not found",
	} {
		_, err := incident.ParseRSITMapping([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
}

func TestRSITValuesAreENISAMachineValues(t *testing.T) {
	// Spot checks of the spellings (British "unauthorised", hyphens).
	for _, ok := range [][2]string{
		{"information-content-security", "unauthorised-information-access"},
		{"intrusion-attempts", "ids-alert"}, {"fraud", "unauthorised-use-of-resources"},
		{"vulnerable", "potentially-unwanted-accessible"}, {"other", "undetermined"}, {"test", "test"},
		{"abusive-content", "violence"}, {"malicious-code", "malware-configuration"},
	} {
		if !incident.ValidRSIT(ok[0], ok[1]) {
			t.Errorf("%s:%s rejected", ok[0], ok[1])
		}
	}
	for _, bad := range [][2]string{
		{"information-content-security", "unauthorized-information-access"},
		{"intrusion_attempts", "ids-alert"}, {"malicious-code", "brute-force"}, {"", ""},
	} {
		if incident.ValidRSIT(bad[0], bad[1]) {
			t.Errorf("%s:%s accepted", bad[0], bad[1])
		}
	}
}

func TestParseTLP(t *testing.T) {
	for in, want := range map[string]incident.TLP{"TLP:AMBER": "AMBER", "amber+strict": "AMBER+STRICT",
		"tlp:white": "CLEAR", "Clear": "CLEAR", "RED": "RED", "green": "GREEN"} {
		if got, err := incident.ParseTLP(in); err != nil || got != want {
			t.Errorf("ParseTLP(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := incident.ParseTLP("AMBER-STRICT"); err == nil {
		t.Error("AMBER-STRICT accepted")
	}
}

// TestPartitionIsPinned: the partition of an organisation is part of the
// checkpoint format; these values (FNV-1a 32 computed outside Go) must
// never change.
func TestPartitionIsPinned(t *testing.T) {
	for _, tc := range []struct {
		org  string
		n    int
		want int
	}{
		{"kegoc", 4, 0}, {"kaztransgas", 4, 2}, {"halyk", 4, 2}, {"o1", 3, 1}, {"o2", 3, 1},
		{"anything", 1, 0}, {"anything", 0, 0},
	} {
		if got := incident.Partition(tc.org, tc.n); got != tc.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tc.org, tc.n, got, tc.want)
		}
	}
	if got := incident.EntityPartition("source.ip", "203.0.113.7", 8); got != 1 {
		t.Errorf("EntityPartition = %d", got)
	}
}
