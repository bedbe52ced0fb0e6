package collector_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/conformance"
)

// exportedForReasons are exports of the ingest side no other package uses
// yet, each kept for a stated reason.
var exportedForReasons = map[string]string{
	"collector.DefaultOptions": "the role's embedding API, beside Options",
	"ingest.FramingAuto":       "a value of inputs[].framing, listed with the others",
	"ingest.FramingNUL":        "a value of inputs[].framing, listed with the others",
	"ingest.FramingOctet":      "a value of inputs[].framing, listed with the others",
	"jsonl.MaxDepth":           "documents the nesting limit Decode enforces",
	"syslog.RFC3164":           "a value of syslog.Format, beside RFC5424",
}

// TestNoTestOnlyExports: every exported function, constant and variable of
// the collector, pipeline and ingest packages is used by another package's
// non-test code (or listed above with its reason). What only tests need is
// exported to them in export_test.go.
func TestNoTestOnlyExports(t *testing.T) {
	root := conformance.ModuleRoot(t)
	sources := map[string]string{} // non-test Go files by path
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sources[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for p := range sources {
		dir := filepath.Dir(p)
		rel, _ := filepath.Rel(root, dir)
		if rel != "internal/collector" && rel != "internal/pipeline" && rel != "internal/ingest" && !strings.HasPrefix(rel, "internal/ingest/") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, sources[p], parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		pkg := f.Name.Name
		for _, name := range topLevelExports(f) {
			checked++
			if _, ok := exportedForReasons[pkg+"."+name]; ok {
				continue
			}
			use := regexp.MustCompile(`\b` + pkg + `\.` + name + `\b`)
			used := false
			for q, src := range sources {
				if filepath.Dir(q) != dir && use.MatchString(src) {
					used = true
					break
				}
			}
			if !used {
				t.Errorf("%s.%s (%s) is exported, but no other package's code uses it: unexport it, and export it to tests in export_test.go", pkg, name, rel)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d exports checked: the walk missed the packages", checked)
	}
}

// topLevelExports are the exported functions (not methods), constants and
// variables of a file.
func topLevelExports(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.IsExported() {
				out = append(out, d.Name.Name)
			}
		case *ast.GenDecl:
			if d.Tok != token.CONST && d.Tok != token.VAR {
				continue
			}
			for _, s := range d.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					if n.IsExported() {
						out = append(out, n.Name)
					}
				}
			}
		}
	}
	return out
}
