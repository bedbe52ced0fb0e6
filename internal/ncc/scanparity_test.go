package ncc_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ncc"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// TestSigmaScanMatchesNCC pipes the test records of every pipeline in
// pipelines/ through the kuzet parse and kuzet sigma scan binaries, with
// log-source routing on, and checks that scan reports exactly the matches
// the ncc's detection makes of the same events, with kuzet's rule pack and
// SigmaHQ's rules.
func TestSigmaScanMatchesNCC(t *testing.T) {
	const sshdRule = "5b0c8b4e-7d3a-4a36-9a3e-2f1f6a1c0001" // pipelines/rules/linux_sshd_invalid_user.yml
	if testing.Short() {
		t.Skip("builds and runs binaries")
	}
	root := conformance.ModuleRoot(t)
	sigmahq := conformance.Path(t, "sigmahq", "rules")
	kuzet := proctest.Binary(t, "kuzet")
	set, err := pipeline.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var events [][]byte
	var from []string // pipeline of each event
	for _, name := range set.Names() {
		var in bytes.Buffer
		for _, ex := range set.Spec(name).Tests {
			if ex.Reject == "" {
				in.WriteString(strings.TrimRight(ex.Input, "\n") + "\n")
			}
		}
		if in.Len() == 0 {
			continue
		}
		file := filepath.Join(dir, name+".in")
		if err := os.WriteFile(file, in.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kuzet, "parse", "--pipeline", name, file)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil && len(out) == 0 {
			t.Fatalf("kuzet parse --pipeline %s: %v", name, err)
		}
		for line := range bytes.Lines(out) {
			events = append(events, bytes.TrimRight(line, "\n"))
			from = append(from, name)
		}
	}
	if len(events) < 20 {
		t.Fatalf("only %d events from the pipelines' tests", len(events))
	}

	scan := exec.Command(kuzet, "sigma", "scan", "--rules", filepath.Join(root, "pipelines", "rules"),
		"--rules", sigmahq, "--events", "-")
	scan.Dir = root
	scan.Stdin = bytes.NewReader(append(bytes.Join(events, []byte("\n")), '\n'))
	var stderr bytes.Buffer
	scan.Stderr = &stderr
	out, err := scan.Output()
	if err != nil {
		t.Fatalf("kuzet sigma scan: %v\n%s", err, stderr.String())
	}
	got := make([][]string, len(events))
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m struct {
			RuleID string `json:"rule_id"`
			Event  int    `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.Event < 0 || m.Event >= len(events) {
			t.Fatalf("scan output %q: %v", sc.Text(), err)
		}
		got[m.Event] = append(got[m.Event], m.RuleID)
	}

	cfg := config.DefaultNCC()
	cfg.Rules.Dirs = []string{sigmahq}
	n, err := ncc.New(ncc.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	want, err := n.DetectEvents(events)
	if err != nil {
		t.Fatal(err)
	}
	matches, sshd := 0, false
	for i := range events {
		slices.Sort(got[i])
		slices.Sort(want[i])
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%s event %d: scan matched %v, the ncc %v\n%s", from[i], i, got[i], want[i], events[i])
		}
		matches += len(want[i])
		if from[i] == "syslog" && strings.Contains(string(events[i]), "Failed password for invalid user") &&
			slices.Contains(want[i], sshdRule) {
			sshd = true
		}
	}
	if matches == 0 || !sshd {
		t.Errorf("the ncc matched %d rules over %d events; kuzet's sshd rule on the syslog sample: %v", matches, len(events), sshd)
	}
	t.Logf("%d events, %d matches, the same in scan and the ncc", len(events), matches)
}
