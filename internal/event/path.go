package event

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Namespaces are the top-level objects that hold source-specific fields. A
// path "<namespace>.<key>" addresses the key verbatim: keys may contain dots
// (Zeek's "id.orig_h"), so the rest of the path is never split further.
var Namespaces = []string{"winlog", "zeek", "suricata", "cef", "leef", "auditd", "wazuh", "fields"}

// namespace returns the map of namespace ns, creating it when mk is true.
func (ev *Event) namespace(ns string, mk bool) map[string]any {
	var p *map[string]any
	switch ns {
	case "winlog":
		p = &ev.Winlog
	case "zeek":
		p = &ev.Zeek
	case "suricata":
		p = &ev.Suricata
	case "cef":
		p = &ev.CEF
	case "leef":
		p = &ev.LEEF
	case "auditd":
		p = &ev.Auditd
	case "wazuh":
		p = &ev.Wazuh
	case "fields":
		p = &ev.Fields
	default:
		return nil
	}
	if *p == nil && mk {
		*p = make(map[string]any)
	}
	return *p
}

// fieldKind is the JSON type of a typed ECS field.
type fieldKind int

const (
	kindString fieldKind = iota
	kindInt
	kindStrings
	kindTime
	kindBool
)

type field struct {
	kind fieldKind
	// ptr returns a pointer to the field's storage; with mk false it returns
	// nil when an enclosing object is absent, with mk true it creates it.
	ptr func(ev *Event, mk bool) any
}

func mkOr[T any](p **T, mk bool) *T {
	if *p == nil {
		if !mk {
			return nil
		}
		*p = new(T)
	}
	return *p
}

func str(f func(ev *Event, mk bool) *string) field {
	return field{kindString, func(ev *Event, mk bool) any { return f(ev, mk) }}
}
func num(f func(ev *Event, mk bool) *int) field {
	return field{kindInt, func(ev *Event, mk bool) any { return f(ev, mk) }}
}
func num64(f func(ev *Event, mk bool) *int64) field {
	return field{kindInt, func(ev *Event, mk bool) any { return f(ev, mk) }}
}
func strs(f func(ev *Event, mk bool) *[]string) field {
	return field{kindStrings, func(ev *Event, mk bool) any { return f(ev, mk) }}
}

func endpoint(sel func(ev *Event) **Endpoint) map[string]field {
	ep := func(ev *Event, mk bool) *Endpoint { return mkOr(sel(ev), mk) }
	return map[string]field{
		"ip": str(func(ev *Event, mk bool) *string {
			if e := ep(ev, mk); e != nil {
				return &e.IP
			}
			return nil
		}),
		"port": num(func(ev *Event, mk bool) *int {
			if e := ep(ev, mk); e != nil {
				return &e.Port
			}
			return nil
		}),
		"domain": str(func(ev *Event, mk bool) *string {
			if e := ep(ev, mk); e != nil {
				return &e.Domain
			}
			return nil
		}),
		"address": str(func(ev *Event, mk bool) *string {
			if e := ep(ev, mk); e != nil {
				return &e.Address
			}
			return nil
		}),
		"mac": str(func(ev *Event, mk bool) *string {
			if e := ep(ev, mk); e != nil {
				return &e.MAC
			}
			return nil
		}),
		"bytes": num64(func(ev *Event, mk bool) *int64 {
			if e := ep(ev, mk); e != nil {
				return &e.Bytes
			}
			return nil
		}),
		"packets": num64(func(ev *Event, mk bool) *int64 {
			if e := ep(ev, mk); e != nil {
				return &e.Packets
			}
			return nil
		}),
		"user.name": str(func(ev *Event, mk bool) *string {
			if e := ep(ev, mk); e != nil {
				if u := mkOr(&e.User, mk); u != nil {
					return &u.Name
				}
			}
			return nil
		}),
	}
}

// sub builds the string fields of a nested struct reached through get.
func sub[T any](get func(ev *Event, mk bool) *T, names map[string]func(*T) *string) map[string]field {
	out := make(map[string]field, len(names))
	for name, f := range names {
		out[name] = str(func(ev *Event, mk bool) *string {
			if t := get(ev, mk); t != nil {
				return f(t)
			}
			return nil
		})
	}
	return out
}

var fields = buildFields()

// dotless are the paths without a dot (@timestamp, message, tags): every
// other path is <object>.<field>.
var dotless = func() []string {
	var out []string
	for p := range fields {
		if !strings.Contains(p, ".") {
			out = append(out, p)
		}
	}
	return out
}()

