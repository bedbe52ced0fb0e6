package parsecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/pipeline/parsecli"
)

func run(t *testing.T, stdin string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e strings.Builder
	code = parsecli.Main(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

func TestParseWithRegistry(t *testing.T) {
	reg := filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml")
	in := "<38>1 2026-11-24T10:00:01Z cbs-db-01 sshd 1 - - Failed password for root from 45.155.205.233 port 1 ssh2\n" +
		"<999>garbage\n\n" +
		"<38>Nov 24 10:00:02 ems-01 sshd[2]: Accepted password for op from 10.10.0.5 port 2 ssh2\n"
	code, out, errOut := run(t, in, "--pipeline", "syslog", "--registry", reg, "-")
	if code != 1 {
		t.Errorf("exit %d, want 1 (one record rejected)", code)
	}
	if !strings.Contains(errOut, "line 2: syntax:") || !strings.Contains(errOut, "2 events, 1 rejected") {
		t.Errorf("stderr:\n%s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines:\n%s", len(lines), out)
	}
	var a, b event.Event
	_ = json.Unmarshal([]byte(lines[0]), &a)
	_ = json.Unmarshal([]byte(lines[1]), &b)
	// Without --oisc both OISCs' objects match.
	if a.Kuzet.Object != "qazbank-cbs" || b.Kuzet.Object != "altyn-scada" || a.User.Name != "root" {
		t.Errorf("enrichment: %+v / %+v", a.Kuzet, b.Kuzet)
	}
	_, out, _ = run(t, in, "--pipeline", "syslog", "--registry", reg, "--oisc", "oisc-almaty")
	var c event.Event
	_ = json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &c)
	if c.Kuzet.Object != "" || c.Kuzet.Asset != event.AssetUnknown {
		t.Errorf("scoped to oisc-almaty, cbs-db-01 must be unknown: %+v", c.Kuzet)
	}
}

func TestParsePrettyPrintedEvtxFile(t *testing.T) {
	f := conformance.Path(t, "sigmahq", "regression_data", "rules", "windows", "process_creation")
	var file string
	_ = filepath.WalkDir(f, func(p string, d os.DirEntry, err error) error {
		if file == "" && err == nil && strings.HasSuffix(p, ".json") {
			file = p
		}
		return err
	})
	code, out, errOut := run(t, "", "--pipeline", "winevent", file)
	if code != 0 || !strings.Contains(out, `"winlog":{`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestUsageAndTests(t *testing.T) {
	if code, _, _ := run(t, "", "--pipeline", "nope"); code != 2 {
		t.Errorf("unknown pipeline: %d", code)
	}
	if code, _, _ := run(t, ""); code != 2 {
		t.Errorf("no pipeline: %d", code)
	}
	code, out, _ := run(t, "", "--test")
	if code != 0 || !strings.Contains(out, "ok   fortigate") {
		t.Errorf("--test: %d\n%s", code, out)
	}
	// A pipeline author's directory with a failing test.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("name: x\nparser: line\ntests:\n  - input: hello\n    expect: {message: bye}\n"), 0o600)
	code, out, _ = run(t, "", "--test", "--pipelines", dir)
	if code != 1 || !strings.Contains(out, `message = "hello", want "bye"`) {
		t.Errorf("failing test: %d\n%s", code, out)
	}
}

// TestExplain: --explain shows, for one record, which parser or step set each
// field, through a dispatch from syslog to cef.
func TestExplain(t *testing.T) {
	in := "<132>Nov 24 10:00:01 ids-01 CEF:0|OISF|Suricata|7.0|2010935|ET SCAN Nmap|6|src=45.155.205.233 dst=10.10.4.21 dpt=22 proto=TCP rt=1795000000000\n"
	code, out, errOut := run(t, in, "--pipeline", "syslog", "--explain", "--zone", "UTC")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := map[string]*regexp.Regexp{
		"source.ip":         regexp.MustCompile(`(?m)^  source\.ip += "45\.155\.205\.233" +pipelines/cef\.yaml:\d+ steps\[0\] map$`),
		"network.transport": regexp.MustCompile(`(?m)^  network\.transport += "tcp" +pipelines/cef\.yaml:\d+ steps\[\d+\]\.steps\[1\] lowercase$`),
		"@timestamp":        regexp.MustCompile(`(?m)^  @timestamp += "2026-11-18T11:06:40Z" +pipelines/cef\.yaml:\d+ steps\[\d+\] timestamp$`),
		"host.name":         regexp.MustCompile(`(?m)^  host\.name += "ids-01" +parser cef \(pipelines/cef\.yaml\)$`),
		"cef.dpt":           regexp.MustCompile(`(?m)^  cef\.dpt += "22" +keep: all`),
		"kuzet.time_source": regexp.MustCompile(`(?m)^  kuzet\.time_source += "event" +time source: the record's own time$`),
		"kuzet.time_zone":   regexp.MustCompile(`(?m)^  kuzet\.time_zone += "record" +time zone: the record's own$`),
		"event.kind":        regexp.MustCompile(`(?m)^  event\.kind += "alert" +pipelines/cef\.yaml:\d+ steps\[\d+\] set$`),
		"event.original":    regexp.MustCompile(`(?m)^  event\.original += "<132>Nov 24`),
	}
	for f, re := range want {
		if !re.MatchString(out) {
			t.Errorf("%s not explained as %s in:\n%s", f, re, out)
		}
	}
}

// TestExplainZone: --explain says which zone read a time without one: the
// registry object's (with --registry), else --zone's.
func TestExplainZone(t *testing.T) {
	reg := filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml")
	in := "<38>Nov 24 2026 10:00:02 ems-01 sshd[2]: Accepted password for op from 10.10.0.5 port 2 ssh2\n"
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--registry", reg}, []string{
			`(?m)^  @timestamp += "2026-11-24T05:00:02Z" +time zone: none in the record, so the device's: Asia/Almaty \(registry object\)$`,
			`(?m)^  kuzet\.time_zone += "device" +time zone: none in the record, so the device's: Asia/Almaty`,
			`(?m)^  event\.timezone += "Asia/Almaty" +time zone: none in the record, so the device's`,
			`(?m)^  kuzet\.object += "altyn-scada"`}},
		{nil, []string{
			`(?m)^  @timestamp += "2026-11-24T10:00:02Z" +parser syslog`,
			`(?m)^  kuzet\.time_zone += "input" +time zone: none in the record, so the input's: UTC$`,
			`(?m)^  event\.timezone += "UTC" +time zone: none in the record, so the input's: UTC$`}},
	} {
		code, out, errOut := run(t, in, append([]string{"--pipeline", "syslog", "--explain", "--zone", "UTC"}, c.args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, w := range c.want {
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("%v: output lacks %s:\n%s", c.args, w, out)
			}
		}
	}
}
