package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// inCI reports whether the tests run in CI, where what a developer's
// machine may lack (a built binary, a tool) is a failure, not a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test outside CI and fails it in CI.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// repoRoot is the root of the kuzet repository: the parent of the deploy
// module, found from the working directory up.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/kuzet-kz/kuzet/deploy\n")) {
			return filepath.Dir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("the deploy module's go.mod is not above the working directory")
		}
		dir = parent
	}
}

// deployDir is deploy/ of the repository.
func deployDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy") }

// binary is the path of a binary `make build` put into bin/; missing, the
// test is skipped (failed in CI).
func binary(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "bin", name)
	if _, err := os.Stat(p); err != nil {
		skipOrFail(t, "%s is missing: run make build first (%v)", p, err)
	}
	return p
}

// readYAML decodes a YAML file into a generic value.
func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// get walks a generic YAML value by keys; nil when a key is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str is get as a string ("" when missing or not a string).
func str(v any, keys ...string) string {
	s, _ := get(v, keys...).(string)
	return s
}

// strs is get as a list of strings.
func strs(v any, keys ...string) []string {
	l, _ := get(v, keys...).([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkRoleConfig runs a role binary's -check-config on a configuration
// file, from the repository root (where the relative paths of the defaults,
// configs/..., resolve as they do in the image's working directory), with
// only the given KUZET_* variables set.
//
// A build from before ClickHouse cluster mode rejects clickhouse.cluster
// and clickhouse.insert as unknown keys. When those are its only
// complaints, the file is checked again without them, so that everything
// else is still validated, and the test is then skipped, saying so.
func checkRoleConfig(t *testing.T, bin, config string, env map[string]string) {
	t.Helper()
	out, err := runCheckConfig(t, bin, config, env)
	if err == nil {
		return
	}
	if !onlyClusterKeysUnknown(out) {
		t.Fatalf("%s -check-config -config %s: %v\n%s", bin, config, err, out)
	}
	stripped := withoutClusterKeys(t, config)
	if out2, err := runCheckConfig(t, bin, stripped, env); err != nil {
		t.Fatalf("%s -check-config of %s without clickhouse.cluster and clickhouse.insert: %v\n%s", bin, config, err, out2)
	}
	t.Skipf("%s: this build of %s does not know clickhouse.cluster and clickhouse.insert yet (ClickHouse cluster mode "+
		"is not merged); without those two keys the file passes -check-config. Output with them:\n%s", config, bin, out)
}

func runCheckConfig(t *testing.T, bin, config string, env map[string]string) ([]byte, error) {
	cmd := exec.Command(binary(t, bin), "-check-config", "-config", config)
	cmd.Dir = repoRoot(t)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd.CombinedOutput()
}

// clusterKeysUnknown matches the strict loader's complaint about the
// ClickHouse cluster keys.
var clusterKeysUnknown = regexp.MustCompile(`^line \d+: field (cluster|insert) not found in type config\.ClickHouse$`)

func onlyClusterKeysUnknown(out []byte) bool {
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case clusterKeysUnknown.MatchString(line):
			found = true
		case strings.HasSuffix(line, "invalid configuration:"), strings.HasSuffix(line, "yaml: unmarshal errors:"):
		default:
			return false
		}
	}
	return found
}

// withoutClusterKeys writes a copy of the YAML file at path without
// clickhouse.cluster and clickhouse.insert, and returns the copy's path.
func withoutClusterKeys(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Content) == 1 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "clickhouse" || root.Content[i+1].Kind != yamlv3.MappingNode {
				continue
			}
			ch := root.Content[i+1]
			var kept []*yamlv3.Node
			for j := 0; j+1 < len(ch.Content); j += 2 {
				if k := ch.Content[j].Value; k != "cluster" && k != "insert" {
					kept = append(kept, ch.Content[j], ch.Content[j+1])
				}
			}
			ch.Content = kept
		}
	}
	out, err := yamlv3.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