func buildFields() map[string]field {
	m := map[string]field{
		"message":    str(func(ev *Event, _ bool) *string { return &ev.Message }),
		"tags":       strs(func(ev *Event, _ bool) *[]string { return &ev.Tags }),
		"@timestamp": {kindTime, func(ev *Event, _ bool) any { return &ev.Timestamp }},
		"event.created": {kindTime, func(ev *Event, mk bool) any {
			if ev.Event.Created == nil {
				if !mk {
					return nil
				}
				ev.Event.Created = new(time.Time)
			}
			return ev.Event.Created
		}},
		"event.severity": num(func(ev *Event, _ bool) *int { return &ev.Event.Severity }),
		"event.category": strs(func(ev *Event, _ bool) *[]string { return &ev.Event.Category }),
		"event.type":     strs(func(ev *Event, _ bool) *[]string { return &ev.Event.Type }),
		"host.ip": strs(func(ev *Event, mk bool) *[]string {
			if h := mkOr(&ev.Host, mk); h != nil {
				return &h.IP
			}
			return nil
		}),
		"process.pid": num(func(ev *Event, mk bool) *int {
			if p := mkOr(&ev.Process, mk); p != nil {
				return &p.PID
			}
			return nil
		}),
		"process.parent.pid": num(func(ev *Event, mk bool) *int {
			if p := mkOr(&ev.Process, mk); p != nil {
				if pp := mkOr(&p.Parent, mk); pp != nil {
					return &pp.PID
				}
			}
			return nil
		}),
		"network.bytes": num64(func(ev *Event, mk bool) *int64 {
			if n := mkOr(&ev.Network, mk); n != nil {
				return &n.Bytes
			}
			return nil
		}),
		"network.packets": num64(func(ev *Event, mk bool) *int64 {
			if n := mkOr(&ev.Network, mk); n != nil {
				return &n.Packets
			}
			return nil
		}),
		"dns.answers": strs(func(ev *Event, mk bool) *[]string {
			if d := mkOr(&ev.DNS, mk); d != nil {
				return &d.Answers
			}
			return nil
		}),
		"log.syslog.priority": num(func(ev *Event, mk bool) *int {
			if s := syslogOf(ev, mk); s != nil {
				if s.Priority == nil {
					if !mk {
						return nil
					}
					s.Priority = new(int)
				}
				return s.Priority
			}
			return nil
		}),
	}
	add := func(prefix string, sub map[string]field) {
		for k, f := range sub {
			m[prefix+"."+k] = f
		}
	}
	add("event", sub(func(ev *Event, _ bool) *Meta { return &ev.Event }, map[string]func(*Meta) *string{
		"kind": func(t *Meta) *string { return &t.Kind }, "action": func(t *Meta) *string { return &t.Action },
		"outcome": func(t *Meta) *string { return &t.Outcome }, "code": func(t *Meta) *string { return &t.Code },
		"provider": func(t *Meta) *string { return &t.Provider }, "module": func(t *Meta) *string { return &t.Module },
		"dataset": func(t *Meta) *string { return &t.Dataset }, "original": func(t *Meta) *string { return &t.Original },
	}))
	add("source", endpoint(func(ev *Event) **Endpoint { return &ev.Source }))
	add("destination", endpoint(func(ev *Event) **Endpoint { return &ev.Destination }))
	add("network", sub(func(ev *Event, mk bool) *Network { return mkOr(&ev.Network, mk) }, map[string]func(*Network) *string{
		"transport": func(t *Network) *string { return &t.Transport }, "protocol": func(t *Network) *string { return &t.Protocol },
		"direction": func(t *Network) *string { return &t.Direction },
	}))
	add("user", sub(func(ev *Event, mk bool) *User { return mkOr(&ev.User, mk) }, map[string]func(*User) *string{
		"name": func(t *User) *string { return &t.Name }, "domain": func(t *User) *string { return &t.Domain },
		"id": func(t *User) *string { return &t.ID },
	}))
	add("host", sub(func(ev *Event, mk bool) *Host { return mkOr(&ev.Host, mk) }, map[string]func(*Host) *string{
		"name": func(t *Host) *string { return &t.Name }, "hostname": func(t *Host) *string { return &t.Hostname },
		"os": func(t *Host) *string { return &t.OS },
	}))
	procStrings := map[string]func(*Process) *string{
		"name": func(t *Process) *string { return &t.Name }, "executable": func(t *Process) *string { return &t.Executable },
		"command_line": func(t *Process) *string { return &t.CommandLine },
	}
	add("process", sub(func(ev *Event, mk bool) *Process { return mkOr(&ev.Process, mk) }, procStrings))
	add("process.parent", sub(func(ev *Event, mk bool) *Process {
		if p := mkOr(&ev.Process, mk); p != nil {
			return mkOr(&p.Parent, mk)
		}
		return nil
	}, procStrings))
	add("file", sub(func(ev *Event, mk bool) *File { return mkOr(&ev.File, mk) }, map[string]func(*File) *string{
		"path": func(t *File) *string { return &t.Path }, "name": func(t *File) *string { return &t.Name },
	}))
	add("file.hash", sub(func(ev *Event, mk bool) *Hash {
		if f := mkOr(&ev.File, mk); f != nil {
			return mkOr(&f.Hash, mk)
		}
		return nil
	}, map[string]func(*Hash) *string{
		"md5": func(t *Hash) *string { return &t.MD5 }, "sha1": func(t *Hash) *string { return &t.SHA1 },
		"sha256": func(t *Hash) *string { return &t.SHA256 },
	}))
	add("url", sub(func(ev *Event, mk bool) *URL { return mkOr(&ev.URL, mk) }, map[string]func(*URL) *string{
		"original": func(t *URL) *string { return &t.Original }, "domain": func(t *URL) *string { return &t.Domain },
		"path": func(t *URL) *string { return &t.Path },
	}))
	add("dns", sub(func(ev *Event, mk bool) *DNS { return mkOr(&ev.DNS, mk) }, map[string]func(*DNS) *string{
		"question.name": func(t *DNS) *string { return &t.Question.Name }, "question.type": func(t *DNS) *string { return &t.Question.Type },
		"response_code": func(t *DNS) *string { return &t.ResponseCode },
	}))
	add("rule", sub(func(ev *Event, mk bool) *Rule { return mkOr(&ev.Rule, mk) }, map[string]func(*Rule) *string{
		"name": func(t *Rule) *string { return &t.Name }, "id": func(t *Rule) *string { return &t.ID },
		"category": func(t *Rule) *string { return &t.Category },
	}))
	add("observer", sub(func(ev *Event, mk bool) *Observer { return mkOr(&ev.Observer, mk) }, map[string]func(*Observer) *string{
		"vendor": func(t *Observer) *string { return &t.Vendor }, "product": func(t *Observer) *string { return &t.Product },
		"version": func(t *Observer) *string { return &t.Version }, "hostname": func(t *Observer) *string { return &t.Hostname },
		"ip": func(t *Observer) *string { return &t.IP }, "type": func(t *Observer) *string { return &t.Type },
	}))
	add("log", sub(func(ev *Event, mk bool) *Log { return mkOr(&ev.Log, mk) }, map[string]func(*Log) *string{
		"level": func(t *Log) *string { return &t.Level }, "logger": func(t *Log) *string { return &t.Logger },
	}))
	add("log.file", sub(func(ev *Event, mk bool) *LogFile {
		if l := mkOr(&ev.Log, mk); l != nil {
			return mkOr(&l.File, mk)
		}
		return nil
	}, map[string]func(*LogFile) *string{"path": func(t *LogFile) *string { return &t.Path }}))
	add("log.source", sub(func(ev *Event, mk bool) *LogSource {
		if l := mkOr(&ev.Log, mk); l != nil {
			return mkOr(&l.Source, mk)
		}
		return nil
	}, map[string]func(*LogSource) *string{"address": func(t *LogSource) *string { return &t.Address }}))
	add("log.syslog", sub(syslogOf, map[string]func(*Syslog) *string{
		"hostname": func(t *Syslog) *string { return &t.Hostname }, "appname": func(t *Syslog) *string { return &t.Appname },
		"procid": func(t *Syslog) *string { return &t.ProcID }, "msgid": func(t *Syslog) *string { return &t.MsgID },
		"version": func(t *Syslog) *string { return &t.Version },
	}))
	for _, which := range []string{"facility", "severity"} {
		code := func(ev *Event, mk bool) *SyslogCode {
			s := syslogOf(ev, mk)
			if s == nil {
				return nil
			}
			if which == "facility" {
				return mkOr(&s.Facility, mk)
			}
			return mkOr(&s.Severity, mk)
		}
		m["log.syslog."+which+".code"] = num(func(ev *Event, mk bool) *int {
			if c := code(ev, mk); c != nil {
				return &c.Code
			}
			return nil
		})
		m["log.syslog."+which+".name"] = str(func(ev *Event, mk bool) *string {
			if c := code(ev, mk); c != nil {
				return &c.Name
			}
			return nil
		})
	}
	return m
}

