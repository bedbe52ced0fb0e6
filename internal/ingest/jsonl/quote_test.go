package jsonl_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// reference is encoding/json's encoding of v without HTML escaping.
func reference(t testing.TB, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "\x00\x1f\t\n\r\b\f", "<&>", "\u2028\u2029", "é日本", "\xff\xfe", "aaaaaaa\"bbbbbbbbb", "x\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(jsonl.AppendString([]byte("p"), s)), "p"+reference(t, s); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, -0.0, 1, -1.5, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, math.SmallestNonzeroFloat64, math.MaxFloat64, 3e-9} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		if got, want := string(jsonl.AppendFloat(nil, v)), reference(t, v); got != want {
			t.Fatalf("AppendFloat(%v) = %s, want %s", v, got, want)
		}
	})
}
