package event_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// referenceMarshal is the encoder event.Marshal replaced: encoding/json
// without HTML escaping, trailing newline trimmed. The hand-written encoder
// must write exactly its bytes, and fail where it fails.
func referenceMarshal(ev *event.Event) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// sameAsReference fails t unless Marshal and AppendJSON (onto a non-empty
// buffer) agree with referenceMarshal, bytes and error.
func sameAsReference(t *testing.T, ev *event.Event) {
	t.Helper()
	want, wantErr := referenceMarshal(ev)
	got, err := event.Marshal(ev)
	if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("error: got %v, want %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ at %d:\ngot  %s\nwant %s", firstDiff(got, want), got, want)
	}
	prefix := []byte("prefix")
	app, err := event.AppendJSON(prefix, ev)
	if wantErr != nil {
		if err == nil || string(app) != "prefix" {
			t.Fatalf("AppendJSON on error: %q, %v", app, err)
		}
		return
	}
	if err != nil || !bytes.Equal(app[len(prefix):], want) || string(app[:len(prefix)]) != "prefix" {
		t.Fatalf("AppendJSON: %v\n%s", err, app)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// filler sets fields of any type the Event holds to random values, through
// reflection, so that a field added to any struct is filled (and compared)
// without the test knowing it. A field of a type it does not know fails
// the test: teach the filler, and the encoder, that type.
type filler struct {
	t    testing.TB
	r    *rand.Rand
	full bool // every field set, no pointer nil, no slice or map empty
	// open counts the struct types being filled, so that a full fill
	// stops at a recursive pointer (Process.Parent) after one level.
	open map[reflect.Type]int
}

var timeType = reflect.TypeFor[time.Time]()

func (f *filler) fill(v reflect.Value, path string) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(f.time()))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			if !f.full && f.r.IntN(3) == 0 {
				continue // left zero: omitted or written as zero
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	case reflect.Pointer:
		if !f.full && f.r.IntN(4) == 0 || f.full && f.open[v.Type().Elem()] > 1 {
			return
		}
		f.open[v.Type().Elem()]++
		defer func() { f.open[v.Type().Elem()]-- }()
		p := reflect.New(v.Type().Elem())
		if f.full || f.r.IntN(5) > 0 {
			f.fill(p.Elem(), path)
		}
		v.Set(p)
	case reflect.String:
		v.SetString(f.string())
	case reflect.Int, reflect.Int64:
		v.SetInt(f.int())
	case reflect.Bool:
		v.SetBool(f.full || f.r.IntN(2) == 0)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			f.t.Fatalf("%s: filler does not know %s", path, v.Type())
		}
		n := f.r.IntN(4)
		if f.full {
			n++
		} else if n == 0 && f.r.IntN(2) == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil: omitted all the same
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(s.Index(i), path+"[]")
		}
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			f.t.Fatalf("%s: filler does not know %s", path, v.Type())
		}
		m := reflect.MakeMap(v.Type())
		n := f.r.IntN(6)
		if f.full {
			n++
		}
		for range n {
			e := reflect.New(v.Type().Elem()).Elem()
			if e.Kind() == reflect.Interface {
				if x := f.value(0); x != nil {
					e.Set(reflect.ValueOf(x))
				}
			} else {
				f.fill(e, path+"[]")
			}
			m.SetMapIndex(reflect.ValueOf(f.string()).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	default:
		f.t.Fatalf("%s: filler does not know %s", path, v.Type())
	}
}

// pieces are what random strings are made of: plain text, what JSON and
// HTML escaping treat specially, multi-byte runes, U+2028/U+2029, and
// invalid UTF-8.
var pieces = []string{
	"sshd", "a", " ", "C:\\Windows\\System32", `"quoted"`, "<38>", "&amp;", "\n", "\r\n", "\t", "\b", "\f",
	"\x00", "\x01", "\x1f", "\x7f", "қазақ", "日本", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80",
	"\ufffd", "/", "id.orig_h", "{}", "[]", ":", ",", "0x3e7", "10.0.0.1",
}

func (f *filler) string() string {
	n := f.r.IntN(5)
	if f.full {
		n++
	}
	var sb strings.Builder
	for range n {
		sb.WriteString(pieces[f.r.IntN(len(pieces))])
	}
	return sb.String()
}

