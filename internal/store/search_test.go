package store_test

import (
	"testing"

	"github.com/kuzet-kz/kuzet/internal/store"
)

func TestSearchText(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"message":"C:\\Windows\\cmd.exe","kuzet":{"org":"bank"}}`, "C:\\Windows\\cmd.exe\nbank\n"},
		{`{"a" : "say \"hi\"", "n": -1.5e3, "ok": true, "z": null, "l": ["x", 4]}`, "say \"hi\"\n-1.5e3\nx\n4\n"},
		{`{"k\"ey":"v"}`, "v\n"},
		{`{"u":"\u0412\u0445\u043e\u0434"}`, "Вход\n"},
		{`{}`, ""},
	} {
		if got := store.SearchText([]byte(c.doc)); got != c.want {
			t.Errorf("SearchText(%s) = %q, want %q", c.doc, got, c.want)
		}
	}
}
