package pipeline

import (
	"encoding/base64"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
	"github.com/kuzet-kz/kuzet/internal/ingest/leef"
)

func isValidUTF8(b []byte) bool { return utf8.Valid(b) }

var zones sync.Map // name -> *time.Location

func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

var regexCache sync.Map // pattern -> *fastRegexp

func compiled(p string) *fastRegexp {
	if r, ok := regexCache.Load(p); ok {
		return r.(*fastRegexp)
	}
	r, err := newFastRegexp(p)
	if err != nil {
		panic(err) // validated at load
	}
	regexCache.Store(p, r)
	return r
}

// run executes steps in order.
func (st *state) run(steps []Step) error {
	for i := range steps {
		s := &steps[i]
		if s.If != nil && !s.If.eval(st) {
			continue
		}
		if err := st.step(s); err != nil {
			return err
		}
		if st.explain != nil && s.Steps == nil {
			st.explain.note(st.ev, s.label)
		}
	}
	return nil
}

func (st *state) step(s *Step) error {
	switch {
	case s.Map != nil, s.Rename != nil:
		pairs, rename := s.Map, false
		if s.Rename != nil {
			pairs, rename = s.Rename, true
		}
		for i := range pairs {
			kv := &pairs[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			if st.write(kv.to, kv.Value, v) {
				st.markMapped(kv.Key, rename)
				if rename {
					delete(st.raw, kv.Key)
					st.rawDeleted()
				}
			}
		}
	case s.Set != nil:
		for i := range s.Set {
			kv := &s.Set[i]
			v := kv.Value
			if str, ok := v.(string); ok && strings.Contains(str, "{{") {
				st.writeText(kv.to, kv.Key, st.expand(str))
				continue
			}
			st.write(kv.to, kv.Key, v)
		}
	case s.Remove != nil:
		for _, k := range s.Remove {
			delete(st.raw, k)
		}
		st.rawDeleted()
	case s.Tag != nil:
		for _, t := range s.Tag {
			if !contains(st.ev.Tags, t) {
				st.ev.Tags = append(st.ev.Tags, t)
			}
		}
	case s.Lowercase != nil, s.Uppercase != nil, s.Trim != nil:
		fields, fn := s.Lowercase, strings.ToLower
		if s.Uppercase != nil {
			fields, fn = s.Uppercase, strings.ToUpper
		}
		if s.Trim != nil {
			fields, fn = s.Trim, strings.TrimSpace
		}
		for i, f := range fields {
			if len(s.paths) == len(fields) {
				p := &s.paths[i]
				if v := getString(p, st.ev, f); v != "" {
					if w := fn(v); !p.IsText() {
						_ = p.Set(st.ev, w)
					} else if w != v {
						// A text field holds v as a string: nothing
						// to do when w is v.
						_ = p.SetText(st.ev, w)
					}
				}
				continue
			}
			if v := st.ev.GetString(f); v != "" {
				_ = st.ev.Set(f, fn(v))
			}
		}
	case s.Timestamp != nil:
		return st.timestamp(s.Timestamp)
	case s.KV != nil:
		v, ok := st.read(s.KV.ref, s.KV.Field)
		if !ok {
			return nil
		}
		o := kv.Options{Separator: s.KV.Separator, Delimiter: s.KV.Delimiter}
		if s.KV.Quote != "" {
			o.Quote = rune(s.KV.Quote[0])
		}
		pairs, _, err := kv.Split(text(v), o)
		if err != nil {
			return err
		}
		for _, p := range pairs {
			st.raw[s.KV.Prefix+p.Key] = p.Value
		}
		st.rawWritten()
	case s.Regex != nil:
		v, ok := st.read(s.Regex.ref, s.Regex.Field)
		re := compiled(s.Regex.Pattern)
		var m []string
		var buf [4]string
		if ok {
			m = re.submatch(text(v), buf[:0])
		}
		if m == nil {
			if s.Regex.Required {
				return ingest.Errorf(ingest.ReasonSyntax, "%s does not match %s", s.Regex.Field, s.Regex.Pattern)
			}
			return nil
		}
		for i, name := range re.re.SubexpNames() {
			if name != "" && m[i] != "" {
				st.raw[s.Regex.Prefix+name] = m[i]
			}
		}
		st.rawWritten()
	case s.JSON != nil:
		v, ok := st.read(s.JSON.ref, s.JSON.Field)
		if !ok {
			return nil
		}
		obj, err := decodeObject([]byte(text(v)))
		if err != nil {
			return err
		}
		for k, e := range obj {
			st.raw[s.JSON.Prefix+k] = e
		}
		st.rawWritten()
	case s.Dirname != nil, s.Extension != nil:
		pairs, dir := s.Dirname, true
		if s.Extension != nil {
			pairs, dir = s.Extension, false
		}
		for i := range pairs {
			kv := &pairs[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			p := text(v)
			i := strings.LastIndexAny(p, `\/`)
			if dir {
				if i > 0 {
					st.writeText(kv.to, kv.Value, p[:i])
				}
				continue
			}
			if j := strings.LastIndexByte(p[i+1:], '.'); j >= 0 && j+1 < len(p[i+1:]) {
				st.writeText(kv.to, kv.Value, p[i+1:][j+1:])
			}
		}
	case s.Basename != nil:
		for i := range s.Basename {
			kv := &s.Basename[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			p := text(v)
			st.writeText(kv.to, kv.Value, p[strings.LastIndexAny(p, `\/`)+1:])
		}
	case s.Duration != nil:
		for i := range s.Duration {
			kv := &s.Duration[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(text(v), 64)
			if err != nil || f < 0 || f > math.MaxInt64/1e9 {
				continue
			}
			if st.write(kv.to, kv.Value, int64(math.Round(f*1e9))) {
				st.markMapped(kv.Key, false)
			}
		}
	case s.Append != nil:
		for i := range s.Append {
			kv := &s.Append[i]
			var cur any
			if kv.to != nil {
				cur, _ = kv.to.ev.Get(st.ev)
			} else {
				cur, _ = st.ev.Get(kv.Key)
			}
			l, _ := cur.([]string)
			for _, add := range texts(kv.Value) {
				if !contains(l, add) {
					l = append(l, add)
				}
			}
			st.write(kv.to, kv.Key, l)
		}
	case s.Sum != nil:
		for i := range s.Sum {
			kv := &s.Sum[i]
			var sum int64
			n := 0
			for j, f := range kv.Value.([]any) {
				var r *fieldRef
				if j < len(kv.refs) {
					r = kv.refs[j]
				}
				v, ok := st.read(r, text(f))
				if !ok {
					continue
				}
				x, err := strconv.ParseInt(text(v), 10, 64)
				if err != nil {
					continue
				}
				sum += x
				n++
			}
			if n > 0 {
				st.write(kv.to, kv.Key, sum)
			}
		}
	case s.IPs != nil:
		for i := range s.IPs {
			kv := &s.IPs[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			var ips []string
			for _, t := range texts(v) {
				if _, err := netip.ParseAddr(t); err == nil {
					ips = append(ips, t)
				}
			}
			if len(ips) > 0 {
				st.write(kv.to, kv.Value, ips)
			}
		}
	case s.DN != nil:
		for i := range s.DN {
			kv := &s.DN[i]
			v, ok := st.read(kv.from, kv.Key)
			if !ok {
				continue
			}
			for _, a := range splitDN(text(v)) {
				if f, ok := dnFields[strings.ToUpper(a[0])]; ok {
					if cur := st.ev.GetString(kv.Value.(string) + "." + f); cur == "" {
						st.setField(kv.Value.(string)+"."+f, a[1])
					}
				}
			}
		}
	case s.Pluck != nil:
		for i := range s.Pluck {
			kv := &s.Pluck[i]
			list, key, _ := strings.Cut(kv.Key, "[].")
			v, ok := st.read(kv.from, list)
			l, isList := v.([]any)
			if !ok || !isList {
				continue
			}
			var out []string
			for _, e := range l {
				if m, ok := e.(map[string]any); ok {
					if x, ok := m[key]; ok && x != nil && x != "" {
						out = append(out, text(x))
					}
				}
			}
			if len(out) > 0 {
				if listPaths[kv.Value.(string)] {
					st.write(kv.to, kv.Value, out)
				} else {
					st.write(kv.to, kv.Value, out[0])
				}
			}
		}
	case s.Hex != nil:
		for i, f := range s.Hex {
			var p event.Path
			if len(s.paths) == len(s.Hex) {
				p = s.paths[i]
			} else {
				p = event.LookupPath(f)
			}
			if v := getString(&p, st.ev, f); v != "" {
				_ = p.Set(st.ev, strings.ToUpper(hexSeparators.Replace(v)))
			}
		}
	case s.Lookup != nil:
		lk := s.Lookup
		var v any
		key := ""
		if lk.ref != nil {
			// A text event field's value comes back in key, not boxed.
			v, key, _ = st.getRefText(lk.ref)
		} else {
			v, _ = st.get(lk.Field)
		}
		if v != nil {
			key = st.text(v)
		}
		if lk.values != nil {
			val, ok := lk.values[key]
			if !ok {
				val = lk.def
			}
			if out := val.(string); lk.to.list && out != "" {
				// A list field takes a comma-separated value as its items.
				st.write(lk.to, lk.Target, strings.Split(out, ","))
				break
			}
			st.write(lk.to, lk.Target, val)
			break
		}
		out, ok := lk.Table[key]
		if !ok {
			out = lk.Default
		}
		if listPaths[lk.Target] && out != "" {
			// A list field takes a comma-separated value as its items.
			st.write(lk.to, lk.Target, strings.Split(out, ","))
			break
		}
		st.write(lk.to, lk.Target, out)
	case s.Drop:
		return ingest.Errorf(ingest.ReasonDropped, "dropped by a drop step")
	case s.Reject != "":
		return ingest.Errorf(ingest.ReasonBadField, "%s", s.Reject)
	case s.Dispatch != "":
		return errDispatch{to: s.Dispatch}
	case s.Steps != nil:
		return st.run(s.Steps)
	}
	return nil
}

// hexSeparators are the separators a hex step removes.
var hexSeparators = strings.NewReplacer(":", "", " ", "", "-", "")

// getString is ev.GetString(path) for p, path resolved.
func getString(p *event.Path, ev *event.Event, path string) string {
	if p.IsText() {
		s, _ := p.Text(ev)
		return s
	}
	v, ok := p.Get(ev)
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ev.GetString(path)
}

// read is getRef(r), or get(name) for a field not resolved at load.
func (st *state) read(r *fieldRef, name string) (any, bool) {
	if r != nil {
		return st.getRef(r)
	}
	return st.get(name)
}

// write is setTarget(t, v), or setField of path (a string) for a target
// not resolved at load.
func (st *state) write(t *writeTarget, path any, v any) bool {
	if t != nil {
		return st.setTarget(t, v)
	}
	p, _ := path.(string)
	return st.setField(p, v)
}

// writeText is write of a string, without boxing it for a text field
// that takes any string (not an address, a port or an outcome).
func (st *state) writeText(t *writeTarget, path any, s string) bool {
	if t == nil || t.ev == nil || !t.ev.IsText() || t.ip || t.port || t.outcome {
		return st.write(t, path, s)
	}
	if s == "" {
		return false
	}
	return t.ev.SetText(st.ev, s) == nil
}

// dnFields maps DN attribute types to ECS x509 name fields.
var dnFields = map[string]string{"CN": "common_name", "C": "country", "O": "organization", "OU": "organizational_unit",
	"L": "locality", "ST": "state_or_province"}

// splitDN splits "CN=a\, b,O=c, C=d" into its type=value pairs, unescaping
// backslash escapes; a pair without "=" is skipped.
func splitDN(s string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	flush := func() {
		t, v, ok := strings.Cut(cur.String(), "=")
		if t = strings.TrimSpace(t); ok && t != "" {
			out = append(out, [2]string{t, strings.TrimSpace(v)})
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ',' || c == '+':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// expand replaces {{field}} with the field's text.
func (st *state) expand(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		v, _ := st.get(strings.TrimSpace(s[i+2 : i+j]))
		b.WriteString(text(v))
		s = s[i+j+2:]
	}
}

// plausible reports whether a parsed time can be an event's time (the
// years the event schema accepts); another is skipped, and the event keeps
// its receive time.
func plausible(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1970 && y <= 9999
}

func (st *state) timestamp(ts *TimestampStep) error {
	var buf [4]string
	parts := buf[:0]
	if ts.Field != "" {
		v, ok := st.read(ts.ref, ts.Field)
		if !ok {
			return nil
		}
		if t, ok := v.(time.Time); ok {
			if plausible(t) {
				st.setTime(ts.Target, t)
			}
			return nil
		}
		parts = append(parts, text(v))
	}
	for i, f := range ts.Fields {
		var r *fieldRef
		if i < len(ts.refs) {
			r = ts.refs[i]
		}
		v, ok := st.read(r, f)
		if !ok {
			return nil
		}
		parts = append(parts, text(v))
	}
	raw := ""
	if len(parts) == 1 {
		raw = parts[0]
	} else {
		raw = strings.Join(parts, " ")
	}
	// The record's zone (its zone field) or the format's (zone) read a
	// time without one; else the zone is decided when the event is
	// complete (resolveZone).
	loc, zoned := st.opts.Location, false
	if ts.Zone != "" {
		if loc = ts.loc; loc == nil {
			loc, _ = loadZone(ts.Zone)
		}
		zoned = true
	}
	if ts.ZoneField != "" {
		if v, ok := st.read(ts.zoneRef, ts.ZoneField); ok {
			if l, ok := zoneOf(text(v)); ok {
				loc, zoned = l, true
			}
		}
	}
	for _, f := range ts.Formats {
		t, local, ok := parseTime(raw, f, loc)
		if !ok {
			continue
		}
		switch {
		case !local:
			if plausible(t) {
				st.setTime(ts.Target, t)
			}
		case zoned:
			if t := inZone(t, loc); plausible(t) {
				st.setTime(ts.Target, t)
			}
		default:
			if plausible(t) {
				st.setLocalTime(ts.Target, t)
			}
		}
		return nil
	}
	// An unparseable time is not a reason to lose the event: it keeps the
	// receive time, and the raw value stays under the namespace.
	return nil
}

// inZone returns the time whose wall clock in loc is wall's in UTC. Go
// normalises a wall clock that loc skips (a DST gap) forward.
func inZone(wall time.Time, loc *time.Location) time.Time {
	y, mo, d := wall.Date()
	h, mi, sec := wall.Clock()
	return time.Date(y, mo, d, h, mi, sec, wall.Nanosecond(), loc)
}

// wallClock returns t's wall clock in its own location as UTC fields.
func wallClock(t time.Time) time.Time { return inZone(t, time.UTC) }

// setLocalTime stores a time read without a zone, given as its wall clock
// in UTC fields: the field holds it in the stream's zone until
// resolveZone picks the zone the event's device is in.
func (st *state) setLocalTime(target string, wall time.Time) {
	st.setTime(target, inZone(wall, st.opts.Location))
	st.local = append(st.local, localTime{target, wall})
}

// resolveZone reads the times the record gave without a zone in the
// device's zone (DeviceZone) when it has one, else in the stream's, and
// returns that zone and, when @timestamp was one of them, where the zone
// came from (event.ZoneDevice or the stream's ZoneSource; "" otherwise).
func (st *state) resolveZone() (*time.Location, string) {
	if len(st.local) == 0 {
		return nil, ""
	}
	loc, source := st.opts.Location, st.opts.ZoneSource
	if st.opts.DeviceZone != nil {
		if l := st.opts.DeviceZone(st.ev); l != nil {
			loc, source = l, event.ZoneDevice
		}
	}
	if loc != st.opts.Location {
		for _, l := range st.local {
			if t := inZone(l.wall, loc); plausible(t) {
				st.storeTime(l.target, t)
			}
		}
	}
	for _, l := range st.local {
		if l.target == "@timestamp" {
			return loc, source
		}
	}
	return loc, ""
}

// zoneLabel is kuzet parse --explain's note for the zone that read
// @timestamp.
func zoneLabel(loc *time.Location, source string) string {
	switch source {
	case event.ZoneDevice:
		return "time zone: none in the record, so the device's: " + loc.String() + " (registry object)"
	case event.ZoneInput:
		return "time zone: none in the record, so the input's: " + loc.String()
	case event.ZoneCollector:
		return "time zone: none in the record, so the collector's default: " + loc.String()
	}
	return "time zone: the record's own"
}

// zoneOf reads a zone: an IANA name, UTC/Z, or an offset (+0500, -07:00,
// +05).
func zoneOf(s string) (*time.Location, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, false
	}
	if c := s[0]; c == '+' || c == '-' {
		d := strings.ReplaceAll(s[1:], ":", "")
		if len(d) == 2 {
			d += "00"
		}
		if len(d) != 4 {
			return nil, false
		}
		h, err1 := strconv.Atoi(d[:2])
		m, err2 := strconv.Atoi(d[2:])
		if err1 != nil || err2 != nil || h > 14 || m > 59 {
			return nil, false
		}
		off := h*3600 + m*60
		if c == '-' {
			off = -off
		}
		return time.FixedZone(s, off), true
	}
	if s == "Z" {
		return time.UTC, true
	}
	l, err := loadZone(s)
	return l, err == nil
}

// setTime stores a parsed time; the TLS certificate times are text
// fields. A time stored here is no longer one read without a zone.
func (st *state) setTime(target string, t time.Time) {
	st.local = slices.DeleteFunc(st.local, func(l localTime) bool { return l.target == target })
	st.storeTime(target, t)
}

func (st *state) storeTime(target string, t time.Time) {
	if target == "@timestamp" {
		st.ev.Timestamp = t
		return
	}
	if strings.HasPrefix(target, "tls.") {
		_ = st.ev.Set(target, t.UTC().Format(time.RFC3339Nano))
		return
	}
	_ = st.ev.Set(target, t)
}

// setParsedTime stores a parser's time; local says it had no zone (and is
// in the stream's zone).
func (st *state) setParsedTime(target string, t time.Time, local bool) {
	if local {
		st.setLocalTime(target, wallClock(t))
		return
	}
	st.setTime(target, t)
}

// parseTime parses s in format. A time with a zone, or an epoch, comes back
// as it is (loc resolves zone abbreviations); one without a zone comes
// back as its wall clock in UTC fields, with local set.
func parseTime(s, format string, loc *time.Location) (t time.Time, local, ok bool) {
	switch format {
	case "rfc3339":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil {
			return t, false, true
		}
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
		return t, true, err == nil
	case "unix_auto":
		// Seconds, milliseconds, microseconds or nanoseconds by the number
		// of digits of the whole part (FortiOS versions differ).
		whole, _, _ := strings.Cut(s, ".")
		switch n := len(whole); {
		case n >= 8 && n <= 11:
			t, ok = parseEpoch(s, 9)
		case n >= 12 && n <= 14:
			t, ok = parseEpoch(s, 6)
		case n >= 15 && n <= 17:
			t, ok = parseEpoch(s, 3)
		case n >= 18 && n <= 19:
			t, ok = parseEpoch(s, 0)
		}
		return t, false, ok
	case "unix", "unix_ms", "unix_us", "unix_ns":
		t, ok = parseEpoch(s, map[string]int{"unix": 9, "unix_ms": 6, "unix_us": 3, "unix_ns": 0}[format])
		return t, false, ok
	}
	layout := format
	if p, ok := strings.CutPrefix(format, "java:"); ok {
		layout = leef.JavaLayout(p)
	}
	if !layoutHasZone(layout) {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		return t, true, err == nil
	}
	t, err := time.ParseInLocation(layout, s, loc)
	return t, false, err == nil
}

var layoutZones sync.Map // layout -> bool

// layoutHasZone is leef.LayoutHasZone, remembered per layout (pipelines
// have a few).
func layoutHasZone(layout string) bool {
	if z, ok := layoutZones.Load(layout); ok {
		return z.(bool)
	}
	z := leef.LayoutHasZone(layout)
	layoutZones.Store(layout, z)
	return z
}

// parseEpoch parses a decimal epoch exactly ("1521911720.865716"); shift
// is the number of decimal digits from the unit to nanoseconds.
func parseEpoch(s string, shift int) (time.Time, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if n := strings.TrimPrefix(whole, "+"); n == "" || len(whole) > 19 || !digits(n) {
		// Not an epoch (an RFC 3339 time, say): checked here, as
		// ParseInt's error allocates.
		return time.Time{}, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if !digits(frac) {
		return time.Time{}, false
	}
	// value = w.frac units; in nanoseconds: w*10^shift + frac digits shifted.
	frac = (frac + "000000000")[:shift]
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
	}
	mul := int64(math.Pow10(shift))
	if w > math.MaxInt64/max(mul, 1) {
		return time.Time{}, false
	}
	return time.Unix(0, w*mul+f).UTC(), true
}

// digits reports whether s is only decimal digits ("" is).
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decodeObject decodes one JSON object (internal/ingest/jsonl).
func decodeObject(data []byte) (map[string]any, error) { return jsonl.Decode(data) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
