package sigma

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	rulepack "github.com/kuzet-kz/kuzet/pipelines/rules"
	sigmapipelines "github.com/kuzet-kz/kuzet/pipelines/sigma"
)

// Source says where a rule set comes from: kuzet's embedded rule pack
// and rule files or directories (searched recursively for *.yml and
// *.yaml). The ncc and `kuzet sigma` both load through it, so a rule
// behaves the same in both.
type Source struct {
	// Builtin adds kuzet's own rule pack (pipelines/rules).
	Builtin bool
	// Paths are rule directories or single rule files.
	Paths []string
}

// RuleSet is a loaded and compiled rule set. It is immutable.
type RuleSet struct {
	// Engine runs the rules that compiled.
	Engine *Engine
	// Version is a short hash of every rule file's name and content: two
	// loads of the same files have the same version.
	Version string
	// Fingerprint is Source.Fingerprint at load time.
	Fingerprint string
	// Parsed are the rules that parsed, compiled or not.
	Parsed []*Rule
	// ParseErrors are the documents that did not parse (*ParseError),
	// and files that could not be read.
	ParseErrors []error
	// Rejected are the parsed rules that did not compile.
	Rejected []Rejected
	// Warnings are the compiler's notes on rules that compiled.
	Warnings []string
}

type ruleFile struct {
	name string
	data []byte
}

// walk calls visit for each rule file under the source's paths (a path
// that names a file is taken whatever its name) and returns their
// fingerprint: paths, sizes and modification times.
func (s Source) walk(visit func(path string) error) (string, error) {
	var fp strings.Builder
	for _, root := range s.Paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || (p != root && !isRuleFile(p)) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(&fp, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
			if visit != nil {
				return visit(p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return fp.String(), nil
}

func isRuleFile(p string) bool { return strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml") }

// Fingerprint returns the paths, sizes and modification times of the
// source's files: it changes when a rule file is added, removed or
// written, without reading any file.
func (s Source) Fingerprint() (string, error) { return s.walk(nil) }

// files reads the source's rule files in name order. A file that cannot be
// read is an error of its own in errs; a path that cannot be walked (a
// directory that does not exist) fails the whole read.
func (s Source) files() (files []ruleFile, fingerprint string, errs []error, err error) {
	if s.Builtin {
		err := fs.WalkDir(rulepack.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !isRuleFile(p) {
				return err
			}
			data, err := fs.ReadFile(rulepack.FS, p)
			files = append(files, ruleFile{"builtin/" + p, data})
			return err
		})
		if err != nil {
			return nil, "", nil, err
		}
	}
	fingerprint, err = s.walk(func(p string) error {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		files = append(files, ruleFile{p, data})
		return nil
	})
	if err != nil {
		return nil, "", nil, err
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, fingerprint, errs, nil
}

// LoadDir parses the rule files of dir without compiling them: the rules
// and, per document, the errors of those that did not parse.
func LoadDir(dir string) ([]*Rule, []error) {
	files, _, errs, err := Source{Paths: []string{dir}}.files()
	if err != nil {
		return nil, []error{err}
	}
	var rules []*Rule
	for _, f := range files {
		rs, es := ParseRules(f.name, f.data)
		rules = append(rules, rs...)
		errs = append(errs, es...)
	}
	return rules, errs
}

// Load reads, parses and compiles the source's rules with opts (nil
// Pipelines: the built-in ones). Rules that do not parse or compile are
// reported in the RuleSet and the others run; the error is for a source
// that cannot be read at all.
func Load(src Source, opts Options) (*RuleSet, error) {
	files, fp, errs, err := src.files()
	if err != nil {
		return nil, err
	}
	if opts.Pipelines == nil {
		if opts.Pipelines, err = DefaultPipelines(); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	rs := &RuleSet{Fingerprint: fp, ParseErrors: errs}
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write(f.data)
		rules, es := ParseRules(f.name, f.data)
		rs.Parsed = append(rs.Parsed, rules...)
		rs.ParseErrors = append(rs.ParseErrors, es...)
	}
	rs.Engine, rs.Rejected, rs.Warnings = Compile(rs.Parsed, opts)
	rs.Version = hex.EncodeToString(h.Sum(nil))[:12]
	return rs, nil
}

// DefaultPipelines returns the pipelines shipped in pipelines/sigma.
func DefaultPipelines() ([]*Pipeline, error) { return LoadPipelines(sigmapipelines.FS) }
