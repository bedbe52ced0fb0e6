package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDecodeKeyRequest: any body decodes to a spec or to a 4xx with a
// stable code, never a panic; a decoded spec came from a valid UTF-8 JSON
// object within the size limit.
func FuzzDecodeKeyRequest(f *testing.F) {
	for _, s := range []string{
		`{"name":"grid-soc","role":"owner","org":"grid","ttl":"720h"}`,
		`{"name":"energy","role":"sector-analyst","sectors":["electricity","gas_supply"],"expires_at":"2027-03-01T00:00:00Z"}`,
		`{"name":"a","role":"oisc-analyst","oisc":"oisc-almaty"}`,
		`{"name":"a","role":"ncc-analyst","extra":{"deep":[[[[1]]]]}}`,
		`{"name":"a"} trailing`,
		"{\"name\":\"\xff\"}",
		`{"ttl":"-1h"}`,
		`[` + strings.Repeat(`[`, 100),
		``,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		spec, err := decodeKeyRequest(body, now, time.Hour)
		if err != nil {
			if err.Status < 400 || err.Status >= 500 || err.Code == "" {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if len(body) > maxKeyBody || !utf8.Valid(body) {
			t.Fatalf("decoded a body it should refuse: %q", body)
		}
		if spec.ExpiresAt.IsZero() {
			t.Fatalf("no expiry for %q", body)
		}
	})
}
