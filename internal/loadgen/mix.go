package loadgen

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

//go:embed mix.yaml
var defaultMix []byte

// Record kinds. Each goes to one input kind (InputFor).
const (
	KindSSHDFailed5424   = "sshd_failed_5424"
	KindSSHDAccepted3164 = "sshd_accepted_3164"
	KindSudo3164         = "sudo_3164"
	KindCEF              = "cef_ids"
	KindLEEF             = "leef_firewall"
	KindFortiGate        = "fortigate_deny"
	KindWinLogonFailed   = "win_logon_failed"
	KindWinLogon         = "win_logon"
	KindSysmonProcess    = "sysmon_process"
	KindZeekConn         = "zeek_conn"
	KindZeekDNS          = "zeek_dns"
	KindSuricataAlert    = "suricata_alert"
)

// Input kinds: where a record goes.
const (
	InputSyslog   = "syslog"   // syslog over TCP (the syslog pipeline)
	InputWinevent = "winevent" // NDJSON over HTTP (the winevent pipeline)
	InputZeek     = "zeek"     // NDJSON over HTTP (the zeek pipeline)
	InputSuricata = "suricata" // NDJSON over HTTP (the suricata pipeline)
)

var kindInput = map[string]string{
	KindSSHDFailed5424: InputSyslog, KindSSHDAccepted3164: InputSyslog, KindSudo3164: InputSyslog,
	KindCEF: InputSyslog, KindLEEF: InputSyslog, KindFortiGate: InputSyslog,
	KindWinLogonFailed: InputWinevent, KindWinLogon: InputWinevent, KindSysmonProcess: InputWinevent,
	KindZeekConn: InputZeek, KindZeekDNS: InputZeek, KindSuricataAlert: InputSuricata,
}

// InputFor returns the input kind a record kind goes to ("" for an unknown
// kind).
func InputFor(kind string) string { return kindInput[kind] }

// Kinds returns every record kind, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kindInput))
	for k := range kindInput {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Mix is what a run sends: the weight of each record kind and the attack
// traffic among the authentication failures.
type Mix struct {
	Kinds  map[string]float64 `yaml:"kinds" json:"kinds"`
	Attack Attack             `yaml:"attack" json:"attack"`
	// UnknownHosts is the share of records from hosts the registry does
	// not know (0 to 1).
	UnknownHosts float64 `yaml:"unknown_hosts" json:"unknown_hosts"`
	// Suspicious is the share of Sysmon process creations, sudo commands
	// and denied connections that look malicious (0 to 1); the rest are
	// everyday activity.
	Suspicious float64 `yaml:"suspicious" json:"suspicious"`
}

// Attack is brute-force traffic: Share of the sshd failures and Windows
// logon failures come from one of Sources addresses, each hitting Targets
// hosts, in bursts.
type Attack struct {
	Share   float64 `yaml:"share" json:"share"`
	Sources int     `yaml:"sources" json:"sources"`
	Targets int     `yaml:"targets" json:"targets"`
}

// DefaultMix returns the embedded default mix (mix.yaml).
func DefaultMix() Mix {
	m, err := ParseMix(defaultMix)
	if err != nil {
		panic("loadgen: embedded mix.yaml: " + err.Error())
	}
	return m
}

// LoadMix reads a mix file.
func LoadMix(path string) (Mix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Mix{}, err
	}
	m, err := ParseMix(b)
	if err != nil {
		return Mix{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseMix decodes a mix strictly (unknown keys are errors) and validates
// it.
func ParseMix(b []byte) (Mix, error) {
	var m Mix
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return Mix{}, err
	}
	return m, m.Validate()
}

// Validate reports every problem of the mix, each naming its field.
func (m Mix) Validate() error {
	var errs []error
	total := 0.0
	for _, k := range sortedKeys(m.Kinds) {
		w := m.Kinds[k]
		if kindInput[k] == "" {
			errs = append(errs, fmt.Errorf("kinds.%s: unknown kind (known: %v)", k, Kinds()))
		}
		if w < 0 {
			errs = append(errs, fmt.Errorf("kinds.%s: weight %g is negative", k, w))
		}
		total += w
	}
	if total <= 0 {
		errs = append(errs, errors.New("kinds: no kind has a positive weight"))
	}
	if m.Attack.Share < 0 || m.Attack.Share > 1 {
		errs = append(errs, fmt.Errorf("attack.share: %g is not between 0 and 1", m.Attack.Share))
	}
	if m.Attack.Share > 0 && (m.Attack.Sources < 1 || m.Attack.Targets < 1) {
		errs = append(errs, errors.New("attack: sources and targets must be at least 1 when share is set"))
	}
	if m.UnknownHosts < 0 || m.UnknownHosts > 1 {
		errs = append(errs, fmt.Errorf("unknown_hosts: %g is not between 0 and 1", m.UnknownHosts))
	}
	if m.Suspicious < 0 || m.Suspicious > 1 {
		errs = append(errs, fmt.Errorf("suspicious: %g is not between 0 and 1", m.Suspicious))
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
