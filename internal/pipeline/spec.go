package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/yamlpath"
)

// Spec is one pipeline as written in pipelines/<name>.yaml.
type Spec struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Parser turns a record into raw fields: syslog, cef, leef, kv, json,
	// winevent, auditd, regex or line.
	Parser string `yaml:"parser"`
	// From runs another parser first and hands its message to Parser:
	// "syslog" for key=value, JSON or free text carried in syslog.
	From    string        `yaml:"from"`
	Options ParserOptions `yaml:"options"`
	// Namespace receives the raw fields kept (Keep); default "fields".
	Namespace string `yaml:"namespace"`
	// Keep is all (every raw field, as parsed), unmapped (those no step
	// consumed; the default) or none.
	Keep  string    `yaml:"keep"`
	Steps []Step    `yaml:"steps"`
	Tests []Example `yaml:"tests"`

	file string
	// mutates reports whether steps remove raw fields (rename, remove);
	// when they do not, keep: all hands the raw map, with the fields steps
	// extracted into it, to the namespace without copying it.
	mutates bool
}

// ParserOptions configure a parser.
type ParserOptions struct {
	// Separator, Delimiter and Quote configure kv.
	Separator string `yaml:"separator"`
	Delimiter string `yaml:"delimiter"`
	Quote     string `yaml:"quote"`
	// Pattern is the regex parser's pattern with named groups.
	Pattern string `yaml:"pattern"`
	// Linger is how long auditd waits for more records of an event.
	Linger string `yaml:"linger"`
}

// Step is one step. Exactly one action is set; If makes it conditional.
type Step struct {
	If *Cond `yaml:"if"`

	Map       OrderedMap     `yaml:"map"`
	Rename    OrderedMap     `yaml:"rename"`
	Set       OrderedMap     `yaml:"set"`
	Remove    []string       `yaml:"remove"`
	Tag       []string       `yaml:"tag"`
	Lowercase []string       `yaml:"lowercase"`
	Uppercase []string       `yaml:"uppercase"`
	Trim      []string       `yaml:"trim"`
	Timestamp *TimestampStep `yaml:"timestamp"`
	KV        *KVStep        `yaml:"kv"`
	Regex     *RegexStep     `yaml:"regex"`
	JSON      *JSONStep      `yaml:"json"`
	Lookup    *LookupStep    `yaml:"lookup"`
	// Basename sets event fields to the last element of a path field
	// (Windows or POSIX): {Image: process.name}.
	Basename OrderedMap `yaml:"basename"`
	// Dirname and Extension set event fields to the directory and the
	// extension (without the dot) of a path field (Windows or POSIX).
	Dirname   OrderedMap `yaml:"dirname"`
	Extension OrderedMap `yaml:"extension"`
	// Duration sets event fields in nanoseconds from fields in seconds
	// (Zeek's duration, rtt): {duration: event.duration}.
	Duration OrderedMap `yaml:"duration"`
	// Append adds a value to a list field: {event.type: info}.
	Append OrderedMap `yaml:"append"`
	// Sum sets an event field to the sum of integer fields:
	// {network.bytes: [orig_ip_bytes, resp_ip_bytes]}.
	Sum OrderedMap `yaml:"sum"`
	// IPs sets a list field to the items of a field that are IP
	// addresses: {answers: dns.resolved_ip}.
	IPs OrderedMap `yaml:"ips"`
	// DN splits a distinguished name (RFC 4514: CN=..,O=..,C=..) into the
	// fields of an ECS x509 name: {subject: tls.server.x509.subject}.
	DN OrderedMap `yaml:"dn"`
	// Hex writes event fields holding hex bytes as upper-case digits
	// without separators ("1a:00:0b" is "1A000B").
	Hex []string `yaml:"hex"`
	// Pluck sets a list field to one key of each object of a list field:
	// {"dns.answers[].rdata": dns.answers} (EVE v2 answers).
	Pluck    OrderedMap `yaml:"pluck"`
	Drop     bool       `yaml:"drop"`
	Reject   string     `yaml:"reject"`
	Dispatch string     `yaml:"dispatch"`
	Steps    []Step     `yaml:"steps"`

	// label names the step for kuzet parse --explain: file:line, path and
	// action ("pipelines/cef.yaml:8 steps[0] map").
	label string
	// paths are Lowercase, Uppercase, Trim or Hex resolved (resolve).
	paths []event.Path
}