func syslogOf(ev *Event, mk bool) *Syslog {
	if l := mkOr(&ev.Log, mk); l != nil {
		return mkOr(&l.Syslog, mk)
	}
	return nil
}

// Paths returns every typed ECS path that Set and Get accept, sorted. Paths
// under a namespace ("winlog.<key>", ...) and "labels.<key>" are accepted too.
func Paths() []string {
	out := make([]string, 0, len(fields))
	for k := range fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrUnknownPath is returned (wrapped) by Set for a path that is neither a
// typed ECS field, a label nor a namespace key. The kuzet block cannot be set
// by path: only the collector assigns it.
var ErrUnknownPath = fmt.Errorf("unknown event field")

// Set stores value at the dotted path, converting it to the field's type:
// strings accept strings, numbers and booleans; integers accept numbers and
// decimal strings; string lists accept a string or a list; times accept
// time.Time or an RFC 3339 string. Namespace keys and labels store the value
// as given (labels as text). Setting nil or "" on a typed field clears it.
func (ev *Event) Set(path string, value any) error {
	if f, ok := fields[path]; ok {
		if err := f.set(ev, value); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	ns, key, ok := strings.Cut(path, ".")
	if ok && key != "" {
		if ns == "labels" {
			if ev.Labels == nil {
				ev.Labels = make(map[string]string)
			}
			s, err := toString(value)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			ev.Labels[key] = s
			return nil
		}
		if m := ev.namespace(ns, true); m != nil {
			m[key] = value
			return nil
		}
	}
	return fmt.Errorf("%q: %w", path, ErrUnknownPath)
}

// Get returns the value at the dotted path and whether it is set (non-zero).
// Typed fields come back as string, int64, []string or time.Time.
func (ev *Event) Get(path string) (any, bool) {
	if strings.IndexByte(path, '.') < 0 && !slices.Contains(dotless, path) {
		// Raw field names the pipelines try first: no hash of them.
		return nil, false
	}
	if f, ok := fields[path]; ok {
		return f.get(ev)
	}
	ns, key, ok := strings.Cut(path, ".")
	if !ok {
		return nil, false
	}
	if ns == "labels" {
		v, ok := ev.Labels[key]
		return v, ok
	}
	if m := ev.namespace(ns, false); m != nil {
		v, ok := m[key]
		return v, ok
	}
	return nil, false
}

// GetString returns the value at path as text ("" when unset).
func (ev *Event) GetString(path string) string {
	v, ok := ev.Get(path)
	if !ok {
		return ""
	}
	s, err := toString(v)
	if err != nil {
		return ""
	}
	return s
}

func (f field) get(ev *Event) (any, bool) {
	p := f.ptr(ev, false)
	switch p := p.(type) {
	case *string:
		if p == nil || *p == "" {
			return nil, false
		}
		return *p, true
	case *int:
		if p == nil || *p == 0 {
			return nil, false
		}
		return int64(*p), true
	case *int64:
		if p == nil || *p == 0 {
			return nil, false
		}
		return *p, true
	case *[]string:
		if p == nil || len(*p) == 0 {
			return nil, false
		}
		return *p, true
	case *time.Time:
		if p == nil || p.IsZero() {
			return nil, false
		}
		return *p, true
	case **bool:
		if p == nil || *p == nil {
			return nil, false
		}
		return **p, true
	}
	return nil, false
}

func (f field) set(ev *Event, value any) error {
	switch p := f.ptr(ev, true).(type) {
	case *string:
		s, err := toString(value)
		if err != nil {
			return err
		}
		*p = s
	case *int:
		n, err := toInt(value)
		if err != nil {
			return err
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("%d out of range", n)
		}
		*p = int(n)
	case *int64:
		n, err := toInt(value)
		if err != nil {
			return err
		}
		*p = n
	case *[]string:
		l, err := toStrings(value)
		if err != nil {
			return err
		}
		*p = l
	case *time.Time:
		t, err := toTime(value)
		if err != nil {
			return err
		}
		*p = t
	case **bool:
		if value == nil || value == "" {
			*p = nil
			return nil
		}
		b, err := toBool(value)
		if err != nil {
			return err
		}
		*p = &b
	}
	return nil
}

func toString(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	case fmt.Stringer:
		return v.String(), nil
	}
	return "", fmt.Errorf("cannot use %T as text", v)
}

func toInt(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("%d out of range", v)
		}
		return int64(v), nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, fmt.Errorf("%v is not an integer", v)
		}
		return int64(v), nil
	case json.Number:
		return toInt(string(v))
	case string:
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("cannot use %T as an integer", v)
}

