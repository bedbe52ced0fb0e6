package jsonl_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// normalize turns encoding/json's float64 numbers into the int64 or
// float64 jsonl gives, for comparison.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func std(t testing.TB, s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errMore
	}
	return normalize(m).(map[string]any), nil
}

var errMore = &ingest.Error{Reason: ingest.ReasonSyntax}

func TestAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, ` {"a":1} `, `{"a":-0,"b":1.5e3,"c":9223372036854775807,"d":9223372036854775808,"e":-1.25E-2}`,
		`{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d\ud83d\ude00","t":true,"f":false,"n":null}`,
		`{"nested":{"a":[1,[2,{"b":[]}],{}]},"dup":1,"dup":2}`,
		`{"id.orig_h":"10.0.0.1","Қазақ":"күзет"}`,
	} {
		want, err := std(t, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, err := jsonl.Decode([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", s, got, want)
		}
	}
}

func TestRejects(t *testing.T) {
	for s, reason := range map[string]string{
		``: ingest.ReasonEmpty, `  `: ingest.ReasonEmpty, `[1]`: ingest.ReasonSyntax, `"x"`: ingest.ReasonSyntax,
		`{"a":1`: ingest.ReasonTruncated, `{"a":"b`: ingest.ReasonTruncated, `{"a":tru}`: ingest.ReasonSyntax,
		`{"a":01}`: ingest.ReasonSyntax, `{"a":1.}`: ingest.ReasonSyntax, `{"a":-}`: ingest.ReasonSyntax,
		`{a:1}`: ingest.ReasonSyntax, `{"a" 1}`: ingest.ReasonSyntax, `{"a":1}{}`: ingest.ReasonSyntax,
		"{\"a\":\"\xff\"}": ingest.ReasonInvalidUTF8, "{\"a\\n\xc0\":1}": ingest.ReasonInvalidUTF8,
		"{\"a\":\"x\ty\"}": ingest.ReasonSyntax, `{"a":"\x"}`: ingest.ReasonSyntax, `{"a":"\u12"}`: ingest.ReasonSyntax,
		`{"a":1e999}`: ingest.ReasonSyntax, `{"a":[1,]}`: ingest.ReasonSyntax,
		strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200): ingest.ReasonSyntax,
	} {
		_, err := jsonl.Decode([]byte(s))
		if err == nil || ingest.ReasonOf(err) != reason {
			t.Errorf("Decode(%.40q) = %v, want %s", s, err, reason)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u00e9"],"c":{"d":-1.5e3}}`, `{"id.orig_h":"10.0.0.1"}`, `{}`, `{"a":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := jsonl.Decode(data)
		shared, serr := jsonl.DecodeShared(append([]byte(nil), data...))
		if (err == nil) != (serr == nil) || !reflect.DeepEqual(got, shared) {
			t.Fatalf("DecodeShared differs from Decode on %q: %v, %v", data, err, serr)
		}
		want, werr := std(t, string(data))
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatal("no reason")
			}
			// encoding/json accepts invalid UTF-8 (replacing it) and deeper
			// nesting; jsonl refuses both. Anything else it accepts, jsonl must too.
			return
		}
		if werr != nil {
			t.Fatalf("jsonl accepted what encoding/json refuses (%v): %q", werr, data)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs from encoding/json on %q:\n%#v\n%#v", data, got, want)
		}
	})
}

const eve = `{"timestamp":"2026-11-24T10:00:01.534255+0500","flow_id":1391565316812346,"in_iface":"eth0","event_type":"alert","src_ip":"45.155.205.233","src_port":52114,"dest_ip":"10.10.4.21","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2024897,"rev":3,"signature":"ET SCAN Nmap Scripting Engine User-Agent Detected","category":"Web Application Attack","severity":1},"http":{"hostname":"cbs.example","url":"/","http_user_agent":"Mozilla/5.0 (compatible; Nmap Scripting Engine)"}}`

