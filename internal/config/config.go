// Package config loads kuzet's own configuration: one YAML file per role
// (collector, ncc, api; examples in configs/).
//
// Precedence, lowest first: built-in defaults (Default* functions), the YAML
// file, then KUZET_* environment variables. Decoding is strict: unknown keys
// are errors. Validation returns every problem at once, joined, each a
// *FieldError naming the field path ("inputs[2].listen") and, where known, the
// file and line.
//
// An environment variable overrides one scalar field: its name is KUZET_
// followed by the field's YAML path in upper case, with "_" between keys, for
// example KUZET_NATS_URL for nats.url or KUZET_CLICKHOUSE_ADDR for
// clickhouse.addr. Lists of strings take comma-separated values. Fields
// inside lists of objects (inputs, api keys) have no variables.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/yamlpath"
)

// Secret is a string that never shows in logs, fmt output or YAML dumps.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON redacts the secret (slog's JSON handler, API dumps).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText redacts the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// FieldError is one invalid field.
type FieldError struct {
	// Path is the field's YAML path, e.g. "inputs[1].listen".
	Path string
	// File and Line locate the field's value when it came from a file.
	File string
	Line int
	Msg  string
}

func (e *FieldError) Error() string {
	if e.File != "" && e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors collects FieldErrors during validation.
type Errors struct{ errs []error }

// Add records a problem with the field at path.
func (es *Errors) Add(path, format string, args ...any) {
	es.errs = append(es.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the joined errors, or nil.
func (es *Errors) Err() error { return errors.Join(es.errs...) }

// Validator is implemented by each role's configuration.
type Validator interface {
	Validate() error
}

// Load reads the YAML file at path (none when path is ""), then the
// environment, into cfg, which must be a pointer to a struct already holding
// the defaults, and validates it.
func Load(path string, cfg Validator) error {
	var node *yaml.Node
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n, err := decode(data, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		node = n
	}
	if err := applyEnv(cfg, os.LookupEnv); err != nil {
		return err
	}
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	// Give field errors the file and line of their value.
	var fes []error
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) && path != "" {
			fe.File = path
			fe.Line = yamlpath.Line(node, fe.Path)
		}
		fes = append(fes, e)
	}
	return errors.Join(fes...)
}

func unjoin(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// decode decodes data strictly into cfg and returns the document node.
func decode(data []byte, cfg any) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file keeps the defaults
		}
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// EnvPrefix starts every override variable.
const EnvPrefix = "KUZET_"

var durationType = reflect.TypeOf(time.Duration(0))

// EnvNames lists the environment variables that override fields of cfg.
func EnvNames(cfg any) []string {
	var out []string
	walkEnv(reflect.ValueOf(cfg).Elem(), EnvPrefix, func(name string, _ reflect.Value) {
		out = append(out, name)
	})
	return out
}

func applyEnv(cfg any, lookup func(string) (string, bool)) error {
	var errs []error
	walkEnv(reflect.ValueOf(cfg).Elem(), EnvPrefix, func(name string, v reflect.Value) {
		s, ok := lookup(name)
		if !ok {
			return
		}
		if err := setScalar(v, s); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
		}
	})
	return errors.Join(errs...)
}

func walkEnv(v reflect.Value, prefix string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" || tag == "" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		fv := v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != durationType:
			walkEnv(fv, name+"_", fn)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.String:
			// lists of objects have no variables
		case f.Type.Kind() == reflect.Map || f.Type.Kind() == reflect.Pointer:
		default:
			fn(name, fv)
		}
	}
}

func setScalar(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetUint(n)
	case v.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	case v.Kind() == reflect.Slice:
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts).Convert(v.Type()))
	default:
		return fmt.Errorf("unsupported kind %s", v.Kind())
	}
	return nil
}
