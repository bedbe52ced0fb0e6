// Package pipeline runs kuzet's declarative normalisation pipelines: one
// YAML file per source type in pipelines/ says which parser reads the
// record and which steps turn its raw fields into the normalised event
// (internal/event). Adding a device type needs a YAML file, not Go code.
//
// # Running
//
// A Set holds the loaded pipelines; NewStream opens a Stream of one of them
// for one source (a connection, a file). Push normalises one record and
// emits its event, or returns an *ingest.Error with a stable reason; a
// stream that joins records (auditd) emits when an event is complete, and on
// Tick or Flush. Set and Stream are pure: no I/O, no goroutines.
//
// # Fields
//
// The parser produces raw fields (syslog.*, cef.* and the CEF extension
// keys, the JSON object's keys, ...). A step names a field: a raw field
// when one has the name (dots also reach into nested JSON objects), else an
// event field (source.ip, ...). Steps write event fields. At the end the raw
// fields are kept under the pipeline's namespace (winlog, zeek, suricata,
// cef, leef, auditd, wazuh, fields): all of them, the unmapped ones, or
// none.
//
// # Time zones
//
// A time the record gives with its zone (an offset, a zone name, an epoch),
// or with the zone the record names in another field (timestamp steps'
// zone_field: CEF dtz, FortiGate tz) or the format fixes (zone), is read
// so. One without (RFC 3164 syslog, CEF rt as text, LEEF devTime, FortiGate
// date and time, NXLog EventTime) keeps its wall clock until the event is
// complete; it is then read in the device's zone (StreamOptions.DeviceZone:
// the registry object's), else in the stream's Location (the input's zone,
// else the collector's). kuzet.time_zone says which zone read @timestamp,
// and event.timezone names an assumed one.
package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/auditd"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
	pipelinefiles "github.com/kuzet-kz/kuzet/pipelines"
)

// Set is a set of pipelines by name. Safe for concurrent use.
type Set struct {
	specs map[string]*Spec
}