// TimestampStep parses a time.
type TimestampStep struct {
	// Field holds the time; Fields joins several with a space first (a
	// date and a time sent apart).
	Field  string   `yaml:"field"`
	Fields []string `yaml:"fields"`
	// Formats are tried in order: rfc3339, unix, unix_ms, unix_us,
	// unix_ns, unix_auto (the unit from the number of digits), a Go layout, or "java:<SimpleDateFormat pattern>".
	Formats []string `yaml:"formats"`
	// Zone for times without one, when the format fixes it (Sysmon's
	// UtcTime); default: the device's zone (StreamOptions.DeviceZone), else
	// the stream's, decided when the event is complete.
	Zone string `yaml:"zone"`
	// ZoneField names a field holding the zone of a zone-less time (an IANA
	// name or an offset such as +0500); it wins over Zone when set and
	// valid (CEF dtz, FortiGate tz).
	ZoneField string `yaml:"zone_field"`
	// Target is an event time field; default @timestamp.
	Target string `yaml:"target"`

	// ref, refs and zoneRef are Field, Fields and ZoneField resolved.
	ref, zoneRef *fieldRef
	refs         []*fieldRef
	// loc is Zone loaded.
	loc *time.Location
}

// KVStep splits a field's key=value text into raw fields.
type KVStep struct {
	Field     string `yaml:"field"`
	Separator string `yaml:"separator"`
	Delimiter string `yaml:"delimiter"`
	Quote     string `yaml:"quote"`
	Prefix    string `yaml:"prefix"`

	ref *fieldRef
}

// RegexStep extracts a field's named groups into raw fields.
type RegexStep struct {
	Field   string `yaml:"field"`
	Pattern string `yaml:"pattern"`
	// Required rejects the record when the pattern does not match.
	Required bool   `yaml:"required"`
	Prefix   string `yaml:"prefix"`

	ref *fieldRef
}

// JSONStep decodes a field holding a JSON object into raw fields.
type JSONStep struct {
	Field  string `yaml:"field"`
	Prefix string `yaml:"prefix"`

	ref *fieldRef
}

// LookupStep maps a field's value through a table.
type LookupStep struct {
	Field   string            `yaml:"field"`
	Target  string            `yaml:"target"`
	Table   map[string]string `yaml:"table"`
	Default string            `yaml:"default"`

	ref *fieldRef
	to  *writeTarget
	// values are Table's values, and def Default, as the any they are
	// written as (no conversion per record).
	values map[string]any
	def    any
}

// Example is a pipeline test: a record, and what its event must hold (event
// paths and their values as text; lists compare as comma-joined) or the
// reason it must be rejected with.
type Example struct {
	Name   string            `yaml:"name"`
	Input  string            `yaml:"input"`
	Expect map[string]string `yaml:"expect"`
	Reject string            `yaml:"reject"`
	Absent []string          `yaml:"absent"`
}

// KeyValue is one entry of an OrderedMap.
type KeyValue struct {
	Key   string
	Value any
	Line  int

	// from and to are the field read and the event field written,
	// resolved at load (resolve); refs are a sum's fields.
	from *fieldRef
	to   *writeTarget
	refs []*fieldRef
}

// OrderedMap is a YAML mapping that keeps its order.
type OrderedMap []KeyValue

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *OrderedMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		*m = append(*m, KeyValue{Key: n.Content[i].Value, Value: v, Line: n.Content[i].Line})
	}
	return nil
}

