package correlation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
)

// marshalPlain is json.Marshal without HTML escaping.
func marshalPlain(t testing.TB, v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func oddSignals() []correlate.Signal {
	at := time.Date(2026, 12, 4, 10, 11, 12, 123456789, time.FixedZone("", 5*3600))
	odd := []string{"", "a<b>&c", `q"uo\te`, "line\nbreak\t\x01\x1f", "\xff\xfeinvalid", "\u2028\u2029", "Вход выполнен", "DOMAIN\\user", "😀"}
	var sigs []correlate.Signal
	for i, s := range odd {
		sig := correlate.Signal{Correlation: "corr-" + s, Rule: s, EventID: fmt.Sprintf("ev-%d", i),
			Time: at.Add(time.Duration(i) * time.Hour), Value: s,
			Share: correlate.Share{Org: s, Object: "obj", Sector: "", OISC: "oisc-" + s}}
		switch i % 3 {
		case 0:
			sig.Group = nil
		case 1:
			sig.Group = []string{}
		default:
			sig.Group = []string{s, "10.0.0.1", s + s}
		}
		if i == 2 {
			sig.Time = time.Time{}
			sig.Share = correlate.Share{}
		}
		if i == 3 {
			sig.Time = at.UTC()
		}
		sigs = append(sigs, sig)
	}
	return sigs
}

// TestAppendSignalIsEncodingJSON: a signal is written byte for byte as
// encoding/json writes it without HTML escaping, so a version that reads
// with encoding/json reads it.
func TestAppendSignalIsEncodingJSON(t *testing.T) {
	for _, sig := range append(oddSignals(), testSignals("k", 20).Signals...) {
		got, err := appendSignal([]byte("prefix"), &sig)
		if err != nil {
			t.Fatal(err)
		}
		if want := marshalPlain(t, sig); string(got) != "prefix"+string(want) {
			t.Errorf("appendSignal\n got %s\nwant prefix%s", got, want)
		}
	}
	bad := correlate.Signal{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := appendSignal(nil, &bad); err == nil {
		t.Error("a time past year 9999 was written")
	}
}

// TestDecodeSignalsIsEncodingJSON: messages as written, and as an older
// version wrote them (json.Marshal, HTML escaping), decode to what
// encoding/json decodes; the strings do not share the message's memory.
func TestDecodeSignalsIsEncodingJSON(t *testing.T) {
	sigs := append(oddSignals(), testSignals("k", 50).Signals...)
	old, err := json.Marshal(sigs)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := SignalMessages([]SignalGroup{{Key: "k", Signals: sigs}}, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("SignalMessages: %d messages, %v", len(msgs), err)
	}
	one, _ := json.Marshal(sigs[1])
	for _, data := range [][]byte{old, msgs[0].Data, one, []byte(" \n[ ]\t")} {
		want, werr := jsonSignals(data)
		if werr != nil {
			t.Fatal(werr)
		}
		fast, err := decodeSignalsFast(data)
		if err != nil {
			t.Fatalf("%.60s...: the fast path refused it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%.60s...: decoded\n%+v\nwant\n%+v", data, fast, want)
		}
		before := fmt.Sprint(fast)
		for i := range data {
			data[i] = 'x'
		}
		if fmt.Sprint(fast) != before {
			t.Fatal("decoded signals changed with the message's bytes: they share its memory")
		}
	}
}

// FuzzDecodeSignals: decodeSignals accepts what encoding/json accepts and
// gives what it gives.
func FuzzDecodeSignals(f *testing.F) {
	all, _ := json.Marshal(oddSignals())
	f.Add(all)
	for _, s := range []string{`[]`, `null`, `{}`, `[null]`, `[{"Group":null}]`, `[{"group":["a"]}]`, `[{"Time":null,"Share":null}]`,
		`[{"Rule":"a","Rule":"b"}]`, `[{"Share":{"org":"a"},"Share":{"oisc":"b"}}]`, `[{"Time":"\u0032026-01-01T00:00:00Z"}]`,
		`[{"Value":1}]`, `[{"EventID":"a"}] x`, `[{"X":{"y":[1,2]},"Rule":"r"}]`, `[{"Group":["a",null]}]`, `{"ſhare":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := jsonSignals(bytes.Clone(data))
		got, err := decodeSignals(bytes.Clone(data))
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, encoding/json's %v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded\n%#v\nencoding/json\n%#v", data, got, want)
		}
	})
}

// TestDecodeSignalsFallsBack: what the fast path leaves to encoding/json
// still decodes as encoding/json decodes it.
func TestDecodeSignalsFallsBack(t *testing.T) {
	for _, s := range []string{`[{"rule":"r"}]`, `[{"Rule":"a","Rule":"b"}]`, `[{"Group":["a",null]}]`, `null`, `[null]`,
		`[{"Time":"\u0032026-01-01T00:00:00Z"}]`, "[{\"Rule\":\"\xff\"}]"} {
		want, werr := jsonSignals([]byte(s))
		got, err := decodeSignals([]byte(s))
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; encoding/json %+v, %v", s, got, err, want, werr)
		}
	}
}

// BenchmarkSignals: a message of 40 signals (an envelope's on one
// partition) written and read, by encoding/json and by the codec.
func BenchmarkSignals(b *testing.B) {
	g := testSignals("c1-1", 40)
	for i := range g.Signals {
		g.Signals[i].Value = strings.Repeat("v", i%40)
	}
	data, _ := json.Marshal(g.Signals)
	b.Run("encode/encoding_json", func(b *testing.B) {
		for b.Loop() {
			for i := range g.Signals {
				if _, err := json.Marshal(g.Signals[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encode/kuzet", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			for i := range g.Signals {
				var err error
				if buf, err = appendSignal(buf[:0], &g.Signals[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("decode/encoding_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := jsonSignals(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/kuzet", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeSignals(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
