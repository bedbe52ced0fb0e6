package arch_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
)

const module = "github.com/kuzet-kz/kuzet/"

// domain packages: pure logic, testable without servers. A listed package
// not yet written (correlate, incident, report come with later issues) is
// skipped; each is checked once it exists.
var domain = []string{"event", "registry", "sigma", "correlate", "incident", "pipeline", "access", "report", "alert", "audit"}

// forbidden imports of domain packages, each with its reason. A prefix
// ending in "/" covers everything under it; otherwise the path itself and
// its subpackages.
var forbidden = []struct{ path, why string }{
	{"github.com/nats-io/", "transport: domain logic must run without a NATS server"},
	{"github.com/ClickHouse/", "storage: domain logic must run without ClickHouse"},
	{"github.com/gofiber/", "HTTP framework: the API adapts domain types, not the reverse"},
	{"github.com/valyala/fasthttp", "HTTP transport under Fiber"},
	{"net/http", "transport: domain logic takes values, not requests"},
	{module + "internal/bus", "adapter to JetStream: depends on the domain, not the reverse"},
	{module + "internal/store", "adapter to ClickHouse: depends on the domain, not the reverse"},
	{module + "internal/api", "a role"},
	{module + "internal/collector", "a role"},
	{module + "internal/ncc", "a role"},
	{module + "internal/config", "role configuration: domain packages take their options as values, so tests and other roles can use them without a configuration file"},
}

func forbids(f, dep string) bool {
	return dep == f || strings.HasPrefix(dep, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(dep, f+"/"))
}

type pkg struct {
	ImportPath string
	Doc        string
	Deps       []string
	Name       string
}

func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json=ImportPath,Doc,Deps,Name"}, args...)...)
	cmd.Dir = conformance.ModuleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestDomainPackagesImportNoTransportOrStorage(t *testing.T) {
	all := list(t, "./...")
	checked := 0
	for _, p := range all {
		rel := strings.TrimPrefix(p.ImportPath, module+"internal/")
		isDomain := false
		for _, d := range domain {
			if rel == d || strings.HasPrefix(rel, d+"/") {
				isDomain = true
			}
		}
		// CLI subpackages (sigma/sigmacli, pipeline/parsecli) are adapters.
		if !isDomain || strings.HasSuffix(rel, "cli") || strings.HasSuffix(rel, "test") {
			continue
		}
		checked++
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				if forbids(f.path, dep) {
					t.Errorf("domain package %s imports %s (%s)", p.ImportPath, dep, f.why)
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("checked only %d domain packages", checked)
	}
}

func TestEveryPackageHasDoc(t *testing.T) {
	for _, p := range list(t, "./...") {
		if p.Name == "main" && p.Doc == "" || p.Name != "main" && !strings.HasPrefix(p.Doc, "Package "+p.Name+" ") {
			if p.Name == "main" {
				t.Errorf("%s: command without a doc comment", p.ImportPath)
				continue
			}
			t.Errorf("%s: package doc should start %q, got %q", p.ImportPath, "Package "+p.Name, p.Doc)
		}
	}
}

// Roles without NATS mechanics: the ncc reaches JetStream only through bus
// (deliveries, fetch, ack, alert publishing) and the api only for its audit
// heads bucket, so neither package nor its in-package test hooks import a
// NATS client. go list's Deps cannot show it: bus, which they import,
// depends on nats.go, so the direct imports are checked.
func TestRolesImportNoNATSClient(t *testing.T) {
	for _, pkg := range []string{"./internal/ncc", "./internal/api"} {
		var p struct {
			ImportPath  string
			Imports     []string
			TestImports []string
		}
		cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports", pkg)
		cmd.Dir = conformance.ModuleRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Imports) == 0 {
			t.Fatalf("go list found no imports of %s", pkg)
		}
		for _, imp := range append(p.Imports, p.TestImports...) {
			if forbids("github.com/nats-io/nats.go", imp) {
				t.Errorf("%s imports %s (JetStream mechanics belong in internal/bus)", p.ImportPath, imp)
			}
		}
	}
}