func (f *filler) int() int64 {
	switch f.r.IntN(5) {
	case 0:
		if !f.full {
			return 0
		}
		return 1
	case 1:
		return -f.r.Int64N(1 << 40)
	case 2:
		return math.MaxInt64 - f.r.Int64N(3)
	case 3:
		return math.MinInt64 + f.r.Int64N(3)
	}
	return f.r.Int64N(70000) + 1
}

var zones = []*time.Location{time.UTC, time.FixedZone("ALMT", 5*3600), time.FixedZone("", -(3*3600 + 30*60)),
	time.FixedZone("odd", 23*3600+59*60+59)}

func (f *filler) time() time.Time {
	if !f.full && f.r.IntN(8) == 0 {
		return time.Time{}
	}
	sec := f.r.Int64N(253402300799) - 62135596800 // years 0001..9999
	nsec := int64(0)
	switch f.r.IntN(3) {
	case 0:
		nsec = f.r.Int64N(1e9)
	case 1:
		nsec = f.r.Int64N(1000) * 1e6
	}
	return time.Unix(sec, nsec).In(zones[f.r.IntN(len(zones))])
}

// edgeFloats covers encoding/json's switch between 'f' and 'e' formats.
var edgeFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99999e-7, 1e-7, 1.5e-9, 1e-10, 123456789.125,
	1e20, 1e21, 9.999999999999999e20, 1e22, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3, 4625}

// value is a namespace value: what parsers put in namespaces, and a few
// types the encoder leaves to encoding/json.
func (f *filler) value(depth int) any {
	k := f.r.IntN(17)
	if depth > 3 && k >= 8 && k <= 10 {
		k = 0
	}
	switch k {
	case 0, 1:
		return f.string()
	case 2:
		return f.int()
	case 3:
		return int(f.int())
	case 4:
		if f.r.IntN(2) == 0 {
			return edgeFloats[f.r.IntN(len(edgeFloats))]
		}
		return (f.r.Float64() - 0.5) * math.Pow(10, float64(f.r.IntN(60)-30))
	case 5:
		return f.r.IntN(2) == 0
	case 6:
		return nil
	case 7:
		return []string{f.string(), f.string()}
	case 8:
		m := map[string]any{}
		for range f.r.IntN(5) {
			m[f.string()] = f.value(depth + 1)
		}
		if f.r.IntN(10) == 0 {
			return map[string]any(nil)
		}
		return m
	case 9:
		var s []any
		if f.r.IntN(10) > 0 {
			s = []any{}
		}
		for range f.r.IntN(4) {
			s = append(s, f.value(depth+1))
		}
		return s
	case 10:
		return map[string]string{f.string(): f.string()}
	case 11:
		return json.Number([]string{"", "0", "-1", "1.5e3", "4625", "1E+2", "-0.0"}[f.r.IntN(7)])
	case 12:
		return f.time()
	case 13:
		return float32(f.r.Float64())
	case 14:
		return []byte(f.string())
	case 15:
		return uint16(f.r.IntN(65536))
	}
	return struct {
		A string `json:"a"`
		B *int   `json:"b,omitempty"`
	}{A: f.string()}
}

func randomEvent(t testing.TB, r *rand.Rand, full bool) *event.Event {
	ev := &event.Event{}
	(&filler{t: t, r: r, full: full, open: map[reflect.Type]int{}}).fill(reflect.ValueOf(ev).Elem(), "Event")
	return ev
}

// TestAppendJSONMatchesEncodingJSON compares the encoder with encoding/json
// over randomly filled events, where every field of every struct is
// sometimes set (so a field the encoder does not write fails here).
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 27))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := range n {
		ev := randomEvent(t, r, i%10 == 0)
		t.Run("", func(t *testing.T) { sameAsReference(t, ev) })
		if t.Failed() {
			t.Fatalf("event %d", i)
		}
	}
}

// TestAppendJSONWritesEveryField fills every field of every struct and
// checks that each struct field's JSON name appears in the output: a new
// field the encoder does not know fails here, whatever the random seed.
func TestAppendJSONWritesEveryField(t *testing.T) {
	ev := randomEvent(t, rand.New(rand.NewPCG(2, 27)), true)
	sameAsReference(t, ev)
	data, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty == timeType || seen[ty] {
			return
		}
		seen[ty] = true
		for i := range ty.NumField() {
			sf := ty.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if !bytes.Contains(data, []byte(`"`+name+`":`)) {
				t.Errorf("%s.%s: %q not written", ty.Name(), sf.Name, name)
			}
			walk(sf.Type)
		}
	}
	walk(reflect.TypeFor[event.Event]())
}