// action names a step's action.
func (st *Step) action() string {
	for _, a := range []struct {
		set  bool
		name string
	}{
		{st.Map != nil, "map"}, {st.Rename != nil, "rename"}, {st.Set != nil, "set"}, {st.Remove != nil, "remove"}, {st.Tag != nil, "tag"},
		{st.Lowercase != nil, "lowercase"}, {st.Uppercase != nil, "uppercase"}, {st.Trim != nil, "trim"}, {st.Timestamp != nil, "timestamp"},
		{st.KV != nil, "kv"}, {st.Regex != nil, "regex"}, {st.JSON != nil, "json"}, {st.Lookup != nil, "lookup"}, {st.Basename != nil, "basename"}, {st.Dirname != nil, "dirname"}, {st.Extension != nil, "extension"},
		{st.DN != nil, "dn"}, {st.Pluck != nil, "pluck"}, {st.Hex != nil, "hex"}, {st.Duration != nil, "duration"}, {st.Append != nil, "append"}, {st.Sum != nil, "sum"}, {st.IPs != nil, "ips"}, {st.Drop, "drop"},
		{st.Reject != "", "reject"}, {st.Dispatch != "", "dispatch"}, {st.Steps != nil, "steps"},
	} {
		if a.set {
			return a.name
		}
	}
	return "?"
}

var parsers = []string{"syslog", "cef", "leef", "kv", "json", "winevent", "auditd", "regex", "line"}

// parseSpec decodes and validates one pipeline file (file names it in
// errors). Unknown keys are errors.
func parseSpec(file string, data []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty pipeline", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s.file = file
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc)
	if err := s.validate(&doc); err != nil {
		return nil, err
	}
	walkSteps(s.Steps, resolve)
	walkSteps(s.Steps, func(st *Step) {
		path, _, _ := strings.Cut(st.label, " ")
		if line := yamlpath.Line(&doc, path); line > 0 {
			st.label = fmt.Sprintf("%s:%d %s", s.file, line, st.label)
		} else {
			st.label = s.file + " " + st.label
		}
	})
	return &s, nil
}

