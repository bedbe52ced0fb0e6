package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"
)

// matrixRoles are the columns of testdata/authz-matrix.yaml, with the key
// each uses (none: no key). Their scopes are those of keys (api_test.go).
var matrixRoles = []struct{ role, key string }{
	{"none", ""},
	{"ncc-analyst", "ncc-key"},
	{"oisc-analyst", "oisc-key"},     // oisc-b: the grid
	{"sector-analyst", "sector-key"}, // electricity: the grid
	{"owner", "owner-key"},           // the bank
	{"regulator", "regulator-key"},   // banking
	{"admin", "admin-key"},
}

// resource is the id a matrix row's {id} stands for, for the role and the
// scope ("in" or "out"); see the file's header.
func (f *seededFixture) resource(route, role, scope string) string {
	pick := func(m map[string]string, in, out string) string {
		if scope == "in" {
			return m[in]
		}
		return m[out]
	}
	analyst := func(ncc, oisc string) string { // for the roles that may, else the NCC's
		if role == "oisc-analyst" {
			return oisc
		}
		return ncc
	}
	switch {
	case strings.Contains(route, "/admin/keys/"):
		if scope == "out" {
			return strings.Repeat("0", 32)
		}
		if strings.HasSuffix(route, "/rotate") {
			return f.rotateKey
		}
		return f.key
	case strings.Contains(route, "/admin/registry/"):
		// in: an object the rows put, then delete; out: another id (no
		// such object to delete; a put whose body names another).
		return pick(map[string]string{"in": "objects/matrix-object", "out": "objects/matrix-elsewhere"}, "in", "out")
	case strings.Contains(route, "/alerts/{id}"):
		return pick(map[string]string{"bank": f.alert["bank"], "grid": f.alert["grid"], "none": uuid.NewString()},
			analyst("bank", "grid"), analyst("none", "bank"))
	case strings.Contains(route, "/silences/{id}"):
		return pick(map[string]string{"ncc": f.silence["ncc"], "oisc-b": f.silence["oisc-b"], "oisc-a": f.silence["oisc-a"], "none": uuid.NewString()},
			analyst("ncc", "oisc-b"), analyst("none", "oisc-a"))
	case strings.Contains(route, "/reports/{id}"):
		if scope == "in" {
			return f.digest["national"]
		}
		if role == "ncc-analyst" {
			return uuid.NewString()
		}
		return f.digest["sector:healthcare"]
	case strings.HasSuffix(route, "/merge"):
		return pick(map[string]string{"bank": f.incident["merge-bank"], "grid": f.incident["merge-grid"], "red": f.incident["red"]},
			analyst("bank", "grid"), analyst("red", "bank"))
	case strings.HasSuffix(route, "/split"):
		return pick(map[string]string{"bank": f.grouped["bank"], "grid": f.grouped["grid"], "red": f.incident["red"]},
			analyst("bank", "grid"), analyst("red", "bank"))
	case strings.Contains(route, "/notifications/{id}"):
		n := f.notification
		switch role {
		case "ncc-analyst", "none":
			return pick(n, "ncc/ncc", "oisc/oisc-a")
		case "oisc-analyst":
			return pick(n, "oisc/oisc-b", "oisc/oisc-a")
		case "owner":
			return pick(n, "org/bank", "org/grid")
		case "sector-analyst":
			return pick(n, "sectoral_isc/isc-energy", "org/bank")
		case "regulator":
			return pick(n, "ncc/ncc", "org/grid")
		}
		return pick(n, "ncc/ncc", "org/bank")
	default:
		in := f.incident
		switch role {
		case "ncc-analyst", "none":
			return pick(in, "bank", "red")
		case "oisc-analyst", "sector-analyst":
			return pick(in, "grid", "bank")
		}
		return pick(in, "bank", "grid")
	}
}