func toStrings(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, err := toString(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := toString(v)
	if err != nil || s == "" {
		return nil, err
	}
	return []string{s}, nil
}

func toTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", v)
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("cannot use %T as a time", v)
}

// ValidPath reports whether Set accepts path: a typed ECS field, a label
// ("labels.<key>") or a namespace key ("winlog.<key>", ...).
func ValidPath(path string) bool {
	if _, ok := fields[path]; ok {
		return true
	}
	ns, key, ok := strings.Cut(path, ".")
	if !ok || key == "" {
		return false
	}
	if ns == "labels" {
		return true
	}
	for _, n := range Namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// Namespace returns a source namespace's map (nil when empty or unknown).
// The map is the event's own: changes to it change the event.
func (ev *Event) Namespace(ns string) map[string]any { return ev.namespace(ns, false) }

// SetNamespace replaces a source namespace's map with m (not copied), and
// reports whether ns is a namespace.
func (ev *Event) SetNamespace(ns string, m map[string]any) bool {
	if ev.namespace(ns, true) == nil {
		return false
	}
	switch ns {
	case "winlog":
		ev.Winlog = m
	case "zeek":
		ev.Zeek = m
	case "suricata":
		ev.Suricata = m
	case "cef":
		ev.CEF = m
	case "leef":
		ev.LEEF = m
	case "auditd":
		ev.Auditd = m
	case "wazuh":
		ev.Wazuh = m
	case "fields":
		ev.Fields = m
	}
	return true
}

// DocNamespace returns the source namespace of a decoded event document:
// the first of Namespaces that holds a non-empty object, or "fields". A
// pipeline writes its source's fields into one namespace, so this names
// where a Sigma field of that source is looked up first, for any pipeline,
// built-in or new, without a table of source types.
func DocNamespace(doc map[string]any) string {
	for _, ns := range Namespaces {
		if m, ok := doc[ns].(map[string]any); ok && len(m) > 0 {
			return ns
		}
	}
	return "fields"
}

// Path is a path resolved once, for code that gets and sets the same
// paths in every event (the pipelines' steps): Get and Set are Event.Get
// and Event.Set without hashing the path again. The zero Path is no path.
type Path struct {
	path string
	f    *field
	// ns and key are a namespace or labels path's parts.
	ns, key string
}

// LookupPath resolves a path, valid or not.
func LookupPath(path string) Path {
	p := Path{path: path}
	if f, ok := fields[path]; ok {
		p.f = &f
		return p
	}
	if ns, key, ok := strings.Cut(path, "."); ok && key != "" {
		p.ns, p.key = ns, key
	}
	return p
}

// Get is ev.Get(p's path).
func (p *Path) Get(ev *Event) (any, bool) {
	if p.f != nil {
		return p.f.get(ev)
	}
	switch {
	case p.ns == "":
		return nil, false
	case p.ns == "labels":
		v, ok := ev.Labels[p.key]
		return v, ok
	}
	if m := ev.namespace(p.ns, false); m != nil {
		v, ok := m[p.key]
		return v, ok
	}
	return nil, false
}

// Set is ev.Set(p's path, value).
func (p *Path) Set(ev *Event, value any) error {
	if p.f != nil {
		if err := p.f.set(ev, value); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		return nil
	}
	return ev.Set(p.path, value)
}

// IsText reports whether p is a typed text field or a label: Text reads
// it without boxing the string in an any.
func (p *Path) IsText() bool { return p.f != nil && p.f.kind == kindString || p.ns == "labels" }

// Text is Get for a text path (IsText) without boxing the string it
// returns: "" and false when unset. For another path it is GetString, and
// whether Get finds a value.
func (p *Path) Text(ev *Event) (string, bool) {
	switch {
	case p.f != nil && p.f.kind == kindString:
		if s, _ := p.f.ptr(ev, false).(*string); s != nil {
			return *s, *s != ""
		}
		return "", false
	case p.ns == "labels":
		s, ok := ev.Labels[p.key]
		return s, ok
	}
	_, ok := p.Get(ev)
	return ev.GetString(p.path), ok
}

// SetText is Set of s for a text path (IsText), without boxing s.
func (p *Path) SetText(ev *Event, s string) error {
	switch {
	case p.f != nil && p.f.kind == kindString:
		*p.f.ptr(ev, true).(*string) = s
		return nil
	case p.ns == "labels":
		if ev.Labels == nil {
			ev.Labels = make(map[string]string)
		}
		ev.Labels[p.key] = s
		return nil
	}
	return p.Set(ev, s)
}