// resolve resolves the fields a step reads and the event fields it writes
// once, at load, so that running it hashes no path it names.
func resolve(st *Step) {
	// Key -> Value: the field read and the event field written.
	for _, pairs := range []OrderedMap{st.Map, st.Rename, st.Basename, st.Dirname, st.Extension, st.Duration, st.IPs} {
		for i := range pairs {
			pairs[i].from = newFieldRef(pairs[i].Key)
			if to, ok := pairs[i].Value.(string); ok {
				pairs[i].to = newTarget(to)
			}
		}
	}
	// Key is the event field written.
	for _, pairs := range []OrderedMap{st.Set, st.Append, st.Sum} {
		for i := range pairs {
			pairs[i].to = newTarget(pairs[i].Key)
		}
	}
	for i := range st.Sum {
		l, _ := st.Sum[i].Value.([]any)
		for _, f := range l {
			st.Sum[i].refs = append(st.Sum[i].refs, newFieldRef(text(f)))
		}
	}
	for i := range st.Pluck {
		list, _, _ := strings.Cut(st.Pluck[i].Key, "[].")
		st.Pluck[i].from = newFieldRef(list)
		if to, ok := st.Pluck[i].Value.(string); ok {
			st.Pluck[i].to = newTarget(to)
		}
	}
	for i := range st.DN {
		st.DN[i].from = newFieldRef(st.DN[i].Key)
	}
	for _, fields := range [][]string{st.Lowercase, st.Uppercase, st.Trim, st.Hex} {
		for _, f := range fields {
			st.paths = append(st.paths, event.LookupPath(f))
		}
	}
	if lk := st.Lookup; lk != nil {
		lk.ref, lk.to = newFieldRef(lk.Field), newTarget(lk.Target)
		lk.values, lk.def = make(map[string]any, len(lk.Table)), lk.Default
		for k, v := range lk.Table {
			lk.values[k] = v
		}
	}
	if st.KV != nil {
		st.KV.ref = newFieldRef(st.KV.Field)
	}
	if st.Regex != nil {
		st.Regex.ref = newFieldRef(st.Regex.Field)
	}
	if st.JSON != nil {
		st.JSON.ref = newFieldRef(st.JSON.Field)
	}
	if ts := st.Timestamp; ts != nil {
		if ts.Field != "" {
			ts.ref = newFieldRef(ts.Field)
		}
		for _, f := range ts.Fields {
			ts.refs = append(ts.refs, newFieldRef(f))
		}
		if ts.ZoneField != "" {
			ts.zoneRef = newFieldRef(ts.ZoneField)
		}
		if ts.Zone != "" {
			ts.loc, _ = loadZone(ts.Zone) // validated
		}
	}
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,40}$`)

func (s *Spec) validate(doc *yaml.Node) error {
	var errs []error
	bad := func(path, format string, args ...any) {
		line := yamlpath.Line(doc, path)
		loc := s.file
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", s.file, line)
		}
		errs = append(errs, fmt.Errorf("%s: pipeline %q: %s: %s", loc, s.Name, path, fmt.Sprintf(format, args...)))
	}
	if !nameRe.MatchString(s.Name) {
		bad("name", "%q is not a valid pipeline name", s.Name)
	}
	if !slices.Contains(parsers, s.Parser) {
		bad("parser", "must be one of %s, not %q", strings.Join(parsers, ", "), s.Parser)
	}
	if s.From != "" && s.From != "syslog" {
		bad("from", "only syslog can come first, not %q", s.From)
	}
	if s.From != "" && !slices.Contains([]string{"kv", "json", "regex", "line"}, s.Parser) {
		bad("from", "parser %s reads syslog itself", s.Parser)
	}
	if s.Parser == "regex" {
		if _, err := regexp.Compile(s.Options.Pattern); err != nil || s.Options.Pattern == "" {
			bad("options.pattern", "the regex parser needs a valid pattern: %v", err)
		}
	}
	if s.Namespace == "" {
		s.Namespace = "fields"
	}
	if !slices.Contains(event.Namespaces, s.Namespace) {
		bad("namespace", "must be one of %s, not %q", strings.Join(event.Namespaces, ", "), s.Namespace)
	}
	switch s.Keep {
	case "":
		s.Keep = "unmapped"
	case "all", "unmapped", "none":
	default:
		bad("keep", "must be all, unmapped or none, not %q", s.Keep)
	}
	s.validateSteps(s.Steps, "steps", bad)
	// Fields a regex or kv step of the pipeline writes (capture names,
	// prefixed keys) are scratch: renaming or removing them leaves the
	// record's own fields as parsed, so keep: all needs no copy for them.
	scratch := map[string]bool{}
	var prefixes []string
	walkSteps(s.Steps, func(st *Step) {
		if st.Regex != nil {
			if re, err := regexp.Compile(st.Regex.Pattern); err == nil {
				for _, n := range re.SubexpNames() {
					if n != "" {
						scratch[st.Regex.Prefix+n] = true
					}
				}
			}
		}
		if st.KV != nil && st.KV.Prefix != "" {
			prefixes = append(prefixes, st.KV.Prefix)
		}
	})
	isScratch := func(k string) bool {
		if scratch[k] {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	walkSteps(s.Steps, func(st *Step) {
		for _, kv := range st.Rename {
			if !isScratch(kv.Key) {
				s.mutates = true
			}
		}
		for _, k := range st.Remove {
			if !isScratch(k) {
				s.mutates = true
			}
		}
	})
	for i, ex := range s.Tests {
		if ex.Input == "" {
			bad(fmt.Sprintf("tests[%d].input", i), "missing")
		}
		if ex.Reject == "" && len(ex.Expect) == 0 {
			bad(fmt.Sprintf("tests[%d]", i), "needs expect or reject")
		}
	}
	return errors.Join(errs...)
}

// timeTargets are the event fields a timestamp step can set.
var timeTargets = []string{"@timestamp", "event.created", "event.start", "event.end", "tls.server.not_before", "tls.server.not_after",
	"tls.server.x509.not_before", "tls.server.x509.not_after"}

func target(path string) bool { return event.ValidPath(path) }

func (s *Spec) validateSteps(steps []Step, base string, bad func(path, format string, args ...any)) {
	for i := range steps {
		st := &steps[i]
		p := fmt.Sprintf("%s[%d]", base, i)
		st.label = p + " " + st.action()
		n := 0
		count := func(set bool) {
			if set {
				n++
			}
		}
		count(st.Map != nil)
		count(st.Rename != nil)
		count(st.Set != nil)
		count(st.Remove != nil)
		count(st.Tag != nil)
		count(st.Lowercase != nil)
		count(st.Uppercase != nil)
		count(st.Trim != nil)
		count(st.Timestamp != nil)
		count(st.KV != nil)
		count(st.Regex != nil)
		count(st.JSON != nil)
		count(st.Lookup != nil)
		count(st.Basename != nil)
		count(st.Dirname != nil)
		count(st.Extension != nil)
		count(st.Duration != nil)
		count(st.Append != nil)
		count(st.Sum != nil)
		count(st.IPs != nil)
		count(st.DN != nil)
		count(st.Hex != nil)
		count(st.Pluck != nil)
		count(st.Drop)
		count(st.Reject != "")
		count(st.Dispatch != "")
		count(st.Steps != nil)
		if n != 1 {
			bad(p, "a step needs exactly one action, it has %d", n)
		}
		if st.If != nil {
			if err := st.If.compile(); err != nil {
				bad(p+".if", "%v", err)
			}
		}
		pairs := append(append(append(append(append(OrderedMap{}, st.Map...), st.Rename...), st.Basename...), st.Duration...), st.IPs...)
		for _, kv := range append(append(pairs, st.Dirname...), st.Extension...) {
			to, ok := kv.Value.(string)
			if !ok || !target(to) {
				bad(p, "%s -> %v: not an event field", kv.Key, kv.Value)
			}
		}
		for _, kv := range st.Set {
			if !target(kv.Key) {
				bad(p+".set", "%q is not an event field", kv.Key)
			}
		}
		for _, kv := range append(append(OrderedMap{}, st.Append...), st.Sum...) {
			if !target(kv.Key) {
				bad(p, "%q is not an event field", kv.Key)
			}
		}
		for _, kv := range st.Sum {
			if l, ok := kv.Value.([]any); !ok || len(l) == 0 {
				bad(p+".sum", "%s: needs a list of fields", kv.Key)
			}
		}
		for _, kv := range st.Pluck {
			to, ok := kv.Value.(string)
			if !ok || !target(to) || !strings.Contains(kv.Key, "[].") {
				bad(p+".pluck", "%s -> %v: needs list[].key -> an event field", kv.Key, kv.Value)
			}
		}
		for _, kv := range st.DN {
			if to, ok := kv.Value.(string); !ok || !target(to+".common_name") {
				bad(p+".dn", "%s -> %v: not an x509 name (tls.server.x509.subject, tls.server.x509.issuer)", kv.Key, kv.Value)
			}
		}
		for _, f := range append(append(append(append([]string{}, st.Lowercase...), st.Uppercase...), st.Trim...), st.Hex...) {
			if !target(f) {
				bad(p, "%q is not an event field", f)
			}
		}
		if ts := st.Timestamp; ts != nil {
			if ts.Field == "" && len(ts.Fields) == 0 {
				bad(p+".timestamp", "needs field or fields")
			}
			if len(ts.Formats) == 0 {
				bad(p+".timestamp.formats", "missing")
			}
			if ts.Target == "" {
				ts.Target = "@timestamp"
			}
			if !slices.Contains(timeTargets, ts.Target) {
				bad(p+".timestamp.target", "must be one of %s", strings.Join(timeTargets, ", "))
			}
			if ts.Zone != "" {
				if _, err := loadZone(ts.Zone); err != nil {
					bad(p+".timestamp.zone", "%v", err)
				}
			}
		}
		if st.Regex != nil {
			re, err := regexp.Compile(st.Regex.Pattern)
			if err != nil {
				bad(p+".regex.pattern", "%v", err)
			} else if re.NumSubexp() == 0 {
				bad(p+".regex.pattern", "has no named groups")
			}
			if st.Regex.Field == "" {
				bad(p+".regex.field", "missing")
			}
		}
		if st.KV != nil && st.KV.Field == "" {
			bad(p+".kv.field", "missing")
		}
		if st.JSON != nil && st.JSON.Field == "" {
			bad(p+".json.field", "missing")
		}
		if lk := st.Lookup; lk != nil && (lk.Field == "" || !target(lk.Target) || len(lk.Table) == 0) {
			bad(p+".lookup", "needs field, an event field as target, and a table")
		}
		if st.Steps != nil {
			s.validateSteps(st.Steps, p+".steps", bad)
		}
	}
}
