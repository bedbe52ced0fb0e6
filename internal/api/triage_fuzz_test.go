package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var triageSeeds = []string{
	`{"status":"acknowledged"}`,
	`{"status":"false_positive","reason":"our own scanner","org":"bank"}`,
	`{"status":"true_positive","incident_id":"0190a0b4-0000-7000-8000-000000000000"}`,
	`{"status":"acknowledged","ids":["0190a0b4-0000-7000-8000-000000000001"]}`,
	`{"status":"acknowledged","filter":{"from":"2026-12-01T00:00:00Z","rule_id":["brute"],"triage":["new"],"level":["high"]}}`,
	`{"matchers":[{"name":"rule_id","op":"=","value":"r1"}],"reason":"maintenance","duration":"2h"}`,
	`{"matchers":[{"name":"source.ip","op":"=~","value":"10\\..*"}],"reason":"lab","ends_at":"2026-12-03T12:00:00Z"}`,
	`{"matchers":[{"name":"tag","op":"=~","value":"(("}],"reason":"x","duration":"1h"}`,
	`{"status":"acknowledged","x":{"deep":[[[[[[[[[[1]]]]]]]]]]}}`,
	`{"status":"acknowledged"} trailing`,
	"{\"reason\":\"\xff\"}",
	`{"ids":"1' OR 1=1 --"}`,
	`[` + strings.Repeat(`[`, 100),
	``,
}

// FuzzDecodeRequests: any body gives a triage, a bulk triage and a
// silence or a 4xx with a stable code, never a panic or a 5xx; what
// decodes came from valid UTF-8 within the size limit.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range triageSeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err *Error, max int) {
			if err != nil {
				if err.Status < 400 || err.Status >= 500 || err.Code == "" || !utf8.ValidString(err.Message) || !utf8.ValidString(err.Field) {
					t.Fatalf("%s: error %+v", what, err)
				}
				return
			}
			if len(body) > max || !utf8.Valid(body) || jsonDepth(body) > maxJSONDepth {
				t.Fatalf("%s decoded a body it should refuse: %q", what, body)
			}
		}
		_, err := decodeTriageRequest(body)
		check("triage", err, maxTriageBody)
		tf, q, err := decodeBulkTriageRequest(body)
		check("bulk triage", err, maxTriageBody)
		if err == nil && (len(q.IDs) > maxBulkTriage || tf.Status == "") {
			t.Fatalf("bulk triage %+v %+v", tf, q)
		}
		rec, err := decodeSilenceRequest(body, now)
		check("silence", err, maxSilenceBody)
		if err == nil && (len(rec.Matchers) == 0 || !rec.EndsAt.After(rec.StartsAt) || rec.Reason == "") {
			t.Fatalf("silence %+v", rec)
		}
	})
}