// matrixBody is the body a row sends for the role: a change every role
// that changes incidents may make, a report of the caller's own
// organisation, a key with a name of its own, a merge into (and a split
// of an alert of) an incident of the analyst's scope, a triage of the
// alert of its scope, a silence, a digest, the registry as it is and an
// object of the bank.
func (f *seededFixture) matrixBody(route, role string) string {
	detected := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	org := "bank"
	if role == "oisc-analyst" {
		org = "grid"
	}
	switch route {
	case "POST /api/v1/incidents/{id}/merge":
		return `{"into":"` + f.incident[org] + `"}`
	case "POST /api/v1/incidents/{id}/split":
		return `{"alert_ids":["` + f.splitAlert[org] + `"]}`
	case "POST /api/v1/alerts/{id}/triage":
		return `{"status":"acknowledged","reason":"seen by ` + role + ` (authorisation matrix)"}`
	case "POST /api/v1/alerts/triage":
		return `{"status":"acknowledged","reason":"bulk (authorisation matrix)","ids":["` + f.alert["bank"] + `","` + f.alert["grid"] + `"]}`
	case "POST /api/v1/silences":
		return `{"matchers":[{"name":"rule","op":"=","value":"r-matrix"}],"reason":"maintenance (authorisation matrix)","duration":"30m"}`
	case "POST /api/v1/reports":
		return `{"kind":"daily","scope":"national","period_start":"` + time.Now().UTC().AddDate(0, 0, -3).Format("2006-01-02") + `","lang":"kk"}`
	case "PUT /api/v1/admin/registry":
		return testRegistryJSON
	case "PUT /api/v1/admin/registry/{kind}/{id}":
		return `{"id":"matrix-object","name":"Matrix object","kind":"information_system","owner":"bank","sector":"banking","criticality":2,"oisc":"oisc-a"}`
	case "POST /api/v1/incidents":
		org := `"org":"bank","object_ids":["cbs"],`
		switch role {
		case "owner":
			org = `"object_ids":["cbs"],`
		case "oisc-analyst", "sector-analyst":
			org = `"org":"grid","object_ids":["scada-1"],`
		}
		return `{` + org + `"title":"Reported by ` + role + `","detected_at":"` + detected + `","rsit_class":"fraud","rsit_type":"phishing"}`
	case "PATCH /api/v1/incidents/{id}":
		return `{"comment":"seen by ` + role + ` (authorisation matrix)"}`
	case "POST /api/v1/incidents/{id}/declare":
		return `{"comment":"declared by ` + role + ` (authorisation matrix)"}`
	case "POST /api/v1/admin/keys":
		return `{"name":"matrix-` + role + `","role":"regulator","sectors":["banking"],"ttl":"1h"}`
	}
	return ""
}

// testRegistryJSON is testRegistry as JSON (the body PUT
// /api/v1/admin/registry takes as application/json).
const testRegistryJSON = `{"version":1,"centers":[{"id":"oisc-a","name":"OISC A","kind":"oisc"},{"id":"oisc-b","name":"OISC B","kind":"oisc"},` +
	`{"id":"isc-energy","name":"Energy ISC","kind":"sectoral_isc","sectors":["electricity"]}],` +
	`"organisations":[{"id":"bank","name":"Bank","sectors":["banking"],"oiscs":["oisc-a"]},{"id":"grid","name":"Grid","sectors":["electricity"],"oiscs":["oisc-b"]}]}`

type matrixRow struct {
	Route  string            `yaml:"route"`
	Scope  string            `yaml:"scope"`
	Expect map[string]string `yaml:"expect"`
}

// loadMatrix reads testdata/authz-matrix.yaml strictly.
func loadMatrix(t *testing.T) []matrixRow {
	t.Helper()
	data, err := os.ReadFile("testdata/authz-matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Rows []matrixRow `yaml:"rows"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("authz-matrix.yaml: %v", err)
	}
	return m.Rows
}

// parseAnswer reads "404 not_found" (a 4xx names its code) or "200".
func parseAnswer(s string) (int, string, error) {
	st, code, _ := strings.Cut(strings.TrimSpace(s), " ")
	n, err := strconv.Atoi(st)
	if err != nil || n < 100 || n > 599 {
		return 0, "", fmt.Errorf("%q: not a status", s)
	}
	if n/100 == 4 && code == "" {
		return 0, "", fmt.Errorf("%q: a 4xx names its error code", s)
	}
	if n/100 != 4 && code != "" {
		return 0, "", fmt.Errorf("%q: only a 4xx names an error code", s)
	}
	return n, code, nil
}

