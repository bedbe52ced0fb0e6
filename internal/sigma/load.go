package sigma

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	sigmapipelines "github.com/kuzet-kz/kuzet/pipelines/sigma"
)

// LoadDir parses every *.yml and *.yaml rule file under dir (recursively).
// It returns the rules and, per file, the errors of those that did not
// parse.
func LoadDir(dir string) ([]*Rule, []error) {
	var rules []*Rule
	var errs []error
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		rs, es := ParseRules(p, data)
		rules = append(rules, rs...)
		errs = append(errs, es...)
		return nil
	})
	return rules, errs
}

// DefaultPipelines returns the pipelines shipped in pipelines/sigma.
func DefaultPipelines() ([]*Pipeline, error) { return LoadPipelines(sigmapipelines.FS) }
