package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

// newBusFixture is newFixture's API with a NATS connection, and an
// incident stage (4 partitions, short timers) on the same JetStream and
// ClickHouse, all stopped when the test ends.
func newBusFixture(t *testing.T) (*fixture, jetstream.JetStream) {
	t.Helper()
	st := storetest.Open(t)
	ns := bustest.Server(t)
	_, js := bustest.Connect(t, ns)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	icfg := incident.DefaultConfig()
	icfg.RSITFile = ""
	icfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	stg, err := grouping.Start(ctx, js, st, grouping.Options{Config: icfg, Partitions: 4, Member: "ncc-1",
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stg.Stop(context.Background()) })
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RegistryFile = registryFile(t)
	for k, v := range keys {
		v.Hash = access.HashKey(k)
		cfg.Keys = append(cfg.Keys, v)
	}
	cfg.NATS.URL = ns.ClientURL()
	bc, err := bus.Dial(cfg.NATS, "kuzet-api-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bc.Close)
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Store: st, Bus: bc, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, reg: reg, st: st}, js
}

type silenceBody struct {
	bus.SilenceRecord
	State string `json:"state"`
}

// TestSilencesThroughTheAPI: silences made through the API carry their
// creator, reason and forced scope (an OISC's analyst's are limited to its
// OISC, an owner's to its organisation), are listed by who may make them,
// and mute the matching alerts in the running incident stage (no incident
// opens); expiring one records who and when, and new alerts then open an
// incident. Roles without silences are 403, malformed bodies 400, and an
// API without NATS answers 503.
func TestSilencesThroughTheAPI(t *testing.T) {
	f, js := newBusFixture(t)
	ctx := context.Background()
	create := func(key, body string, want int) silenceBody {
		t.Helper()
		code, b := f.send(t, http.MethodPost, key, "/api/v1/silences", body)
		if code != want {
			t.Fatalf("%s creates %s: %d %s, want %d", key, body, code, b, want)
		}
		var s silenceBody
		if code == http.StatusCreated {
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	mute := create("ncc-key", `{"matchers":[{"name":"rule_id","op":"=","value":"r-mute"}],"reason":"pentest until noon","duration":"1h"}`, 201)
	if mute.CreatedBy != "ncc" || mute.Reason != "pentest until noon" || mute.State != "active" || mute.CreatedAt.IsZero() ||
		mute.EndsAt.Sub(mute.StartsAt) != time.Hour || len(mute.Matchers) != 1 {
		t.Errorf("the NCC's silence: %+v", mute)
	}
	oisc := create("oisc-key", `{"matchers":[{"name":"rule_id","op":"=~","value":"r-.*"}],"reason":"noisy","ends_at":"`+
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`, 201)
	if !slices.Contains(oisc.Matchers, incident.Matcher{Name: "oisc", Op: "=", Value: "oisc-b"}) {
		t.Errorf("the OISC analyst's silence is not limited to its OISC: %+v", oisc.Matchers)
	}
	// A second OISC's analyst: its silence is limited to its OISC too.
	owner := create("oisc-a-key", `{"matchers":[{"name":"org","op":"=","value":"grid"}],"reason":"not ours","duration":"30m"}`, 201)
	if !slices.Contains(owner.Matchers, incident.Matcher{Name: "oisc", Op: "=", Value: "oisc-a"}) {
		t.Errorf("the second OISC analyst's silence is not limited to its OISC: %+v", owner.Matchers)
	}
	// Sixteen matchers of its own leave no room for the OISC's.
	var sixteen []string
	for i := 0; i < 16; i++ {
		sixteen = append(sixteen, fmt.Sprintf(`{"name":"rule_id","op":"!=","value":"r-%d"}`, i))
	}
	if code, b := f.send(t, http.MethodPost, "oisc-key", "/api/v1/silences",
		`{"matchers":[`+strings.Join(sixteen, ",")+`],"reason":"many","duration":"1h"}`); code != 400 || !strings.Contains(string(b), "matcher your key adds") {
		t.Errorf("an OISC analyst's silence of 16 matchers: %d %s, want 400 on matchers", code, b)
	}
	// Owners do not silence the monitoring of their objects.
	for _, key := range []string{"owner-key", "sector-key", "regulator-key", "admin-key"} {
		create(key, `{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","duration":"1h"}`, 403)
		if code, _ := f.get(t, key, "/api/v1/silences"); code != 403 {
			t.Errorf("%s lists silences: %d, want 403", key, code)
		}
	}
	for body, field := range map[string]string{
		`{"matchers":[],"reason":"x","duration":"1h"}`:                                                         "matchers",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"duration":"1h"}`:                               "reason",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x"}`:                                  "ends_at",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","duration":"-1h"}`:                 "duration",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","duration":"9000h"}`:               "duration",
		`{"matchers":[{"name":"rule_id","op":"=~","value":"(("}],"reason":"x","duration":"1h"}`:                "matchers",
		`{"matchers":[{"name":"Rule; DROP","op":"=","value":"x"}],"reason":"x","duration":"1h"}`:               "matchers",
		`{"matchers":[{"name":"rule_id","op":"~","value":"x"}],"reason":"x","duration":"1h"}`:                  "matchers",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","ends_at":"2020-01-01T00:00:00Z"}`: "ends_at",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","duration":"1h","owner":"me"}`:     "owner",
	} {
		code, b := f.send(t, http.MethodPost, "ncc-key", "/api/v1/silences", body)
		var eb errBody
		if code != 400 || json.Unmarshal(b, &eb) != nil || eb.Error.Field != field {
			t.Errorf("%s: %d %s, want 400 on %s", body, code, b, field)
		}
	}
	listed := func(key string) map[string]silenceBody {
		t.Helper()
		code, b := f.get(t, key, "/api/v1/silences")
		var body struct {
			Silences []silenceBody `json:"silences"`
		}
		if code != 200 || json.Unmarshal(b, &body) != nil {
			t.Fatalf("%s lists silences: %d %s", key, code, b)
		}
		out := map[string]silenceBody{}
		for _, s := range body.Silences {
			out[s.ID] = s
		}
		return out
	}
	if got := listed("ncc-key"); len(got) != 3 {
		t.Errorf("the NCC lists %d silences, want 3", len(got))
	}
	if got := listed("oisc-a-key"); len(got) != 1 || got[owner.ID].ID == "" {
		t.Errorf("the second OISC lists %v, want only its own", got)
	}
	if got := listed("oisc-key"); len(got) != 1 || got[oisc.ID].ID == "" {
		t.Errorf("the OISC analyst lists %v, want only its own", got)
	}

	// The NCC's silence mutes the bank's r-mute alerts in the stage.
	n := 0
	publish := func(rule string, count int) {
		t.Helper()
		for range count {
			n++
			at := time.Now().UTC()
			a := alert.Alert{ID: uuid.New(), ReceivedAt: at, DetectedAt: at, EventTime: at, RuleID: rule, RuleTitle: rule, Level: "high",
				OISC: "oisc-a", Org: "bank", Object: "cbs", Sector: "banking", Asset: "known", SourceIP: "203.0.113.9",
				EventIDs: []string{fmt.Sprint(n)}}
			data, _ := json.Marshal(a)
			if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	incidentsOf := func(rule string) int {
		t.Helper()
		count := 0
		if _, err := f.st.StreamIncidents(ctx, store.IncidentQuery{Limit: 100}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			if slices.Contains(in.RuleIDs, rule) {
				count++
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return count
	}
	wait := func(rule string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for incidentsOf(rule) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no incident of %s", rule)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	publish("r-mute", 3)
	publish("loud", 1) // same organisation, same partition, after the muted ones
	wait("loud")
	time.Sleep(300 * time.Millisecond)
	if got := incidentsOf("r-mute"); got != 0 {
		t.Fatalf("silenced alerts opened %d incidents", got)
	}

	// Expire: out of scope is 404; the NCC's DELETE records who and when.
	if code, _ := f.send(t, http.MethodDelete, "oisc-a-key", "/api/v1/silences/"+mute.ID, ""); code != 404 {
		t.Errorf("an OISC expiring the NCC's silence: %d, want 404", code)
	}
	if code, _ := f.send(t, http.MethodDelete, "ncc-key", "/api/v1/silences/"+uuid.NewString(), ""); code != 404 {
		t.Errorf("expiring an unknown silence: %d, want 404", code)
	}
	if code, _ := f.send(t, http.MethodDelete, "ncc-key", "/api/v1/silences/not-an-id", ""); code != 404 {
		t.Errorf("expiring a malformed id: %d, want 404", code)
	}
	code, b := f.send(t, http.MethodDelete, "ncc-key", "/api/v1/silences/"+mute.ID, "")
	var ex silenceBody
	if code != 200 || json.Unmarshal(b, &ex) != nil || ex.State != "expired" || ex.ExpiredBy != "ncc" || ex.ExpiredAt.IsZero() ||
		ex.Reason != mute.Reason || ex.CreatedBy != "ncc" {
		t.Fatalf("expiring: %d %s", code, b)
	}
	// The second OISC expires its own through the POST form.
	if code, b := f.send(t, http.MethodPost, "oisc-a-key", "/api/v1/silences/"+owner.ID+"/expire", ""); code != 200 ||
		!strings.Contains(string(b), `"expired_by":"oisc-a"`) {
		t.Errorf("the OISC expiring its silence: %d %s", code, b)
	}
	if got := listed("ncc-key"); got[mute.ID].State != "expired" || got[oisc.ID].State != "active" {
		t.Errorf("after expiring: %+v", got)
	}
	if code, b := f.get(t, "ncc-key", "/api/v1/silences?state=active"); code != 200 || strings.Count(string(b), `"id"`) != 1 {
		t.Errorf("active silences: %d %s", code, b)
	}
	publish("r-mute", 2)
	wait("r-mute")

	// Without NATS: 503.
	g := newFixture(t)
	if code, b := g.send(t, http.MethodPost, "ncc-key", "/api/v1/silences",
		`{"matchers":[{"name":"rule_id","op":"=","value":"x"}],"reason":"x","duration":"1h"}`); code != 503 || !strings.Contains(string(b), `"unavailable"`) {
		t.Errorf("without NATS: %d %s", code, b)
	}
}