func BenchmarkDecode(b *testing.B) {
	data := []byte(eve)
	b.Run("jsonl", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jsonl.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// TestNumber checks that a json.Number becomes what Decode makes of the
// same number.
func TestNumber(t *testing.T) {
	for _, s := range []string{"0", "-7", "4624", "9223372036854775807", "9223372036854775808", "1.5", "1e3", "-0.25"} {
		doc, err := jsonl.Decode([]byte(`{"n":` + s + `}`))
		if err != nil {
			t.Fatal(err)
		}
		want := doc["n"]
		if got := jsonl.Number(json.Number(s)); got != want {
			t.Errorf("Number(%s) = %#v, Decode gives %#v", s, got, want)
		}
	}
	if got := jsonl.Number(json.Number("1e999")); got != "1e999" {
		t.Errorf("Number(1e999) = %#v, want its text", got)
	}
}

// walk reads the object d has next with Open and Key, values inside it
// with Value or, for objects, by walking them.
func walk(d *jsonl.Decoder) (map[string]any, error) {
	if err := d.Open(); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for {
		k, more, err := d.Key()
		if err != nil {
			return nil, err
		}
		if !more {
			return m, nil
		}
		v, err := walkValue(d)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
}

// walkValue reads the next value with Open, OpenArray and Str where they
// apply, Value for the rest.
func walkValue(d *jsonl.Decoder) (any, error) {
	switch d.Peek() {
	case '{':
		return walk(d)
	case '"':
		return d.Str()
	case '[':
		if err := d.OpenArray(); err != nil {
			return nil, err
		}
		a := []any{}
		for {
			more, err := d.Elem()
			if err != nil {
				return nil, err
			}
			if !more {
				return a, nil
			}
			v, err := walkValue(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
	}
	return d.Value()
}

// FuzzDecoder: reading a document piece by piece with a Decoder accepts
// what DecodeValidString accepts, and gives the same values.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u00e9"],"c":{"d":-1.5e3,"e":{}}}`, `{"a":{"b":{"c":1}},"a":2}`, `{}`, ` { "a" : { } , "b" : 1 } `, `{"a":1,}`, `{"a" 1}`, `{"a":[[],[1,[2]],{"b":["c"]}]}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		want, werr := jsonl.DecodeValidString(s)
		d := jsonl.NewValidDecoder(s)
		got, err := walk(d)
		if err == nil {
			err = d.End()
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: Decoder error %v, DecodeValidString error %v", s, err, werr)
		}
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("%q: error without reason: %v", s, err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Decoder %#v, DecodeValidString %#v", s, got, want)
		}
	})
}

// TestStringAtEveryOffset: an escape, a quote, a control character or a
// multi-byte rune at every offset of strings around the eight-byte scan
// decodes as encoding/json decodes it (or is refused when it refuses).
func TestStringAtEveryOffset(t *testing.T) {
	for _, special := range []string{`\"`, `\\`, `\n`, `\u00e9`, "é", "\x01", "\xff", "Вход"} {
		for n := range 20 {
			for at := 0; at <= n; at++ {
				body := strings.Repeat("a", at) + special + strings.Repeat("b", n-at)
				doc := `{"k":"` + body + `","n":1}`
				got, err := jsonl.Decode([]byte(doc))
				var want map[string]any
				werr := json.Unmarshal([]byte(doc), &want)
				switch {
				case special == "\x01" || special == "\xff":
					if err == nil {
						t.Errorf("%q accepted", doc)
					}
				case err != nil || werr != nil:
					t.Errorf("%q: %v, encoding/json %v", doc, err, werr)
				case got["k"] != want["k"]:
					t.Errorf("%q: %q, want %q", doc, got["k"], want["k"])
				}
			}
		}
	}
}

// Strings with escapes are unescaped into one buffer per document; the
// buffer's growth (past maxText) must leave every string as it was.
func TestEscapedStringsShareText(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"k":"plain"`)
	for i := range 400 {
		fmt.Fprintf(&b, `,"k%d":"C:\\Windows\\System32\\\u00e9%d\"q\"%s"`, i, i, strings.Repeat("x", i%40))
	}
	b.WriteString(`,"arr":["a\nb","c\td",{"n":"\ud83d\ude00\\"}]}`)
	doc := b.String()
	got, err := jsonl.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want, err := std(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("differs from encoding/json")
	}
}
