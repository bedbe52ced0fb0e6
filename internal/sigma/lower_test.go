package sigma

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestContextLowerAndText: the context's buffered lower and text give what
// strings.ToLower and text give, across buffer chunks.
func TestContextLowerAndText(t *testing.T) {
	c := &evalCtx{}
	strs := []string{"", "abc", "ABC", `C:\Windows\System32\CMD.EXE`, "ÄÖÜ straße", "mixed Ünicode AND ascii", "\xffBAD", strings.Repeat("AbC", 3000)}
	var got []string
	for i := 0; i < 50; i++ {
		for _, s := range strs {
			got = append(got, c.lower(s))
		}
	}
	for i, g := range got {
		if want := strings.ToLower(strs[i%len(strs)]); g != want {
			t.Errorf("lower(%q) = %q, want %q", strs[i%len(strs)], g, want)
		}
	}
	vals := []any{int64(-42), 7, 4688.0, math.Copysign(0, -1), 0.0, 3.5, 1e15, 1e20, -1e14, math.NaN(), math.Inf(1), json.Number("12"), true, uint64(1 << 63), "s", nil, []any{1}}
	for _, v := range vals {
		g, gok := c.text(v)
		w, wok := text(v)
		if g != w || gok != wok {
			t.Errorf("text(%#v) = %q %v, want %q %v", v, g, gok, w, wok)
		}
	}
}
