package sigma_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// txtar splits a txtar archive into its files.
func txtar(data string) map[string]string {
	files := map[string]string{}
	name := ""
	var b strings.Builder
	for _, line := range strings.SplitAfter(data, "\n") {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(strings.TrimSpace(line), " --") {
			if name != "" {
				files[name] = b.String()
			}
			name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "-- "), " --")
			b.Reset()
			continue
		}
		if name != "" {
			b.WriteString(line)
		}
	}
	if name != "" {
		files[name] = b.String()
	}
	return files
}

// TestRuleCases runs testdata/rules/*.txtar: a rule, NDJSON events, and the
// indexes of the events it must match (and no others).
func TestRuleCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.txtar")
	if len(files) < 10 {
		t.Fatalf("%d cases", len(files))
	}
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			ar := txtar(string(data))
			rules, errs := sigma.ParseRules(f, []byte(ar["rule.yml"]))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			eng, rej, _ := sigma.Compile(rules, sigma.Options{Pipelines: ps, NoGating: true})
			if len(rej) > 0 {
				t.Fatal(rej[0].Err)
			}
			var got []string
			for i, line := range strings.Split(strings.TrimSpace(ar["events.ndjson"]), "\n") {
				dec := json.NewDecoder(bytes.NewReader([]byte(line)))
				dec.UseNumber()
				var m map[string]any
				if err := dec.Decode(&m); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				eng.Match(sigma.MapEvent(m), func(*sigma.CompiledRule) { got = append(got, strconv.Itoa(i)) })
			}
			if want := strings.Join(strings.Fields(ar["want"]), " "); strings.Join(got, " ") != want {
				t.Errorf("matched events [%s], want [%s]", strings.Join(got, " "), want)
			}
		})
	}
}
