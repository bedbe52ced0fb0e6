package store_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/store"
)

// searchTextReference is SearchText as it was first written, unescaping
// with encoding/json: the reference the hand-written unescaping must
// equal.
func searchTextReference(doc []byte) string {
	var b strings.Builder
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case c == '"':
			j, esc := i+1, false
			for j < len(doc) && doc[j] != '"' {
				if doc[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j >= len(doc) {
				return b.String()
			}
			k := j + 1
			for k < len(doc) && (doc[k] == ' ' || doc[k] == '\t' || doc[k] == '\n' || doc[k] == '\r') {
				k++
			}
			if k == len(doc) || doc[k] != ':' {
				if esc {
					var u string
					if json.Unmarshal(doc[i:j+1], &u) == nil {
						b.WriteString(u)
					}
				} else {
					b.Write(doc[i+1 : j])
				}
				b.WriteByte('\n')
			}
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(doc) && strings.IndexByte("+-.eE0123456789", doc[j]) >= 0 {
				j++
			}
			b.Write(doc[i:j])
			b.WriteByte('\n')
			i = j - 1
		}
	}
	return b.String()
}

var searchSeeds = []string{
	`{"message":"C:\\Windows\\cmd.exe","kuzet":{"org":"bank"}}`,
	`{"a" : "say \"hi\"", "n": -1.5e3, "ok": true, "z": null, "l": ["x", 4]}`,
	`{"u":"\u0412\u0445\u043e\u0434 \ud83d\ude00 \ud83d \ude00 \ud83dx \u00e9\/\b\f\n\r\t"}`,
	`{"m":"Вход \"выполнен\" \\ ok","e":"\ud800\u0041"}`,
	`{"bad":"\xff\"x","cut":"\u12"}`,
	`{"t":"tab\tinside"}`,
	`{}`,
}

// TestSearchTextMatchesReference: the seeds (escapes of every kind, broken
// surrogates, invalid UTF-8, malformed escapes) give the reference's text;
// FuzzSearchText looks beyond them.
func TestSearchTextMatchesReference(t *testing.T) {
	for _, doc := range searchSeeds {
		if got, want := store.SearchText([]byte(doc)), searchTextReference([]byte(doc)); got != want {
			t.Errorf("SearchText(%s) = %q, want %q", doc, got, want)
		}
	}
}

func FuzzSearchText(f *testing.F) {
	for _, s := range searchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if !json.Valid([]byte(doc)) {
			return
		}
		if got, want := store.SearchText([]byte(doc)), searchTextReference([]byte(doc)); got != want {
			t.Fatalf("SearchText(%q) = %q, want %q", doc, got, want)
		}
	})
}
