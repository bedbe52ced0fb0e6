package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

var keys = map[string]config.APIKey{
	"ncc-key":       {Name: "ncc", Role: "ncc-analyst"},
	"oisc-key":      {Name: "oisc", Role: "oisc-analyst", OISC: "oisc-b"},
	"oisc-a-key":    {Name: "oisc-a", Role: "oisc-analyst", OISC: "oisc-a"},
	"owner-key":     {Name: "owner", Role: "owner", Org: "bank"},
	"sector-key":    {Name: "sector", Role: "sector-analyst", Sectors: []string{"electricity"}},
	"regulator-key": {Name: "reg", Role: "regulator", Sectors: []string{"banking"}},
	"admin-key":     {Name: "admin", Role: "admin"},
	// An owner key whose TLP ceiling is GREEN, below its role's AMBER.
	"owner-green-key": {Name: "owner-green", Role: "owner", Org: "bank", TLP: "GREEN"},
}

// testRegistry holds the organisations and OISCs the test keys name, so
// that key validation (org and oisc in the registry) passes.
const testRegistry = `version: 1
centers:
  - {id: oisc-a, name: OISC A, kind: oisc}
  - {id: oisc-b, name: OISC B, kind: oisc}
  - {id: isc-energy, name: Energy ISC, kind: sectoral_isc, sectors: [electricity]}
organisations:
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-a]}
  - {id: grid, name: Grid, sectors: [electricity], oiscs: [oisc-b]}
`

// registryFile writes testRegistry and returns its path.
func registryFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(p, []byte(testRegistry), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type fixture struct {
	cfg config.API
	srv *api.Server
	reg *prometheus.Registry
	st  *store.Store
}

// newFixture builds a server over a store of the test's own; mods change
// its options before New.
func newFixture(t *testing.T, mods ...func(*api.Options)) *fixture {
	t.Helper()
	st := storetest.Open(t)
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RegistryFile = registryFile(t)
	cfg.MaxLimit = 50
	for k, v := range keys {
		v.Hash = access.HashKey(k)
		cfg.Keys = append(cfg.Keys, v)
	}
	reg := prometheus.NewPedanticRegistry()
	opts := api.Options{Config: cfg, Store: st, Registerer: reg}
	for _, m := range mods {
		m(&opts)
	}
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	// Events: 6 of the bank (banking, oisc-a), 4 of the grid (electricity, oisc-b).
	var rows []store.EventRow
	base := time.Now().UTC().Add(-time.Minute)
	for i := 0; i < 10; i++ {
		ev := &event.Event{Timestamp: base, Message: "login failed for user admin"}
		oisc, org, sector := "oisc-a", "bank", "banking"
		if i >= 6 {
			oisc, org, sector = "oisc-b", "grid", "electricity"
			ev.Message = "Сбой входа: пользователь оператор"
		}
		if err := event.Stamp(ev, base.Add(time.Duration(i)*time.Second), "c1", oisc, "test"); err != nil {
			t.Fatal(err)
		}
		ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector, ev.Kuzet.Asset = org, org+"-obj", sector, event.AssetKnown
		doc, _ := event.Marshal(ev)
		r, err := store.NewEventRow(ev, doc)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := st.InsertEvents(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: opts.Config, srv: srv, reg: reg, st: st}
}

type errBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

type eventsBody struct {
	Events     []event.Event `json:"events"`
	NextCursor string        `json:"next_cursor"`
}

func (f *fixture) get(t *testing.T, key, target string, hdr ...string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(target, "/metrics") {
		t.Errorf("%s: content type %q", target, ct)
	}
	return resp.StatusCode, body
}

func TestEventsScopedByRole(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		key, query string
		want       int
		orgs       string
	}{
		{"ncc-key", "", 10, "bank,grid"},
		{"oisc-key", "", 4, "grid"},
		{"owner-key", "", 6, "bank"},
		{"sector-key", "", 4, "grid"},
		{"owner-key", "?org=grid", 0, ""}, // filter cannot widen the scope
		{"ncc-key", "?sector=electricity", 4, "grid"},
		{"ncc-key", "?org=bank&org=grid", 10, "bank,grid"},
		{"ncc-key", "?org=bank,grid&sector=banking", 6, "bank"},
		{"ncc-key", "?q=" + url.QueryEscape("СБОЙ ВХОДА"), 4, "grid"},
		{"ncc-key", "?q=LOGIN", 6, "bank"},
		{"ncc-key", "?object=grid-obj", 4, "grid"},
		{"ncc-key", "?from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 0, ""},
	} {
		t.Run(c.key+c.query, func(t *testing.T) {
			code, body := f.get(t, c.key, "/api/v1/events"+c.query)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			var eb eventsBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatal(err)
			}
			if len(eb.Events) != c.want {
				t.Fatalf("got %d events, want %d", len(eb.Events), c.want)
			}
			orgs := map[string]bool{}
			for _, ev := range eb.Events {
				orgs[ev.Kuzet.Org] = true
			}
			for _, o := range strings.Split(c.orgs, ",") {
				if o != "" && !orgs[o] {
					t.Errorf("org %s missing", o)
				}
			}
			if len(orgs) != len(strings.Split(c.orgs, ",")) && c.want > 0 {
				t.Errorf("orgs %v, want %s", orgs, c.orgs)
			}
		})
	}
}

func TestEventsPagination(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	target := "/api/v1/events?limit=3"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		code, body := f.get(t, "ncc-key", target)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var eb eventsBody
		_ = json.Unmarshal(body, &eb)
		var prev time.Time
		for i, ev := range eb.Events {
			if seen[ev.Kuzet.EventID] {
				t.Fatalf("event twice across pages")
			}
			seen[ev.Kuzet.EventID] = true
			if i > 0 && ev.Kuzet.ReceivedAt.After(prev) {
				t.Errorf("not newest first")
			}
			prev = ev.Kuzet.ReceivedAt
		}
		if eb.NextCursor == "" {
			break
		}
		target = "/api/v1/events?limit=3&cursor=" + url.QueryEscape(eb.NextCursor)
	}
	if len(seen) != 10 {
		t.Errorf("paged %d events, want 10", len(seen))
	}
}