// TestAuthzMatrixCoversEveryRoute: the matrix has a row for every route
// the API registers (two, in and out of scope, for a route with an {id}),
// a column for every role, and names no route the API does not register.
// It needs no servers; TestAuthzMatrix checks the same first.
func TestAuthzMatrixCoversEveryRoute(t *testing.T) {
	checkMatrixCoverage(t, loadMatrix(t), registeredRoutes(t))
}

func checkMatrixCoverage(t *testing.T, rows []matrixRow, registered []string) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range rows {
		where := fmt.Sprintf("authz-matrix.yaml row %d (%s %s)", i+1, r.Route, r.Scope)
		if !slices.Contains(registered, r.Route) {
			t.Errorf("%s: the API registers no such route", where)
		}
		hasID := strings.Contains(r.Route, "{")
		if hasID && r.Scope != "in" && r.Scope != "out" || !hasID && r.Scope != "" {
			t.Errorf("%s: scope must be in or out for a route with an {id}, and absent otherwise", where)
		}
		if seen[r.Route+" "+r.Scope] {
			t.Errorf("%s: twice", where)
		}
		seen[r.Route+" "+r.Scope] = true
		for _, mr := range matrixRoles {
			if _, ok := r.Expect[mr.role]; !ok {
				t.Errorf("%s: no answer for role %s", where, mr.role)
			}
		}
		for role, want := range r.Expect {
			if !slices.ContainsFunc(matrixRoles, func(mr struct{ role, key string }) bool { return mr.role == role }) {
				t.Errorf("%s: unknown role %q", where, role)
			}
			if _, _, err := parseAnswer(want); err != nil {
				t.Errorf("%s, %s: %v", where, role, err)
			}
		}
	}
	for _, route := range registered {
		scopes := []string{""}
		if strings.Contains(route, "{") {
			scopes = []string{"in", "out"}
		}
		for _, sc := range scopes {
			if !seen[route+" "+sc] {
				t.Errorf("route %s (scope %q) has no row in testdata/authz-matrix.yaml", route, sc)
			}
		}
	}
}

// TestAuthzMatrix runs every row of testdata/authz-matrix.yaml for every
// role against the real API over real ClickHouse and NATS, in-process, and
// checks each answer's status and error code, and that it is as the
// OpenAPI document says.
func TestAuthzMatrix(t *testing.T) {
	rows := loadMatrix(t)
	registered := registeredRoutes(t)
	checkMatrixCoverage(t, rows, registered)
	f := newSeededFixture(t)
	c := loadContract(t)
	for _, r := range rows {
		if !slices.Contains(registered, r.Route) {
			t.Errorf("authz-matrix.yaml names %s, which the API does not register", r.Route)
			continue
		}
		method, path, _ := strings.Cut(r.Route, " ")
		for _, mr := range matrixRoles {
			want, wantCode, err := parseAnswer(r.Expect[mr.role])
			if err != nil {
				t.Errorf("%s %s: %v", r.Route, mr.role, err)
				continue
			}
			target := path
			if r.Scope != "" {
				target = strings.Replace(strings.Replace(path, "{kind}/{id}", "{id}", 1), "{id}", f.resource(path, mr.role, r.Scope), 1)
			}
			e := doExchange(t, f.srv, method, target, mr.key, f.matrixBody(r.Route, mr.role))
			got := strconv.Itoa(e.status)
			if e.status/100 == 4 {
				got += " " + errCodeOf(e.body)
			}
			if e.status != want || wantCode != "" && got != strconv.Itoa(want)+" "+wantCode {
				t.Errorf("%s (scope %q) as %s: %s, want %s: %.300s", r.Route, r.Scope, mr.role, got, r.Expect[mr.role], e.body)
				continue
			}
			c.check(t, e, true)
		}
	}
}

// errCodeOf is the code of an error answer.
func errCodeOf(body []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}
