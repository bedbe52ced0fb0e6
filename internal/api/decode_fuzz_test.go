package api

import (
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
)

// FuzzIncidentRequests feeds arbitrary bodies to the decoders and
// validators of the incident routes: they never panic, and a body they
// accept makes a change or an incident that is within its bounds.
func FuzzIncidentRequests(f *testing.F) {
	f.Add([]byte(`{"status":"triage","assignee":"a","comment":"c"}`))
	f.Add([]byte(`{"object_ids":["cbs"],"detected_at":"2026-12-01T10:00:00Z","rsit_class":"malicious-code","rsit_type":"infected-system"}`))
	f.Add([]byte(`{"tlp":"RED","tlp_recipients":["x"]}`))
	f.Add([]byte(`{"indicators":{"source.ip":["203.0.113.7"]},"contacts":[{"name":"n"}]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte("{\"title\":\"\xff\"}"))
	owner := access.Principal{Name: "owner", Role: access.Owner, Org: "bank"}
	analyst := access.Principal{Name: "oisc", Role: access.OISCAnalyst, OISC: "oisc-a"}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var patch incidentPatch
		if err := decodeJSON(body, &patch); err == nil {
			if c, err := patch.change(analyst); err == nil && len(c.Comment) > maxLongText {
				t.Fatalf("a comment of %d bytes accepted", len(c.Comment))
			}
		}
		var ni newIncident
		if err := decodeJSON(body, &ni); err == nil {
			in, err := ni.incident(owner, now)
			if err == nil && (in.Org != "bank" || in.DetectedAt.IsZero() || in.DetectedAt.After(now.Add(5*time.Minute)) ||
				len(in.Description) > maxLongText || in.Criticality > 100) {
				t.Fatalf("accepted out of bounds: %+v", in)
			}
		}
	})
}
