package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// openAPI is the loaded and validated document with its router, loaded
// once per test binary.
var openAPI = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &contract{doc: doc, router: r}, nil
})

// contract validates exchanges against the OpenAPI document.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

func loadContract(t testing.TB) *contract {
	t.Helper()
	c, err := openAPI()
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	return c
}

// exchange is one request made through the API and its answer.
type exchange struct {
	method, target string
	reqHeader      http.Header
	reqBody        []byte
	status         int
	header         http.Header
	body           []byte
}

// do makes one in-process request and returns the exchange.
func doExchange(t testing.TB, srv *api.Server, method, target, key, body string, hdr ...string) exchange {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.App().Test(req, 20000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{method: method, target: target, reqHeader: req.Header.Clone(), reqBody: []byte(body),
		status: resp.StatusCode, header: resp.Header, body: b}
}

// request rebuilds the exchange's request for the validator (its body
// read again).
func (e exchange) request() *http.Request {
	req := httptest.NewRequest(e.method, e.target, bytes.NewReader(e.reqBody))
	req.Header = e.reqHeader.Clone()
	return req
}

// checkRequest validates the request against the document: nil when it
// conforms.
func (c *contract) checkRequest(e exchange) error {
	req := e.request()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no route in the document: %w", err)
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	})
}

