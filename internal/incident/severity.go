package incident

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Severity is an incident's label, derived from its criticality.
type Severity string

// Severity labels (STIX Incident Core Appendix B, "5 qualitative").
const (
	SeverityNone     Severity = "none"
	SeverityLow      Severity = "low"
	SeverityModerate Severity = "moderate"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// SeverityOf maps criticality 0..100 to its label: 0 none, 1-29 low,
// 30-49 moderate, 50-89 high, 90-100 critical.
func SeverityOf(criticality int) Severity {
	switch {
	case criticality <= 0:
		return SeverityNone
	case criticality < 30:
		return SeverityLow
	case criticality < 50:
		return SeverityModerate
	case criticality < 90:
		return SeverityHigh
	}
	return SeverityCritical
}

// levelBase is the criticality of a Sigma level on an object of unknown
// class in an ordinary sector.
var levelBase = [...]int{0: 10, 1: 20, 2: 40, 3: 60, 4: 80}

// classBonus raises criticality by the object's class (1 highest).
var classBonus = [...]int{0: 0, 1: 15, 2: 8, 3: 0}

// vitalSectors add to criticality: disruption there is an emergency
// (Decree 529's first criteria).
var vitalSectors = map[string]int{
	"electricity": 5, "heat_supply": 5, "gas_supply": 5, "water_supply": 5,
	"hydraulic_structures": 5, "healthcare": 5, "digital_government": 5,
}

// Criticality is the criticality 0..100 of one alert: its level's base,
// plus the object class's bonus, plus the sector's; capped at 100.
func Criticality(level string, objectClass int, sector string) int {
	l, ok := levels[level]
	if !ok {
		return 0
	}
	c := levelBase[l]
	if objectClass >= 0 && objectClass < len(classBonus) {
		c += classBonus[objectClass]
	}
	c += vitalSectors[sector]
	return min(c, 100)
}

// rsitClasses is ENISA RSIT machinev1 (version 1003): class -> types.
var rsitClasses = map[string][]string{
	"abusive-content":              {"spam", "harmful-speech", "violence"},
	"malicious-code":               {"infected-system", "c2-server", "malware-distribution", "malware-configuration"},
	"information-gathering":        {"scanner", "sniffing", "social-engineering"},
	"intrusion-attempts":           {"ids-alert", "brute-force", "exploit"},
	"intrusions":                   {"privileged-account-compromise", "unprivileged-account-compromise", "application-compromise", "system-compromise", "burglary"},
	"availability":                 {"dos", "ddos", "misconfiguration", "sabotage", "outage"},
	"information-content-security": {"unauthorised-information-access", "unauthorised-information-modification", "data-loss", "data-leak"},
	"fraud":                        {"unauthorised-use-of-resources", "copyright", "masquerade", "phishing"},
	"vulnerable":                   {"weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible", "information-disclosure", "vulnerable-system"},
	"other":                        {"other", "undetermined"},
	"test":                         {"test"},
}

// ValidRSIT reports whether class and type are RSIT machine values and the
// type belongs to the class.
func ValidRSIT(class, typ string) bool {
	for _, t := range rsitClasses[class] {
		if t == typ {
			return true
		}
	}
	return false
}

// RSITUndetermined is the category of an incident no mapping covers.
const (
	RSITUndeterminedClass = "other"
	RSITUndeterminedType  = "undetermined"
)

// RSITRule maps a rule tag to an RSIT class and type. Tag matches the tag
// itself and its dotted children ("attack.t1110" matches
// "attack.t1110.001").
type RSITRule struct {
	Tag   string `yaml:"tag"`
	Class string `yaml:"class"`
	Type  string `yaml:"type"`
}

// RSITMapping is an ordered list of rules: the first rule matching any of
// an incident's tags wins (configs/rsit.yaml).
type RSITMapping struct {
	Rules []RSITRule `yaml:"rules"`
}

// ParseRSITMapping reads the mapping strictly (unknown keys are errors)
// and validates it; errors name the rule.
func ParseRSITMapping(data []byte) (*RSITMapping, error) {
	var m RSITMapping
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("rsit mapping: %w", err)
	}
	return &m, m.Validate()
}

// Validate checks every rule's tag and RSIT values.
func (m *RSITMapping) Validate() error {
	var errs []error
	if len(m.Rules) == 0 {
		errs = append(errs, errors.New("rsit mapping: rules: empty"))
	}
	for i, r := range m.Rules {
		if r.Tag == "" {
			errs = append(errs, fmt.Errorf("rsit mapping: rules[%d].tag: missing", i))
		}
		if !ValidRSIT(r.Class, r.Type) {
			errs = append(errs, fmt.Errorf("rsit mapping: rules[%d]: %q:%q is not an RSIT class and type", i, r.Class, r.Type))
		}
	}
	return errors.Join(errs...)
}

func normTag(t string) string { return strings.ReplaceAll(strings.ToLower(t), "_", "-") }

// Classify returns the class and type of the first rule matching one of
// tags (case-insensitive, '_' and '-' alike), or other:undetermined.
func (m *RSITMapping) Classify(tags []string) (class, typ string) {
	if m != nil {
		for _, r := range m.Rules {
			rt := normTag(r.Tag)
			for _, t := range tags {
				t = normTag(t)
				if t == rt || strings.HasPrefix(t, rt+".") {
					return r.Class, r.Type
				}
			}
		}
	}
	return RSITUndeterminedClass, RSITUndeterminedType
}
