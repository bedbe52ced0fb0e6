package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/api"
)

// TestTimeRange: times outside what ClickHouse's DateTime holds are a 400
// invalid_time naming the field, and a cursor with such a time is a 400,
// never an empty page, every event, or a 500.
func TestTimeRange(t *testing.T) {
	f := newFixture(t)
	forged := base64.RawURLEncoding.EncodeToString([]byte("99999999999.0190a0b4-0000-7000-8000-000000000000"))
	for _, c := range []struct {
		name, query string
		status      int
		code, field string
		events      int
	}{
		{"to after range", "to=2106-01-01T00:00:00Z", 400, api.CodeInvalidTime, "to", 0},
		{"from far future", "from=2200-01-01T00:00:00Z", 400, api.CodeInvalidTime, "from", 0},
		{"from before epoch", "from=1969-12-31T23:59:59Z", 400, api.CodeInvalidTime, "from", 0},
		{"to at the end of the range", "to=" + url.QueryEscape("2105-12-31T23:59:59Z"), 200, "", "", 10},
		{"from at the epoch", "from=1970-01-01T00:00:00Z", 200, "", "", 10},
		{"forged cursor time", "cursor=" + forged, 400, api.CodeInvalidParameter, "cursor", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.get(t, "ncc-key", "/api/v1/events?"+c.query)
			if code != c.status {
				t.Fatalf("status %d, want %d: %.300s", code, c.status, body)
			}
			if c.status == 200 {
				var eb eventsBody
				if err := json.Unmarshal(body, &eb); err != nil || len(eb.Events) != c.events {
					t.Fatalf("%d events (%v), want %d", len(eb.Events), err, c.events)
				}
				return
			}
			var eb errBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatal(err)
			}
			if eb.Error.Code != c.code || eb.Error.Field != c.field {
				t.Errorf("error %+v, want %s on %s", eb.Error, c.code, c.field)
			}
		})
	}
}
