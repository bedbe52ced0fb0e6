package correlate_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// TestScanBinary runs `kuzet sigma scan` (the real binary) over the cases
// of testdata/*.txtar that have a "scan" section and compares its output,
// one JSON line per episode, with it. go test -update rewrites it.
func TestScanBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/kuzet")
	}
	files, _ := filepath.Glob("testdata/*.txtar")
	var cases []string
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if _, ok := parseTxtar(string(data)).files["scan"]; ok {
			cases = append(cases, f)
		}
	}
	if len(cases) < 4 {
		t.Fatalf("%d cases with a scan section", len(cases))
	}
	bin := proctest.Binary(t, "kuzet")
	for _, f := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txtar"), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			a := parseTxtar(string(data))
			dir := t.TempDir()
			for _, n := range []string{"rules.yml", "events.ndjson"} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(a.files[n]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lateness := "0s"
			for _, line := range strings.Split(a.files["options"], "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "lateness:"); ok {
					lateness = strings.TrimSpace(v)
				}
			}
			cmd := exec.Command(bin, "sigma", "scan", "--rules", filepath.Join(dir, "rules.yml"), "--events",
				filepath.Join(dir, "events.ndjson"), "--no-logsource-gating", "--lateness", lateness)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if *update {
				a.set("scan", string(out))
				if err := os.WriteFile(f, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got, want := string(out), a.files["scan"]; got != want {
				t.Errorf("kuzet sigma scan:\n%s\nwant:\n%s\nstderr:\n%s", got, want, stderr.String())
			}
		})
	}
}
