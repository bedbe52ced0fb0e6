package sigmacli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEventTime(t *testing.T) {
	want := time.Date(2017, 8, 30, 19, 13, 38, 198483000, time.UTC)
	for _, c := range []struct{ doc, field string }{
		{`{"@timestamp":"2017-08-30T19:13:38.198483Z"}`, ""},
		{`{"@timestamp":"2017-08-31T01:13:38.198483+06:00"}`, ""},
		{`{"Event":{"System":{"TimeCreated":{"#attributes":{"SystemTime":"2017-08-30T19:13:38.198483Z"}}}}}`, ""},
		{`{"TimeCreated_SystemTime":"2017-08-30 19:13:38.198483"}`, ""},
		{`{"ts":1504120418.198483}`, ""},
		{`{"ts":"2017-08-30T19:13:38.198483Z"}`, ""},
		{`{"when":{"at":"2017-08-30 19:13:38.198483"},"@timestamp":"2000-01-01T00:00:00Z"}`, "when.at"},
	} {
		dec := json.NewDecoder(strings.NewReader(c.doc))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		got, err := eventTime(doc, c.field)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", c.doc, got, err, want)
		}
	}
	for _, bad := range []string{`{}`, `{"@timestamp":"yesterday"}`, `{"ts":true}`} {
		var doc map[string]any
		_ = json.Unmarshal([]byte(bad), &doc)
		if got, err := eventTime(doc, ""); err == nil {
			t.Errorf("%s: %v, want an error", bad, got)
		}
	}
}