func TestHostileRequests(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, key, target string
		status            int
		code, field       string
		hdr               []string
	}{
		{"no key", "", "/api/v1/events", 401, api.CodeUnauthorized, "", nil},
		{"wrong key", "nope", "/api/v1/events", 401, api.CodeUnauthorized, "", nil},
		{"basic auth", "", "/api/v1/events", 401, api.CodeUnauthorized, "", []string{"Authorization", "Basic YTpi"}},
		{"huge key", strings.Repeat("k", 5000), "/api/v1/events", 401, api.CodeUnauthorized, "", nil},
		{"x-api-key works", "", "/api/v1/whoami", 200, "", "", []string{"X-API-Key", "ncc-key"}},
		{"regulator no raw events", "regulator-key", "/api/v1/events", 403, api.CodeForbidden, "", nil},
		{"unknown param", "ncc-key", "/api/v1/events?sectr=banking", 400, api.CodeInvalidParameter, "sectr", nil},
		{"bad sector", "ncc-key", "/api/v1/events?sector=space", 400, api.CodeInvalidParameter, "sector", nil},
		{"sql in org", "ncc-key", "/api/v1/events?org=" + url.QueryEscape("a' OR '1'='1"), 400, api.CodeInvalidParameter, "org", nil},
		{"bad time", "ncc-key", "/api/v1/events?from=yesterday", 400, api.CodeInvalidParameter, "from", nil},
		{"inverted range", "ncc-key", "/api/v1/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", 400, api.CodeInvalidParameter, "from", nil},
		{"limit zero", "ncc-key", "/api/v1/events?limit=0", 400, api.CodeInvalidParameter, "limit", nil},
		{"limit over max", "ncc-key", "/api/v1/events?limit=51", 400, api.CodeInvalidParameter, "limit", nil},
		{"limit text", "ncc-key", "/api/v1/events?limit=ten", 400, api.CodeInvalidParameter, "limit", nil},
		{"bad cursor", "ncc-key", "/api/v1/events?cursor=!!!", 400, api.CodeInvalidParameter, "cursor", nil},
		{"forged cursor", "ncc-key", "/api/v1/events?cursor=MTIzLm5vdC1hLXV1aWQ", 400, api.CodeInvalidParameter, "cursor", nil},
		{"long q", "ncc-key", "/api/v1/events?q=" + strings.Repeat("x", 300), 400, api.CodeInvalidParameter, "q", nil},
		{"invalid utf8 q", "ncc-key", "/api/v1/events?q=%ff%fe", 400, api.CodeInvalidParameter, "q", nil},
		{"too many values", "ncc-key", "/api/v1/events?org=" + strings.Repeat("a,", 70), 400, api.CodeInvalidParameter, "org", nil},
		{"unknown route", "ncc-key", "/api/v1/nothing", 404, api.CodeNotFound, "", nil},
		{"unknown route no key", "", "/admin", 404, api.CodeNotFound, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.get(t, c.key, c.target, c.hdr...)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, body)
			}
			if c.code == "" {
				return
			}
			var eb errBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("error body is not JSON: %s", body)
			}
			if eb.Error.Code != c.code || eb.Error.Field != c.field || eb.Error.Message == "" {
				t.Errorf("error %+v, want code %s field %q", eb.Error, c.code, c.field)
			}
		})
	}
}

func TestOpsEndpoints(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/healthz", "/readyz"} {
		if code, body := f.get(t, "", target); code != 200 {
			t.Errorf("%s: %d %s", target, code, body)
		}
	}
	f.get(t, "", "/api/v1/events")
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, f.srv) })
	resp, err := http.Get("http://" + f.srv.OpsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code := resp.StatusCode
	if code != 200 || !strings.Contains(string(body), `kuzet_api_rejected_total{reason="unauthorized"} 1`) ||
		!strings.Contains(string(body), `kuzet_api_requests_total{code="200",route="/readyz"} 1`) {
		t.Errorf("metrics: %d\n%s", code, body)
	}
}

func TestServesOnRealListener(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+f.srv.Addr()+"/api/v1/events?limit=2", nil)
	req.Header.Set("Authorization", "Bearer ncc-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb eventsBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(eb.Events) != 2 || eb.NextCursor == "" {
		t.Errorf("status %d, %d events, cursor %q", resp.StatusCode, len(eb.Events), eb.NextCursor)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.srv.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Stop(sctx); err != nil {
		t.Fatal("second stop:", err)
	}
	if _, err := http.Get("http://" + f.srv.Addr() + "/healthz"); err == nil {
		t.Error("still serving after Stop")
	}
}