// checkResponse validates the answer (status, headers, body) against the
// document's operation of the request.
func (c *contract) checkResponse(e exchange) error {
	req := e.request()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no route in the document: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: e.status, Header: e.header, Body: io.NopCloser(bytes.NewReader(e.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// check fails the test when the answer does not conform, or when the
// request's conformance is not requestValid: an error answer to a request
// the document already forbids is expected to come from a request that
// does not conform.
func (c *contract) check(t testing.TB, e exchange, requestValid bool) {
	t.Helper()
	if err := c.checkResponse(e); err != nil {
		t.Errorf("%s %s answered %d, not as documented: %v\n%.600s", e.method, e.target, e.status, err, e.body)
	}
	err := c.checkRequest(e)
	switch {
	case requestValid && err != nil:
		t.Errorf("%s %s: the request does not conform: %v", e.method, e.target, err)
	case !requestValid && err == nil:
		t.Errorf("%s %s: the document accepts a request the API refused (%d %.200s)", e.method, e.target, e.status, e.body)
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	c := loadContract(t)
	if c.doc.OpenAPI != "3.1.0" || !c.doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1.0", c.doc.OpenAPI)
	}
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			roles, ok := op.Extensions["x-kuzet-roles"].([]any)
			if !ok || len(roles) == 0 {
				t.Errorf("%s %s: no x-kuzet-roles", method, path)
			}
			if op.Responses.Status(http.StatusUnauthorized) == nil && op.Security == nil {
				t.Errorf("%s %s: authenticated but no 401 documented", method, path)
			}
			for code, r := range op.Responses.Map() {
				for _, h := range []string{"X-Request-Id", "X-Content-Type-Options"} {
					if _, ok := r.Value.Headers[h]; !ok {
						t.Errorf("%s %s %s: no %s header", method, path, code, h)
					}
				}
			}
		}
	}
	for _, name := range []string{"Event", "Alert", "Incident", "Stage", "Notification", "Receipt", "Error", "Page"} {
		if c.doc.Components.Schemas[name] == nil {
			t.Errorf("components/schemas/%s missing", name)
		}
	}
}

// documentedRoutes returns "METHOD /path/{param}" of every operation of
// the document.
func documentedRoutes(t testing.TB) []string {
	var out []string
	for path, item := range loadContract(t).doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// registeredRoutes returns "METHOD /path/{param}" of every route the Fiber
// app registers (HEAD, which Fiber adds to each GET, left out).
func registeredRoutes(t testing.TB) []string {
	t.Helper()
	cfg := config.DefaultAPI()
	srv, err := api.New(api.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Path == "/" || r.Path == "" {
			continue
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if name, ok := strings.CutPrefix(p, ":"); ok {
				parts[i] = "{" + strings.TrimSuffix(name, "?") + "}"
			}
		}
		k := r.Method + " " + strings.Join(parts, "/")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIListsEveryRoute: every route Fiber registers is in the
// document, method by method, and the document lists no other; so a route
// added without its documentation fails here.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	documented, registered := documentedRoutes(t), registeredRoutes(t)
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered but not in internal/api/openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(registered, r) {
			t.Errorf("openapi.json documents %s, which the API does not register", r)
		}
	}
	if !slices.Contains(registered, "GET /api/v1/openapi.json") || !slices.Contains(registered, "GET /api/v1/incidents/{id}") {
		t.Errorf("registered routes look wrong: %v", registered)
	}
}

// TestOpenAPIServedPublicly: the document is served without a key, and is
// the embedded one.
func TestOpenAPIServedPublicly(t *testing.T) {
	srv, err := api.New(api.Options{Config: config.DefaultAPI()})
	if err != nil {
		t.Fatal(err)
	}
	e := doExchange(t, srv, http.MethodGet, "/api/v1/openapi.json", "", "")
	if e.status != 200 || !bytes.Equal(e.body, api.OpenAPI()) || !strings.HasPrefix(e.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s, %d bytes", e.status, e.header.Get("Content-Type"), len(e.body))
	}
	loadContract(t).check(t, e, true)
}

// TestOpenAPIRealExchanges validates real requests and answers of the main
// routes, over real ClickHouse and NATS with the ncc's stage, against the
// document: success and error answers, each status, header and body. An
// error answer's request is expected not to conform where the document
// can say why (a bad enum, a limit of 0, an unknown body field); where it
// cannot (a malformed cursor, an incident out of scope), it conforms.
func TestOpenAPIRealExchanges(t *testing.T) {
	f := newSeededFixture(t)
	c := loadContract(t)
	srv := f.srv
	enc := url.QueryEscape
	future := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	detected := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	report := `{"object_ids":["cbs"],"title":"Phishing","detected_at":"` + detected + `","rsit_class":"fraud","rsit_type":"phishing",
		"functional_impact":"low","contacts":[{"name":"A. Seitkali"}],"affected":{"users":2}}`
	for _, x := range []struct {
		method, target, key, body string
		hdr                       []string
		status                    int
		valid                     bool
	}{
		{"GET", "/api/v1/openapi.json", "", "", nil, 200, true},
		{"GET", "/healthz", "", "", nil, 200, true},
		{"GET", "/readyz", "", "", nil, 200, true},
		{"GET", "/api/v1/whoami", "sector-key", "", nil, 200, true},
		{"GET", "/api/v1/whoami", "", "", nil, 401, true},
		{"GET", "/api/v1/whoami", "forged-key", "", nil, 401, true},
		{"GET", "/api/v1/sectors", "regulator-key", "", nil, 200, true},
		{"GET", "/api/v1/events?limit=2", "ncc-key", "", []string{"X-Request-Id", "trace-1"}, 200, true},
		{"GET", "/api/v1/events?org=bank,grid&sector=banking&q=login&from=2026-01-01T00:00:00Z", "ncc-key", "", nil, 200, true},
		{"GET", "/api/v1/events?from=" + enc(future), "owner-key", "", nil, 200, true},
		{"GET", "/api/v1/events?limit=0", "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/events?from=yesterday", "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/events?from=1000-01-01T00:00:00Z", "ncc-key", "", nil, 400, true},
		{"GET", "/api/v1/events?org=" + enc("a' OR '1'='1"), "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/events?cursor=MTIzLm5vdC1hLXV1aWQ", "ncc-key", "", nil, 400, true},
		{"GET", "/api/v1/events?q=" + strings.Repeat("x", 300), "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/events", "regulator-key", "", nil, 403, true},
		{"GET", "/api/v1/alerts?level=high,critical&rule_id=r-scan", "oisc-key", "", nil, 200, true},
		{"GET", "/api/v1/alerts?limit=1", "ncc-key", "", nil, 200, true},
		{"GET", "/api/v1/alerts?level=severe", "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/incidents?status=new,triage&severity=high&national=false", "ncc-key", "", nil, 200, true},
		{"GET", "/api/v1/incidents?limit=1", "owner-key", "", nil, 200, true},
		{"GET", "/api/v1/incidents?status=open", "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/incidents?national=maybe", "ncc-key", "", nil, 400, false},
		{"GET", "/api/v1/incidents/" + f.incident["bank"], "owner-key", "", nil, 200, true},
		{"GET", "/api/v1/incidents/" + f.incident["grid"], "ncc-key", "", nil, 200, true},
		{"GET", "/api/v1/incidents/" + f.incident["grid"], "owner-key", "", nil, 404, true},
		{"GET", "/api/v1/incidents/not-a-uuid", "ncc-key", "", nil, 404, true},
		{"GET", "/api/v1/incidents/" + f.incident["bank"] + "/notifications", "ncc-key", "", nil, 200, true},
		{"POST", "/api/v1/incidents", "owner-key", report, []string{"Idempotency-Key", "openapi-1"}, 201, true},
		{"POST", "/api/v1/incidents", "owner-key", report, []string{"Idempotency-Key", "openapi-1"}, 200, true},
		{"POST", "/api/v1/incidents", "owner-key", strings.Replace(report, "Phishing", "Other", 1), []string{"Idempotency-Key", "openapi-1"}, 409, true},
		{"POST", "/api/v1/incidents", "owner-key", strings.Replace(report, `"title"`, `"tittle"`, 1), nil, 400, false},
		{"POST", "/api/v1/incidents", "owner-key", strings.Replace(report, `"low"`, `"huge"`, 1), nil, 422, false},
		{"POST", "/api/v1/incidents", "owner-key", strings.Replace(report, `"cbs"`, `"scada-1"`, 1), nil, 422, true},
		{"POST", "/api/v1/incidents", "owner-key", `{"detected_at":"` + detected + `","rsit_class":"fraud","rsit_type":"nonsense"}`, nil, 422, true},
		{"POST", "/api/v1/incidents", "regulator-key", report, nil, 403, true},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "oisc-key", `{"assignee":"aigerim","status":"triage"}`, nil, 200, true},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "oisc-key", `{"comment":"late"}`, []string{"If-Match", `"1"`}, 409, true},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "oisc-key", `{"status":"closed","resolution":"handled"}`, nil, 409, true},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "oisc-key", `{"colour":"red"}`, nil, 400, false},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "oisc-key", `{"comment":"x"}`, []string{"If-Match", "banana"}, 400, false},
		{"PATCH", "/api/v1/incidents/" + f.incident["grid"], "owner-key", `{"comment":"x"}`, nil, 404, true},
		{"POST", "/api/v1/incidents/" + f.incident["grid"] + "/declare", "oisc-key", `{"comment":"confirmed"}`, nil, 200, true},
		{"POST", "/api/v1/incidents/" + f.incident["grid"] + "/declare", "owner-key", "", nil, 403, true},
		{"GET", "/api/v1/notifications?limit=5", "ncc-key", "", nil, 200, true},
		{"GET", "/api/v1/notifications?limit=0", "ncc-key", "", nil, 400, false},
		{"POST", "/api/v1/notifications/" + f.notification["org/bank"] + "/ack", "owner-key", "", nil, 202, true},
		{"POST", "/api/v1/notifications/" + f.notification["org/grid"] + "/ack", "owner-key", "", nil, 404, true},
		{"GET", "/api/v1/admin/keys", "admin-key", "", nil, 200, true},
		{"POST", "/api/v1/admin/keys", "admin-key", `{"name":"openapi-owner","role":"owner","org":"bank","ttl":"24h"}`, nil, 201, true},
		{"POST", "/api/v1/admin/keys", "admin-key", `{"name":"openapi-owner","role":"owner","org":"bank","ttl":"24h"}`, nil, 409, true},
		{"POST", "/api/v1/admin/keys", "admin-key", `{"name":"x","role":"owner","org":"bank","ttl":"forever"}`, nil, 400, true},
		{"POST", "/api/v1/admin/keys", "admin-key", `{"name":"x","role":"emperor"}`, nil, 400, false},
		{"DELETE", "/api/v1/admin/keys/" + f.key, "admin-key", "", nil, 200, true},
		{"POST", "/api/v1/admin/keys/" + f.key + "/revoke", "admin-key", "", nil, 200, true},
		{"DELETE", "/api/v1/admin/keys/nothex", "admin-key", "", nil, 400, false},
		{"DELETE", "/api/v1/admin/keys/" + strings.Repeat("0", 32), "admin-key", "", nil, 404, true},
	} {
		e := doExchange(t, srv, x.method, x.target, x.key, x.body, x.hdr...)
		if e.status != x.status {
			t.Errorf("%s %s (%s): %d, want %d: %.300s", x.method, x.target, x.key, e.status, x.status, e.body)
			continue
		}
		c.check(t, e, x.valid)
	}
}

