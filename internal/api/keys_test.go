package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/api"
)

// send makes one in-process request with a body and returns status, body.
func send(t *testing.T, srv *api.Server, method, key, target, body string, hdr ...string) (int, []byte, http.Header) {
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
	resp, err := srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

type createdKey struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	Org   string `json:"org"`
	State string `json:"state"`
}

func createKey(t *testing.T, srv *api.Server, body string) createdKey {
	t.Helper()
	code, b, hdr := send(t, srv, http.MethodPost, "admin-key", "/api/v1/admin/keys", body)
	if code != http.StatusCreated {
		t.Fatalf("create key %s: %d %s", body, code, b)
	}
	var k createdKey
	if err := json.Unmarshal(b, &k); err != nil || k.Key == "" || k.ID == "" || k.State != "active" {
		t.Fatalf("created key %s: %v", b, err)
	}
	if hdr.Get("Location") != "/api/v1/admin/keys/"+k.ID || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("created key headers: %v", hdr)
	}
	if bytes.Contains(b, []byte("sha256:")) || bytes.Contains(b, []byte(`"hash"`)) {
		t.Errorf("created key answer shows a hash: %s", b)
	}
	return k
}

func authFailures(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kuzet_api_auth_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestStoredKeys: a key made through the admin API works at once, with its
// role's scope; the store holds only its hash; revoked, it stops working on
// another instance within the cache TTL; expired, it is refused; both
// answer 401 like an unknown key and are counted by reason.
func TestStoredKeys(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	const ttl = 500 * time.Millisecond
	f := newFixture(t, func(o *api.Options) { o.Now = now; o.Config.StoredKeys.CacheTTL = ttl })

	owner := createKey(t, f.srv, `{"name":"grid-soc","role":"owner","org":"grid","ttl":"1h"}`)
	code, b, _ := send(t, f.srv, http.MethodGet, owner.Key, "/api/v1/whoami", "")
	if code != 200 || !strings.Contains(string(b), `"role":"owner"`) || !strings.Contains(string(b), `"org":"grid"`) {
		t.Fatalf("new key whoami: %d %s", code, b)
	}
	var page eventsBody
	if code, b := f.get(t, owner.Key, "/api/v1/events?limit=50"); code != 200 || json.Unmarshal(b, &page) != nil || len(page.Events) != 4 {
		t.Fatalf("owner of grid reads its 4 events: %d %s", code, b)
	}

	// The store holds the hash and never the key.
	ctx := context.Background()
	var n uint64
	// kz_<id>_<secret>: the secret is base64url, which has '_' too (what
	// followed its last '_' was found by chance in a hash once).
	secret := strings.SplitN(owner.Key, "_", 3)[2]
	if err := f.st.QueryRowScan(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE position(concat(id, name, hash, role, oisc, org, created_by, "+
		"arrayStringConcat(sectors)), '%s') > 0 OR position(concat(id, name, hash), '%s') > 0", f.st.Table("api_keys"), secret, owner.Key), &n); err != nil || n != 0 {
		t.Fatalf("rows holding the key: %d, %v", n, err)
	}
	if err := f.st.QueryRowScan(ctx, fmt.Sprintf("SELECT count() FROM %s WHERE position(concat(detail, resource_id, actor), '%s') > 0",
		f.st.Table("audit_log"), secret), &n); err != nil || n != 0 {
		t.Fatalf("audit rows holding the key: %d, %v", n, err)
	}
	if err := f.st.QueryRowScan(ctx, fmt.Sprintf("SELECT count() FROM %s FINAL WHERE id = '%s' AND hash LIKE 'sha256:%%'",
		f.st.Table("api_keys"), owner.ID), &n); err != nil || n != 1 {
		t.Fatalf("hashed row: %d, %v", n, err)
	}

	// The list shows the key, never a hash.
	code, b, _ = send(t, f.srv, http.MethodGet, "admin-key", "/api/v1/admin/keys", "")
	if code != 200 || !strings.Contains(string(b), owner.ID) || strings.Contains(string(b), "sha256:") || strings.Contains(string(b), secret) {
		t.Fatalf("list: %d %s", code, b)
	}

	// A second instance over the same store caches the key, then learns of
	// its revocation within the TTL.
	other, err := api.New(api.Options{Config: f.cfg, Store: f.st, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop(ctx) })
	if code, b, _ := send(t, other, http.MethodGet, owner.Key, "/api/v1/whoami", ""); code != 200 {
		t.Fatalf("other instance: %d %s", code, b)
	}
	code, b, _ = send(t, f.srv, http.MethodDelete, "admin-key", "/api/v1/admin/keys/"+owner.ID, "")
	if code != 200 || !strings.Contains(string(b), `"state":"revoked"`) {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _, _ := send(t, f.srv, http.MethodGet, owner.Key, "/api/v1/whoami", ""); code != 401 {
		t.Fatalf("revoked key on the revoking instance: %d", code)
	}
	revokedAt := time.Now()
	for {
		code, b, _ := send(t, other, http.MethodGet, owner.Key, "/api/v1/whoami", "")
		if code == 401 {
			var eb errBody
			if json.Unmarshal(b, &eb) != nil || eb.Error.Code != api.CodeUnauthorized || eb.Error.Message != "invalid API key" {
				t.Fatalf("revoked key answer: %s", b)
			}
			break
		}
		if time.Since(revokedAt) > ttl+time.Second {
			t.Fatalf("revoked key still accepted by another instance %s after revocation", time.Since(revokedAt))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, _ := send(t, f.srv, http.MethodPost, "admin-key", "/api/v1/admin/keys/"+owner.ID+"/revoke", ""); code != 200 {
		t.Fatalf("revoke twice: %d", code)
	}
	if got := authFailures(t, f.reg, "revoked"); got < 1 {
		t.Errorf("auth failures{revoked} = %v", got)
	}

	// Expiry: two hours on, a key of one hour is refused like an unknown one.
	short := createKey(t, f.srv, `{"name":"short","role":"ncc-analyst","ttl":"1h"}`)
	if code, _, _ := send(t, f.srv, http.MethodGet, short.Key, "/api/v1/whoami", ""); code != 200 {
		t.Fatalf("fresh key: %d", code)
	}
	skew.Store(int64(2 * time.Hour))
	code, b, _ = send(t, f.srv, http.MethodGet, short.Key, "/api/v1/whoami", "")
	var eb errBody
	if code != 401 || json.Unmarshal(b, &eb) != nil || eb.Error.Message != "invalid API key" {
		t.Fatalf("expired key: %d %s", code, b)
	}
	if got := authFailures(t, f.reg, "expired"); got != 1 {
		t.Errorf("auth failures{expired} = %v, want 1", got)
	}
	// A forged key of the stored shape (a real id, another secret).
	forged := short.Key[:len(short.Key)-4] + "AAAA"
	if code, _, _ := send(t, f.srv, http.MethodGet, forged, "/api/v1/whoami", ""); code != 401 {
		t.Fatalf("forged key: %d", code)
	}
}

// TestAdminRoutesOnlyForAdmin: every other role gets 403 on every admin
// route, without a key 401.
func TestAdminRoutesOnlyForAdmin(t *testing.T) {
	f := newFixture(t)
	routes := []struct{ method, target, body string }{
		{http.MethodGet, "/api/v1/admin/keys", ""},
		{http.MethodPost, "/api/v1/admin/keys", `{"name":"x","role":"ncc-analyst"}`},
		{http.MethodDelete, "/api/v1/admin/keys/0123456789abcdef0123456789abcdef", ""},
		{http.MethodPost, "/api/v1/admin/keys/0123456789abcdef0123456789abcdef/revoke", ""},
		{http.MethodPost, "/api/v1/admin/keys/0123456789abcdef0123456789abcdef/rotate", `{"grace":"1h"}`},
	}
	for _, r := range routes {
		for k, v := range keys {
			if v.Role == "admin" {
				continue
			}
			code, b, _ := send(t, f.srv, r.method, k, r.target, r.body)
			var eb errBody
			if code != 403 || json.Unmarshal(b, &eb) != nil || eb.Error.Code != api.CodeForbidden {
				t.Errorf("%s %s as %s: %d %s", r.method, r.target, v.Role, code, b)
			}
		}
		if code, _, _ := send(t, f.srv, r.method, "", r.target, r.body); code != 401 {
			t.Errorf("%s %s without a key: %d", r.method, r.target, code)
		}
	}
	// The admin reads no incident data.
	if code, _ := f.get(t, "admin-key", "/api/v1/incidents"); code != 403 {
		t.Errorf("admin lists incidents: %d", code)
	}
	if code, _, hdr := send(t, f.srv, http.MethodPut, "admin-key", "/api/v1/admin/keys", ""); code != 405 || hdr.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT /admin/keys: %d Allow %q", code, hdr.Get("Allow"))
	}
	if code, _, _ := send(t, f.srv, http.MethodDelete, "admin-key", "/api/v1/admin/keys/0123456789abcdef0123456789abcdef", ""); code != 404 {
		t.Errorf("revoke an unknown key: %d", code)
	}
}

// TestCreateKeyRejects: hostile and wrong bodies get a clear 4xx with a
// stable code and the field.
func TestCreateKeyRejects(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		body        string
		code        int
		errCode     string
		field       string
		description string
	}{
		{`{"name":"a","role":"ncc-analyst","extra":1}`, 400, api.CodeUnknownField, "extra", "unknown field"},
		{`{"name":"a","role":"ncc-analyst"} {}`, 400, api.CodeInvalidBody, "", "trailing data"},
		{`{"name":"a","role":"ncc-analyst"`, 400, api.CodeInvalidBody, "", "cut short"},
		{`[]`, 400, api.CodeInvalidBody, "", "not an object"},
		{"{\"name\":\"\xff\",\"role\":\"ncc-analyst\"}", 400, api.CodeInvalidBody, "", "invalid UTF-8"},
		{`{"name":"a","role":7}`, 400, api.CodeInvalidField, "role", "wrong type"},
		{`{"name":"a","role":"root"}`, 400, api.CodeInvalidParameter, "role", "unknown role"},
		{`{"name":"a b","role":"ncc-analyst"}`, 400, api.CodeInvalidParameter, "name", "bad name"},
		{`{"name":"a","role":"owner"}`, 400, api.CodeInvalidParameter, "org", "owner without org"},
		{`{"name":"a","role":"owner","org":"nowhere"}`, 400, api.CodeInvalidParameter, "org", "org not in the registry"},
		{`{"name":"a","role":"oisc-analyst","oisc":"bank"}`, 400, api.CodeInvalidParameter, "oisc", "not an OISC"},
		{`{"name":"a","role":"ncc-analyst","org":"bank"}`, 400, api.CodeInvalidParameter, "org", "scope the role has not"},
		{`{"name":"a","role":"regulator","sectors":["'; DROP TABLE api_keys --"]}`, 400, api.CodeInvalidParameter, "sectors", "SQL-ish sector"},
		{`{"name":"a","role":"ncc-analyst","ttl":"87600h"}`, 400, api.CodeInvalidParameter, "expires_at", "too long"},
		{`{"name":"a","role":"ncc-analyst","expires_at":"2001-01-01T00:00:00Z"}`, 400, api.CodeInvalidParameter, "expires_at", "past"},
		{`{"name":"a","role":"ncc-analyst","ttl":"1h","expires_at":"2030-01-01T00:00:00Z"}`, 400, api.CodeInvalidParameter, "ttl", "both"},
		{`{"name":"a","role":"ncc-analyst","note":"` + strings.Repeat("x", 9000) + `"}`, 413, api.CodeTooLarge, "", "oversize"},
		{strings.Repeat("[", 5000), 400, api.CodeTooDeep, "", "deep"},
	} {
		code, b, _ := send(t, f.srv, http.MethodPost, "admin-key", "/api/v1/admin/keys", c.body)
		var eb errBody
		if code != c.code || json.Unmarshal(b, &eb) != nil || eb.Error.Code != c.errCode || eb.Error.Field != c.field {
			t.Errorf("%s: %d %s; want %d %s field %q", c.description, code, b, c.code, c.errCode, c.field)
		}
	}
	createKey(t, f.srv, `{"name":"dup","role":"ncc-analyst"}`)
	if code, b, _ := send(t, f.srv, http.MethodPost, "admin-key", "/api/v1/admin/keys", `{"name":"dup","role":"ncc-analyst"}`); code != 409 {
		t.Errorf("a second key named dup: %d %s", code, b)
	}
	if code, b, _ := send(t, f.srv, http.MethodDelete, "admin-key", "/api/v1/admin/keys/NOT-AN-ID", ""); code != 400 {
		t.Errorf("malformed id: %d %s", code, b)
	}
	if code, _ := f.get(t, "ncc-key", "/api/v1/whoami"); code != 200 {
		t.Errorf("server still serves: %d", code)
	}
	var n uint64
	if err := f.st.QueryRowScan(context.Background(), "SELECT count() FROM "+f.st.Table("api_keys"), &n); err != nil || n != 1 {
		t.Errorf("stored keys after the rejects: %d, %v", n, err)
	}
}
