// Package conformance locates the read-only third-party test data in
// ../shared/conformance (SigmaHQ rules and regression data, Zeek logs, STIX
// schemas) relative to the module root, for tests only.
//
// The data is never copied into the tree. Outside CI a test whose data is
// missing is skipped; with CI=true a missing directory fails the test.
package conformance

import (
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, searching upwards from the
// working directory (a package directory while `go test` runs).
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("conformance: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("conformance: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Path returns the path of elems under ../shared/conformance. When it does not
// exist the test is skipped, or failed when the environment variable CI is
// "true".
func Path(tb testing.TB, elems ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{ModuleRoot(tb), "..", "shared", "conformance"}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("conformance data missing with CI=true: %v", err)
		}
		tb.Skipf("conformance data missing: %v", err)
	}
	return p
}