// TestOpenAPIContractCatches: the validation has teeth. Answers that
// break the document (a missing field, an unknown error code, a missing
// header, an undocumented status) and requests it forbids are caught.
func TestOpenAPIContractCatches(t *testing.T) {
	c := loadContract(t)
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r-1"}, "X-Content-Type-Options": {"nosniff"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	unauthorized := `{"error":{"code":"unauthorized","message":"an API key is required"}}`
	for _, e := range []exchange{
		{method: "GET", target: "/api/v1/whoami", status: 200, header: hdr(), body: []byte(`{"name":"n"}`)},
		{method: "GET", target: "/api/v1/whoami", status: 200, header: hdr(), body: []byte(`{"name":"n","role":"emperor"}`)},
		{method: "GET", target: "/api/v1/whoami", status: 200, header: hdr("X-Request-Id", ""), body: []byte(`{"name":"n","role":"owner"}`)},
		{method: "GET", target: "/api/v1/whoami", status: 200, header: hdr("X-Content-Type-Options", ""), body: []byte(`{"name":"n","role":"owner"}`)},
		{method: "GET", target: "/api/v1/whoami", status: 418, header: hdr(), body: []byte(`{}`)},
		{method: "GET", target: "/api/v1/whoami", status: 401, header: hdr(), body: []byte(unauthorized)},
		{method: "GET", target: "/api/v1/whoami", status: 401, header: hdr("WWW-Authenticate", `Bearer realm="kuzet"`),
			body: []byte(`{"error":{"code":"no_idea","message":"x"}}`)},
		{method: "GET", target: "/api/v1/events", status: 200, header: hdr(), body: []byte(`{"events":[],"limit":10}`)},
		{method: "GET", target: "/api/v1/incidents", status: 200, header: hdr(),
			body: []byte(`{"incidents":[{"id":"x"}],"next_cursor":"","limit":10}`)},
		{method: "GET", target: "/api/v1/events", status: 200, header: hdr("Content-Type", "text/html"), body: []byte(`<p>`)},
	} {
		e.reqHeader = http.Header{}
		if err := c.checkResponse(e); err == nil {
			t.Errorf("%s %s %d %s (headers %v): accepted", e.method, e.target, e.status, e.body, e.header)
		}
	}
	for _, e := range []exchange{
		{method: "GET", target: "/api/v1/events?limit=0"},
		{method: "GET", target: "/api/v1/alerts?level=severe"},
		{method: "PATCH", target: "/api/v1/incidents/x", reqBody: []byte(`{"colour":"red"}`), reqHeader: http.Header{"Content-Type": {"application/json"}}},
		{method: "POST", target: "/api/v1/incidents", reqBody: []byte(`{"title":"no detected_at"}`), reqHeader: http.Header{"Content-Type": {"application/json"}}},
	} {
		if e.reqHeader == nil {
			e.reqHeader = http.Header{}
		}
		if err := c.checkRequest(e); err == nil {
			t.Errorf("request %s %s %s: accepted", e.method, e.target, e.reqBody)
		}
	}
}