func TestAppendJSONSamples(t *testing.T) {
	for _, c := range benchEvents {
		t.Run(c.name, func(t *testing.T) { sameAsReference(t, c.ev()) })
	}
	t.Run("full", func(t *testing.T) { sameAsReference(t, fullEvent(t)) })
	t.Run("zero", func(t *testing.T) { sameAsReference(t, &event.Event{}) })
	t.Run("empty objects", func(t *testing.T) {
		ev := &event.Event{Source: &event.Endpoint{}, DNS: &event.DNS{}, Log: &event.Log{Syslog: &event.Syslog{Facility: &event.SyslogCode{}}},
			HTTP: &event.HTTP{Request: &event.HTTPRequest{}}, Labels: map[string]string{}, Winlog: map[string]any{}, Tags: []string{},
			Fields: map[string]any{"m": map[string]any{}, "n": map[string]any(nil), "s": []any{}, "t": []any(nil), "u": []string(nil)}}
		sameAsReference(t, ev)
	})
	t.Run("escapes at every offset", func(t *testing.T) {
		// appendString skips eight safe bytes at a time: each special
		// byte at each offset of a word, in the middle and at the end.
		for _, p := range pieces {
			for n := range 18 {
				s := strings.Repeat("a", n) + p + strings.Repeat("b", 17-n)
				sameAsReference(t, &event.Event{Message: s, Winlog: map[string]any{s: s[:n+len(p)]}})
			}
		}
	})
	t.Run("deep", func(t *testing.T) {
		m := map[string]any{"leaf": 1.5}
		for i := range 300 {
			if i%2 == 0 {
				m = map[string]any{"a": m, "b": 1}
			} else {
				m = map[string]any{"c": []any{m}}
			}
		}
		sameAsReference(t, &event.Event{Zeek: m})
	})
}

// TestAppendJSONErrors: where encoding/json fails, the encoder fails with
// the same message.
func TestAppendJSONErrors(t *testing.T) {
	cycle := map[string]any{}
	cycle["self"] = cycle
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, ev := range map[string]*event.Event{
		"year 10000":       {Timestamp: far},
		"created 10000":    {Event: event.Meta{Created: &far}},
		"received -1":      {Kuzet: event.Kuzet{ReceivedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		"zone 24h":         {Timestamp: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600))},
		"NaN":              {Winlog: map[string]any{"x": math.NaN()}},
		"Inf in list":      {Zeek: map[string]any{"x": []any{1, math.Inf(-1)}}},
		"func":             {Fields: map[string]any{"f": func() {}}},
		"chan":             {Fields: map[string]any{"a": "ok", "c": make(chan int)}},
		"bad number":       {CEF: map[string]any{"n": json.Number("1.")}},
		"cycle":            {Wazuh: cycle},
		"time in fallback": {Auditd: map[string]any{"t": far}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := referenceMarshal(ev); err == nil {
				t.Fatal("encoding/json accepts it")
			}
			sameAsReference(t, ev)
		})
	}
}

// FuzzAppendJSON compares the encoder with encoding/json on fuzzed string
// and number content, in typed fields, namespace keys and values.
func FuzzAppendJSON(f *testing.F) {
	f.Add("Failed password for <oracle> & co", "EventID", int64(4625), 1.5, "1e3")
	f.Add("\x00\x1f\"\\\u2028\u2029\xff\xc3(", "id.orig_h", int64(-1), 1e21, "-0.5E-7")
	f.Add("қазақ 😀 \ufffd", "\xed\xa0\x80", int64(math.MinInt64), 1e-7, "01")
	f.Fuzz(func(t *testing.T, s, key string, i int64, fl float64, num string) {
		ev := &event.Event{Message: s, Source: &event.Endpoint{IP: key, Port: int(i)}, Tags: []string{s, key}}
		ev.Kuzet.EventID, ev.Kuzet.Asset = key, s
		ev.Event.Original, ev.Event.Sequence = s, i
		ev.Labels = map[string]string{key: s, s: key}
		ev.Winlog = map[string]any{key: s, s: i, "f": fl, "n": json.Number(num), "l": []any{fl, s, map[string]any{key: num}}}
		sameAsReference(t, ev)
	})
}
