package box_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/ingest/box"
)

// check fails unless v behaves as any(want) does: equality, type
// switches and assertions, formatting, JSON and map keys.
func check(t *testing.T, v any, want string) {
	t.Helper()
	if v != any(want) {
		t.Fatalf("%#v != any(%q)", v, want)
	}
	s, ok := v.(string)
	if !ok || s != want {
		t.Fatalf("v.(string) = %q, %v; want %q", s, ok, want)
	}
	switch x := v.(type) {
	case string:
		if x != want {
			t.Fatalf("type switch: %q, want %q", x, want)
		}
	default:
		t.Fatalf("type switch: %T", v)
	}
	if got := fmt.Sprint(v); got != want {
		t.Fatalf("Sprint: %q, want %q", got, want)
	}
	a, err1 := json.Marshal(v)
	b, err2 := json.Marshal(want)
	if string(a) != string(b) || err1 != nil || err2 != nil {
		t.Fatalf("json: %s %v, want %s %v", a, err1, b, err2)
	}
	m := map[any]int{any(want): 1}
	if m[v] != 1 {
		t.Fatalf("map key %#v not found", v)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", "deny", "C:\\Windows\\System32\\cmd.exe", "\xff\xfe", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vals := []string{s, s + "x"}
		check(t, box.String(&vals[0]), s)
		check(t, box.String(&vals[1]), s+"x")
		var b box.Strings
		for i := range 40 {
			check(t, b.Box(s), s)
			check(t, b.Box(fmt.Sprint(s, i)), fmt.Sprint(s, i))
		}
	})
}

// The strings boxed stay alive as long as the interfaces do, though the
// slice that held them is no longer referenced.
func TestStringsSurviveGC(t *testing.T) {
	var vs []any
	var b box.Strings
	for i := range 1000 {
		vs = append(vs, b.Box(fmt.Sprint("value-", i)))
		pairs := []string{fmt.Sprint("pair-", i)}
		vs = append(vs, box.String(&pairs[0]))
	}
	for range 3 {
		runtime.GC()
	}
	// Allocate over the memory a collected block would have held.
	junk := make([][]byte, 0, 1000)
	for range 1000 {
		junk = append(junk, make([]byte, 256))
	}
	_ = junk
	for i := range 1000 {
		check(t, vs[2*i], fmt.Sprint("value-", i))
		check(t, vs[2*i+1], fmt.Sprint("pair-", i))
	}
}

func BenchmarkBox(b *testing.B) {
	vals := []string{"deny", "10.10.4.21", "FG-100F", "traffic"}
	b.Run("any", func(b *testing.B) {
		b.ReportAllocs()
		var sink any
		for i := 0; b.Loop(); i++ {
			s := vals[i%len(vals)]
			sink = s
		}
		_ = sink
	})
	b.Run("Strings", func(b *testing.B) {
		b.ReportAllocs()
		var sink any
		var bx box.Strings
		for i := 0; b.Loop(); i++ {
			sink = bx.Box(vals[i%len(vals)])
		}
		_ = sink
	})
}