// seededFixture is the changes fixture (API, NATS, the ncc's stage,
// ClickHouse) with the data of two organisations: events, alerts,
// incidents made through the API (the bank's self-report, the grid's
// declaration by oisc-b and a TLP:RED one of the grid naming only oisc-b's
// key), notifications sent to each kind of recipient, and a stored key.
type seededFixture struct {
	*changesFixture
	// incident by "bank", "grid", "red".
	incident map[string]string
	// notification by "<kind>/<recipient>".
	notification map[string]string
	// key is a stored key's id; rotateKey another's, for rotation alone.
	key, rotateKey string
	// alert is one seeded alert's id, by organisation.
	alert map[string]string
	// grouped is an incident the ncc's stage grouped from two alerts, by
	// organisation; splitAlert one of its alerts.
	grouped, splitAlert map[string]string
	// silence by "ncc" (made by the NCC), "oisc-b" (by oisc-b's analyst)
	// and "oisc-a" (by the NCC, for oisc-a's alerts only).
	silence map[string]string
	// digest by scope: "national" and "sector:healthcare".
	digest map[string]string
}

func newSeededFixture(t *testing.T) *seededFixture {
	t.Helper()
	f := &seededFixture{changesFixture: newChangesFixture(t), incident: map[string]string{}, notification: map[string]string{},
		alert: map[string]string{}, grouped: map[string]string{}, splitAlert: map[string]string{}, silence: map[string]string{},
		digest: map[string]string{}}
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	var rows []store.EventRow
	for i, org := range []string{"bank", "bank", "grid", "grid"} {
		oisc, sector, object := "oisc-a", "banking", "cbs"
		if org == "grid" {
			oisc, sector, object = "oisc-b", "electricity", "scada-1"
		}
		ev := &event.Event{Timestamp: now.Add(-time.Minute), Message: "login failed for user admin"}
		if err := event.Stamp(ev, now.Add(time.Duration(i-10)*time.Second), "c1", oisc, "test"); err != nil {
			t.Fatal(err)
		}
		ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector, ev.Kuzet.Asset = org, object, sector, event.AssetKnown
		doc, _ := event.Marshal(ev)
		r, err := store.NewEventRow(ev, doc)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
		aid := uuid.New()
		f.alert[org] = aid.String()
		if err := f.st.InsertAlerts(ctx, []alert.Alert{{ID: aid, ReceivedAt: now, DetectedAt: now, EventTime: now, RuleID: "r-scan",
			RuleTitle: "Scan", Level: "high", OISC: oisc, Org: org, Object: object, Sector: sector, Asset: "known", Criticality: 1,
			EventIDs: []string{ev.Kuzet.EventID}, Tags: []string{"attack.discovery"}, Attack: []string{"attack.discovery"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.InsertEvents(ctx, rows); err != nil {
		t.Fatal(err)
	}
	detected := now.Add(-30 * time.Minute).Format(time.RFC3339)
	for name, r := range map[string]struct{ key, body string }{
		"bank": {"owner-key", `{"object_ids":["cbs"],"title":"Phishing at the bank","detected_at":"` + detected + `","rsit_class":"fraud","rsit_type":"phishing"}`},
		"grid": {"oisc-key", `{"org":"grid","object_ids":["scada-1"],"title":"Scan of the SCADA","detected_at":"` + detected + `","rsit_class":"information-gathering","rsit_type":"scanner"}`},
		"red":  {"oisc-key", `{"org":"grid","title":"Red","detected_at":"` + detected + `","rsit_class":"information-gathering","rsit_type":"scanner","tlp":"RED"}`},
		// Merged away by the matrix's analysts (into "bank" and "grid").
		"merge-bank": {"owner-key", `{"object_ids":["cbs"],"title":"Phishing again","detected_at":"` + detected + `","rsit_class":"fraud","rsit_type":"phishing"}`},
		"merge-grid": {"oisc-key", `{"org":"grid","object_ids":["scada-1"],"title":"Scan again","detected_at":"` + detected + `","rsit_class":"information-gathering","rsit_type":"scanner"}`},
	} {
		e := doExchange(t, f.srv, http.MethodPost, "/api/v1/incidents", r.key, r.body)
		var rc struct{ ID string }
		if e.status != http.StatusCreated || json.Unmarshal(e.body, &rc) != nil {
			t.Fatalf("the %s incident: %d %s", name, e.status, e.body)
		}
		f.incident[name] = rc.ID
	}
	var sent []store.NotificationLogEntry
	for _, r := range []struct{ kind, recipient, incident string }{
		{"ncc", "ncc", "bank"}, {"oisc", "oisc-a", "bank"}, {"oisc", "oisc-b", "grid"}, {"org", "bank", "bank"}, {"org", "grid", "grid"},
		{"sectoral_isc", "isc-energy", "grid"},
	} {
		id := uuid.NewString()
		f.notification[r.kind+"/"+r.recipient] = id
		sent = append(sent, store.NotificationLogEntry{At: now, NotificationID: id, IncidentID: f.incident[r.incident], Org: r.incident,
			Regime: "kz_test", Stage: "initial", Recipient: r.recipient, Kind: r.kind, Channel: "api", Attempt: 1,
			Outcome: store.DeliverySent, PayloadSHA256: strings.Repeat("0", 64)})
	}
	if err := f.st.InsertNotificationLog(ctx, sent); err != nil {
		t.Fatal(err)
	}
	e := doExchange(t, f.srv, http.MethodPost, "/api/v1/admin/keys", "admin-key", `{"name":"matrix-target","role":"owner","org":"bank","ttl":"24h"}`)
	var k struct{ ID string }
	if e.status != http.StatusCreated || json.Unmarshal(e.body, &k) != nil {
		t.Fatalf("the stored key: %d %s", e.status, e.body)
	}
	f.key = k.ID
	e = doExchange(t, f.srv, http.MethodPost, "/api/v1/admin/keys", "admin-key", `{"name":"matrix-rotate","role":"owner","org":"bank","ttl":"24h"}`)
	if e.status != http.StatusCreated || json.Unmarshal(e.body, &k) != nil {
		t.Fatalf("the key to rotate: %d %s", e.status, e.body)
	}
	f.rotateKey = k.ID
	f.seedGrouped(t)
	for name, r := range map[string]struct{ key, body string }{
		"ncc":    {"ncc-key", `{"matchers":[{"name":"rule","op":"=","value":"r-none"}],"reason":"matrix","duration":"1h"}`},
		"oisc-b": {"oisc-key", `{"matchers":[{"name":"rule","op":"=","value":"r-none"}],"reason":"matrix","duration":"1h"}`},
		"oisc-a": {"ncc-key", `{"matchers":[{"name":"oisc","op":"=","value":"oisc-a"}],"reason":"matrix","duration":"1h"}`},
	} {
		e := doExchange(t, f.srv, http.MethodPost, "/api/v1/silences", r.key, r.body)
		var sr struct{ ID string }
		if e.status != http.StatusCreated || json.Unmarshal(e.body, &sr) != nil {
			t.Fatalf("the %s silence: %d %s", name, e.status, e.body)
		}
		f.silence[name] = sr.ID
	}
	yesterday := now.AddDate(0, 0, -2).Format("2006-01-02")
	for _, scope := range []string{"national", "sector:healthcare"} {
		e := doExchange(t, f.srv, http.MethodPost, "/api/v1/reports", "ncc-key",
			`{"kind":"daily","scope":"`+scope+`","period_start":"`+yesterday+`","lang":"en"}`)
		var d struct{ ID string }
		if e.status != http.StatusCreated || json.Unmarshal(e.body, &d) != nil {
			t.Fatalf("the %s digest: %d %s", scope, e.status, e.body)
		}
		f.digest[scope] = d.ID
	}
	return f
}

// seedGrouped sends two alerts of one rule for each organisation through
// the alerts stream and waits for the stage to group each pair into an
// incident (one the matrix splits).
func (f *seededFixture) seedGrouped(t *testing.T) {
	t.Helper()
	for _, org := range []string{"bank", "grid"} {
		oisc, sector, object := "oisc-a", "banking", "cbs"
		if org == "grid" {
			oisc, sector, object = "oisc-b", "electricity", "scada-1"
		}
		for i := 0; i < 2; i++ {
			f.splitAlert[org] = f.sendAlert(t, "r-group", org, object, sector, oisc).ID.String()
		}
	}
	eventually(t, "the grouped incidents", 20*time.Second, func() error {
		for _, org := range []string{"bank", "grid"} {
			f.grouped[org] = ""
			for _, in := range f.incidents(t, org) {
				if len(in.RuleIDs) > 0 && in.RuleIDs[0] == "r-group" && in.AlertCount == 2 {
					f.grouped[org] = in.ID
				}
			}
			if f.grouped[org] == "" {
				return fmt.Errorf("no incident of two r-group alerts of %s yet", org)
			}
		}
		return nil
	})
}