// Load parses and validates every *.yaml at the root of fsys.
func Load(fsys fs.FS) (*Set, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	s := &Set{specs: map[string]*Spec{}}
	var errs []error
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		spec, err := parseSpec(path.Join("pipelines", f), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := s.specs[spec.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: pipeline %q is also defined in %s", spec.file, spec.Name, other.file))
			continue
		}
		s.specs[spec.Name] = spec
	}
	for _, spec := range s.specs {
		walkSteps(spec.Steps, func(st *Step) {
			if st.Dispatch != "" && s.specs[st.Dispatch] == nil {
				errs = append(errs, fmt.Errorf("%s: pipeline %q dispatches to unknown pipeline %q", spec.file, spec.Name, st.Dispatch))
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(s.specs) == 0 {
		return nil, errors.New("pipeline: no pipelines found")
	}
	return s, nil
}

func walkSteps(steps []Step, fn func(*Step)) {
	for i := range steps {
		fn(&steps[i])
		walkSteps(steps[i].Steps, fn)
	}
}

var (
	defaultOnce sync.Once
	defaultSet  *Set
	defaultErr  error
)

// Default returns the pipelines shipped in pipelines/ (embedded).
func Default() (*Set, error) {
	defaultOnce.Do(func() { defaultSet, defaultErr = Load(pipelinefiles.FS) })
	return defaultSet, defaultErr
}

// Names lists the pipelines, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.specs))
	for n := range s.specs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Spec returns a pipeline's specification, or nil.
func (s *Set) Spec(name string) *Spec { return s.specs[name] }

// StreamOptions configure a stream.
type StreamOptions struct {
	// Location is the zone of timestamps that carry none; default UTC.
	Location *time.Location
	// ZoneSource says where Location comes from, for kuzet.time_zone:
	// event.ZoneInput (the default) or event.ZoneCollector.
	ZoneSource string
	// DeviceZone, when set, returns the zone of the device an event comes
	// from (its registry object's), or nil when there is none. The times
	// a record gives without a zone (@timestamp, event.start, ...) are
	// then read in it instead of Location; a zone in the record wins over
	// both. It is called once per event that has such a time, after the
	// steps (so with the host and address fields that identify the
	// device), and must be safe for concurrent use when streams are.
	DeviceZone func(ev *event.Event) *time.Location
	// Now is the clock for year-less dates; default time.Now.
	Now func() time.Time
	// MaxRecord is the largest record accepted; default 64 KiB.
	MaxRecord int
	// Explain, when set, is called with each event before it is emitted
	// and the origin of each of its fields: which parser or step set it
	// (kuzet parse --explain). It makes normalising much slower.
	Explain func(ev *event.Event, origins []Origin)
}

// Origin says which part of a pipeline set one field of an event.
type Origin struct {
	// Field is the event field (dotted path; namespace keys verbatim).
	Field string
	// Value is its final value as JSON.
	Value string
	// By names the parser or step ("parser cef", "pipelines/cef.yaml:8
	// steps[0] map", "default", "keep: all").
	By string
}

// Stream normalises the records of one source. Not safe for concurrent use.
type Stream struct {
	set    *Set
	spec   *Spec
	opts   StreamOptions
	joiner *auditd.Joiner
	// joined keeps the record of each pending auditd event's first line.
	first ingest.Record
	// rawHint is process's hint.
	rawHint int
}

// maxRawHint bounds the size a map of raw fields is made at.
const maxRawHint = 256

// NewStream opens a stream of the named pipeline.
func (s *Set) NewStream(name string, opts StreamOptions) (*Stream, error) {
	spec := s.specs[name]
	if spec == nil {
		return nil, fmt.Errorf("pipeline: unknown pipeline %q (have %s)", name, strings.Join(s.Names(), ", "))
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.ZoneSource == "" {
		opts.ZoneSource = event.ZoneInput
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = ingest.DefaultMaxRecord
	}
	st := &Stream{set: s, spec: spec, opts: opts}
	if spec.Parser == "auditd" {
		st.joiner = &auditd.Joiner{}
		if d, err := time.ParseDuration(spec.Options.Linger); err == nil {
			st.joiner.Linger = d
		}
	}
	return st, nil
}

// processHook, for tests, runs before each record is processed.
var processHook func(ingest.Record)

// recoverPanic turns a panic (a bug in a parser or step that some record
// reaches) into a rejection of that record, so that one record cannot stop
// an input. The collector counts and quarantines it like any rejection.
func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = ingest.Errorf(ingest.ReasonPanic, "internal error normalising the record: %v", r)
	}
}

// errDispatch hands a record to another pipeline.
type errDispatch struct{ to string }

func (e errDispatch) Error() string { return "dispatch to " + e.to }

// Push normalises one record and calls emit for each complete event. A
// rejected record returns an *ingest.Error (reason "dropped" when a drop
// step matched); emit's error is returned as it is.
func (st *Stream) Push(rec ingest.Record, emit func(*event.Event) error) (err error) {
	defer recoverPanic(&err)
	if len(rec.Data) == 0 {
		return ingest.Errorf(ingest.ReasonEmpty, "empty record")
	}
	if len(rec.Data) > st.opts.MaxRecord {
		return ingest.Errorf(ingest.ReasonOversize, "record of %d bytes over the limit of %d", len(rec.Data), st.opts.MaxRecord)
	}
	if st.joiner != nil {
		return st.pushAuditd(rec, emit)
	}
	spec := st.spec
	for depth := 0; ; depth++ {
		ev, err := st.set.process(spec, rec, &st.opts, &st.rawHint, nil)
		if err != nil {
			// d escapes (errors.As): declared here, it is allocated
			// only for a record that a step dispatched or rejected.
			var d errDispatch
			if !errors.As(err, &d) {
				return err
			}
			if depth >= 3 {
				return ingest.Errorf(ingest.ReasonPipeline, "dispatch loop at pipeline %q", d.to)
			}
			spec = st.set.specs[d.to]
			continue
		}
		return emit(ev)
	}
}

// Joining reports whether the stream joins several records into one event
// (auditd), holding records until the event is complete.
func (st *Stream) Joining() bool { return st.joiner != nil }

// Tick emits events a joining pipeline has held for its linger time.
func (st *Stream) Tick(now time.Time, emit func(*event.Event) error) (err error) {
	defer recoverPanic(&err)
	if st.joiner == nil {
		return nil
	}
	return st.emitAuditd(st.joiner.Expire(now), emit)
}

// Flush emits every event held back.
func (st *Stream) Flush(emit func(*event.Event) error) (err error) {
	defer recoverPanic(&err)
	if st.joiner == nil {
		return nil
	}
	return st.emitAuditd(st.joiner.Flush(), emit)
}

func (st *Stream) pushAuditd(rec ingest.Record, emit func(*event.Event) error) error {
	// Invalid UTF-8 is replaced in the parsed fields; the joined event
	// keeps the lines as received (see parseAuditd).
	text, _ := textOf(rec.Data)
	r, err := auditd.ParseRecord(text)
	if err != nil {
		return err
	}
	done := st.joiner.Add(r, string(rec.Data), rec.ReceivedAt)
	done = append(done, st.joiner.Expire(rec.ReceivedAt)...)
	if len(done) > 0 || st.first.ReceivedAt.IsZero() {
		st.first = rec
	}
	return st.emitAuditd(done, emit)
}

func (st *Stream) emitAuditd(done []auditd.Event, emit func(*event.Event) error) error {
	var errs []error
	for i := range done {
		ev, err := st.set.process(st.spec, st.first, &st.opts, &st.rawHint, &done[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := emit(ev); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// state is one record's fields while its pipeline runs.
type state struct {
	ev   *event.Event
	raw  map[string]any
	orig map[string]any
	// mapped lists the raw fields steps consumed, when the pipeline keeps
	// the unmapped ones (trackMapped).
	mapped      []mappedField
	trackMapped bool
	opts        *StreamOptions
	// local holds the wall clock (in UTC fields) of each time field read
	// from a time without a zone; the zone it is read in is decided when
	// the event is complete (resolveZone). The field holds it read in
	// opts.Location meanwhile. A record has a few such fields at most.
	local []localTime
	// explain records the origin of fields (kuzet parse --explain).
	explain *explainer
	// rawHint is the size to make the map of raw fields at (process).
	rawHint int
	// intText caches the text of the last integer st.text formatted:
	// conditions and lookups test one (EventID) many times.
	intVal  int64
	intText string
	// head is the last head of a dotted name getRef looked up, and
	// headObj its object (nil for none), while headOK: the names steps
	// read come in runs with one head (alert.*, tls.*). Raw field
	// changes drop it.
	head    string
	headObj map[string]any
	headOK  bool
}

// mappedField is a raw field a step consumed; gone says a rename has
// deleted it since the last step that wrote raw fields (kv, regex, json),
// so keep need not delete it again.
type mappedField struct {
	key  string
	gone bool
}

// markMapped notes that a step consumed raw field k; gone says the step
// deleted it.
func (st *state) markMapped(k string, gone bool) {
	if !st.trackMapped {
		return
	}
	for i := range st.mapped {
		if st.mapped[i].key == k {
			st.mapped[i].gone = st.mapped[i].gone || gone
			return
		}
	}
	st.mapped = append(st.mapped, mappedField{k, gone})
}

// rawWritten notes that a step wrote raw fields: a consumed field a rename
// deleted may be back.
func (st *state) rawWritten() {
	for i := range st.mapped {
		st.mapped[i].gone = false
	}
	st.headOK = false
}

// rawDeleted notes that a step deleted raw fields.
func (st *state) rawDeleted() { st.headOK = false }

// headObject returns raw field head's object, nil when it is none.
func (st *state) headObject(head string) map[string]any {
	if st.headOK && st.head == head {
		return st.headObj
	}
	m, _ := st.raw[head].(map[string]any)
	st.head, st.headObj, st.headOK = head, m, true
	return m
}

// text is text(v), formatting an integer once for all the steps that
// test it.
func (st *state) text(v any) string {
	n, ok := v.(int64)
	if !ok {
		return text(v)
	}
	if st.intText == "" || st.intVal != n {
		st.intVal, st.intText = n, strconv.FormatInt(n, 10)
	}
	return st.intText
}

// localTime is the wall clock of a time field read without a zone.
type localTime struct {
	target string
	wall   time.Time
}

// get returns a raw field (also "a.b" into nested objects), else an event
// field.
func (st *state) get(name string) (any, bool) {
	if v, ok := st.raw[name]; ok {
		return v, v != nil && v != ""
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if _, ok := st.raw[name[:i]].(map[string]any); ok {
			if v, ok := nested(st.raw, name); ok {
				return v, v != nil && v != ""
			}
		}
	}
	return st.ev.Get(name)
}

// nested resolves "a.b.c" in nested objects, also through keys with dots.
func nested(raw map[string]any, name string) (any, bool) {
	m := raw
	rest := name
	for {
		p, tail, more := strings.Cut(rest, ".")
		v, ok := m[p]
		if !ok {
			// A key with dots inside a nested object ("id.orig_h").
			v, ok := m[rest]
			return v, ok
		}
		if !more {
			return v, true
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
		rest = tail
	}
}

// textOf returns the record as text and whether it was valid UTF-8;
// invalid bytes are replaced by U+FFFD (the kuzet-wide policy: the caller
// keeps the exact bytes in kuzet.original_b64).
func textOf(data []byte) (string, bool) {
	if isValidUTF8(data) {
		return string(data), true
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), false
}

// process runs spec's parser and steps on one record (or a joined auditd
// event).
// NewEvent returns the event a record of the source type starts as, before
// any parsing: received_at, source type, input, an unknown asset, and the
// sender's address or the file path of the record. Pipelines fill it in;
// the collector's quarantine keeps rejected records in it.
func NewEvent(rec ingest.Record, sourceType string) *event.Event {
	ev := &event.Event{}
	ev.Kuzet.ReceivedAt = rec.ReceivedAt.UTC()
	ev.Kuzet.SourceType = sourceType
	ev.Kuzet.Input = rec.Input
	ev.Kuzet.Asset = event.AssetUnknown
	if rec.Peer != "" {
		ev.Log = &event.Log{Source: &event.LogSource{Address: rec.Peer}}
	}
	if rec.File != "" {
		if ev.Log == nil {
			ev.Log = &event.Log{}
		}
		ev.Log.File = &event.LogFile{Path: rec.File}
	}
	return ev
}

// hint is the number of raw fields of the stream's last record: a text
// format's map of raw fields is made at that size.
func (s *Set) process(spec *Spec, rec ingest.Record, opts *StreamOptions, hint *int, joined *auditd.Event) (*event.Event, error) {
	if processHook != nil {
		processHook(rec)
	}
	ev := NewEvent(rec, spec.Name)
	st := &state{ev: ev, opts: opts, rawHint: *hint}
	if opts.Explain != nil {
		st.explain = &explainer{by: map[string]string{}}
		st.explain.note(ev, "collector (record)")
	}
	if spec.Keep == "unmapped" {
		st.trackMapped = true
		st.mapped = make([]mappedField, 0, 16)
	}
	if err := parse(spec, rec, st, joined); err != nil {
		return nil, err
	}
	if st.explain != nil {
		by := "parser " + spec.Parser
		if spec.From != "" {
			by = "parser " + spec.From + " then " + spec.Parser
		}
		st.explain.note(ev, by+" ("+spec.file+")")
	}
	if spec.Keep == "all" && spec.mutates {
		st.orig = make(map[string]any, len(st.raw))
		for k, v := range st.raw {
			st.orig[k] = v
		}
	}
	if err := st.run(spec.Steps); err != nil {
		return nil, err
	}
	*hint = min(len(st.raw), maxRawHint)
	st.keep(spec)
	if st.explain != nil {
		st.explain.note(ev, "keep: "+spec.Keep+" (raw fields under "+spec.Namespace+")")
	}
	zone, zoneSource := st.resolveZone()
	if st.explain != nil && zoneSource != "" {
		st.explain.note(ev, zoneLabel(zone, zoneSource))
	}
	if ev.Timestamp.IsZero() || !plausible(ev.Timestamp) {
		// No time, or one no event can have (a device's epoch in the
		// wrong unit): the receive time; the source's stays in the raw
		// fields and event.original. The event says so: never a silent
		// "now".
		ev.Timestamp = ev.Kuzet.ReceivedAt
		ev.Kuzet.TimeSource = event.TimeReceived
	} else {
		ev.Kuzet.TimeSource = event.TimeEvent
	}
	ev.Timestamp = ev.Timestamp.UTC()
	if st.explain != nil {
		if ev.Kuzet.TimeSource == event.TimeReceived {
			st.explain.note(ev, "default: no time read, @timestamp is the receive time")
		} else {
			st.explain.note(ev, "time source: the record's own time")
		}
	}
	if ev.Kuzet.TimeSource == event.TimeEvent {
		// Which zone read @timestamp: the record's, or the one assumed
		// for a time without one (named in event.timezone, as ECS asks).
		ev.Kuzet.TimeZone = event.ZoneRecord
		if zoneSource != "" {
			ev.Kuzet.TimeZone = zoneSource
			ev.Event.Timezone = zone.String()
		}
		if st.explain != nil {
			st.explain.note(ev, zoneLabel(zone, ev.Kuzet.TimeZone))
		}
	}
	if ev.Event.Kind == "" {
		ev.Event.Kind = "event"
	}
	if st.explain != nil {
		st.explain.note(ev, "default")
		opts.Explain(ev, st.explain.origins(ev))
	}
	return ev, nil
}

// keep copies the raw fields to the namespace: the map itself when the
// namespace is still empty (the common case: no copy, no path lookups).
func (st *state) keep(spec *Spec) {
	if spec.Keep == "none" {
		return
	}
	src := st.raw
	if spec.Keep == "all" && st.orig != nil {
		src = st.orig
	}
	if spec.Keep == "unmapped" {
		// The raw fields are the record's own and not read after this.
		for _, f := range st.mapped {
			if !f.gone {
				delete(src, f.key)
			}
		}
	}
	// Empty and null values are kept: rules test for them.
	if len(st.ev.Namespace(spec.Namespace)) == 0 {
		if len(src) > 0 {
			st.ev.SetNamespace(spec.Namespace, src)
		}
		return
	}
	for k, v := range src {
		_ = st.ev.Set(spec.Namespace+"."+k, jsonable(v))
	}
}

// jsonable turns decoder numbers into plain numbers.
func jsonable(v any) any {
	switch x := v.(type) {
	case json.Number:
		return jsonl.Number(x)
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
	case []any:
		for i := range x {
			x[i] = jsonable(x[i])
		}
	}
	return v
}

// text returns a value as text ("" for nil).
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		return strings.Join(x, ",")
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// texts returns a value as texts: each item of a list.
func texts(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, text(e))
		}
		return out
	}
	return []string{text(v)}
}

// ipPaths are event fields that must hold an IP address.
var ipPaths = map[string]bool{"source.ip": true, "destination.ip": true, "observer.ip": true, "host.ip": true,
	"client.ip": true, "server.ip": true, "dns.resolved_ip": true}

// listPaths are event fields that hold a list; a list for any other field
// gives its first item (Zeek's rx_hosts, conn_uids).
var listPaths = map[string]bool{"host.ip": true, "event.category": true, "event.type": true, "tags": true,
	"dns.answers": true, "dns.header_flags": true, "dns.resolved_ip": true}

// setField stores a value in an event field. A value that does not fit the
// field (a host name in source.ip, "abc" or 100000 in a port, an outcome
// ECS does not define) is skipped: the raw field stays, kept under the
// namespace.
func (st *state) setField(path string, v any) bool {
	t := writeTarget{path: path, ip: ipPaths[path]}
	if _, ok := v.([]any); ok {
		t.list = listPaths[path]
	}
	switch path {
	case "source.port", "destination.port", "client.port", "server.port":
		t.port = true
	case "event.outcome":
		t.outcome = true
	}
	return st.setTarget(&t, v)
}

// writeTarget is an event field a step writes, resolved at load (newTarget) or
// for one call (setField).
type writeTarget struct {
	path                    string
	ip, list, port, outcome bool
	// ev is the resolved path, nil in setField's.
	ev *event.Path
}

func newTarget(path string) *writeTarget {
	t := &writeTarget{path: path, ip: ipPaths[path], list: listPaths[path]}
	switch path {
	case "source.port", "destination.port", "client.port", "server.port":
		t.port = true
	case "event.outcome":
		t.outcome = true
	}
	p := event.LookupPath(path)
	t.ev = &p
	return t
}

func (st *state) setTarget(t *writeTarget, v any) bool {
	if v == nil || v == "" {
		return false
	}
	if l, ok := v.([]any); ok && !t.list {
		if len(l) == 0 {
			return false
		}
		v = l[0]
	}
	if t.ip {
		if s, ok := v.(string); ok {
			if a, err := netip.ParseAddr(s); err != nil || !a.IsValid() {
				return false
			}
		} else {
			for _, s := range texts(v) {
				if a, err := netip.ParseAddr(s); err != nil || !a.IsValid() {
					return false
				}
			}
		}
	}
	switch {
	case t.port:
		if n, ok := v.(int64); ok {
			if n < 0 || n > 65535 {
				return false
			}
		} else if n, err := strconv.Atoi(strings.TrimSpace(text(v))); err != nil || n < 0 || n > 65535 {
			return false
		}
	case t.outcome:
		if o := text(v); o != "success" && o != "failure" && o != "unknown" {
			return false
		}
	}
	if n, ok := v.(json.Number); ok {
		v = jsonable(n)
	}
	if t.ev != nil {
		return t.ev.Set(st.ev, v) == nil
	}
	return st.ev.Set(t.path, v) == nil
}

// fieldRef is a field a step reads (state.get), resolved at load.
type fieldRef struct {
	name string
	// head is the name up to its first dot, "" without one; tail the
	// rest after the dot.
	head, tail string
	ev         event.Path
}

func newFieldRef(name string) *fieldRef {
	r := &fieldRef{name: name, ev: event.LookupPath(name)}
	if i := strings.IndexByte(name, '.'); i > 0 {
		r.head, r.tail = name[:i], name[i+1:]
	}
	return r
}

// getRef is get(r.name).
func (st *state) getRef(r *fieldRef) (any, bool) {
	if v, ok := st.raw[r.name]; ok {
		return v, v != nil && v != ""
	}
	if r.head != "" {
		// nested(st.raw, r.name), from the head's object on.
		if m := st.headObject(r.head); m != nil {
			if v, ok := nested(m, r.tail); ok {
				return v, v != nil && v != ""
			}
		}
	}
	return r.ev.Get(st.ev)
}

// getRefText is getRef for a caller that wants text: the value of a
// typed text event field or a label comes back as s, without boxing it,
// and v nil; any other value as getRef returns it, and s "".
func (st *state) getRefText(r *fieldRef) (v any, s string, ok bool) {
	if v, ok := st.raw[r.name]; ok {
		return v, "", v != nil && v != ""
	}
	if r.head != "" {
		if m := st.headObject(r.head); m != nil {
			if v, ok := nested(m, r.tail); ok {
				return v, "", v != nil && v != ""
			}
		}
	}
	if !r.ev.IsText() {
		v, ok = r.ev.Get(st.ev)
		return v, "", ok
	}
	s, ok = r.ev.Text(st.ev)
	return nil, s, ok
}
