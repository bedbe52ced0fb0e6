package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

const testRegistry = `version: 1
centers:
  - {id: oisc-a, name: OISC A, kind: oisc}
organisations:
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-a]}
`

type env struct {
	st      *store.Store
	natsURL string
	heads   *bus.AuditHeads
	regFile string
	chAddr  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.Open(t)
	ns := bustest.Server(t)
	nc := config.DefaultNATS()
	nc.URL = ns.ClientURL()
	heads, err := bus.DialAuditHeads(context.Background(), nc, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = heads.Close() })
	reg := filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(reg, []byte(testRegistry), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{st: st, natsURL: ns.ClientURL(), heads: heads, regFile: reg, chAddr: storetest.Addr(t)}
}

// server is an API instance over the env's store and bucket, with the
// configured key "ncc-key" (role ncc-analyst).
func (e *env) server(t *testing.T, instance string) *api.Server {
	t.Helper()
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen, cfg.RegistryFile = "127.0.0.1:0", "", e.regFile
	cfg.Audit.Instance = instance
	cfg.StoredKeys.CacheTTL = 0
	cfg.Keys = []config.APIKey{{Name: "ncc", Role: "ncc-analyst", Hash: access.HashKey("ncc-key")}}
	srv, err := api.New(api.Options{Config: cfg, Store: e.st, AuditHeads: e.heads, Registerer: prometheus.NewPedanticRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}

func get(t *testing.T, srv *api.Server, key, target string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) kuzet(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (e *env) storeArgs() []string {
	return []string{"-clickhouse", e.chAddr, "-database", e.st.Database()}
}

// tamper rebuilds audit_log without the rows matching drop (a copy-table
// delete: 18.16 has no dependable DELETE), then appends extra rows as they
// are given.
func (e *env) tamper(t *testing.T, drop string, extra ...audit.Record) {
	t.Helper()
	ctx := context.Background()
	tbl, tmp := e.st.Table("audit_log"), e.st.Table("audit_log_tampered")
	for _, q := range []string{
		"CREATE TABLE " + tmp + " AS " + tbl,
		"INSERT INTO " + tmp + " SELECT * FROM " + tbl + " WHERE NOT (" + drop + ")",
		"DROP TABLE " + tbl,
		"RENAME TABLE " + tmp + " TO " + tbl,
	} {
		if err := e.st.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := e.st.AppendAudit(ctx, extra); err != nil {
		t.Fatal(err)
	}
}

func rows(t *testing.T, st *store.Store, instance string) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := st.ScanAudit(context.Background(), instance, time.Minute, func(r audit.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAuditVerify: chains written by API instances verify; a row altered,
// one deleted in the middle and the last one deleted are each named by
// kuzet audit verify as the first broken record, with exit status 1.
func TestAuditVerify(t *testing.T) {
	e := newEnv(t)
	for _, in := range []string{"api-intact", "api-altered", "api-deleted", "api-cut"} {
		srv := e.server(t, in)
		for _, target := range []string{"/api/v1/incidents", "/api/v1/events?limit=1", "/api/v1/alerts", "/api/v1/incidents?limit=2"} {
			if code := get(t, srv, "ncc-key", target); code != 200 {
				t.Fatalf("%s %s: %d", in, target, code)
			}
		}
	}
	verify := func(instance string) (int, string) {
		args := append([]string{"audit", "verify", "-nats", e.natsURL}, e.storeArgs()...)
		if instance != "" {
			args = append(args, "-instance", instance)
		}
		code, out, errOut := e.kuzet(t, args...)
		return code, out + errOut
	}
	if code, out := verify(""); code != 0 || strings.Count(out, "ok, 4 records to seq 4, matching its head") != 4 {
		t.Fatalf("intact chains: exit %d\n%s", code, out)
	}

	altered := rows(t, e.st, "api-altered")[1]
	altered.Outcome = "404"
	e.tamper(t, "instance = 'api-altered' AND seq = 2", altered)
	e.tamper(t, "instance = 'api-deleted' AND seq = 2")
	e.tamper(t, "instance = 'api-cut' AND seq = 4")

	for _, c := range []struct{ instance, want string }{
		{"api-intact", "api-intact: ok, 4 records"},
		{"api-altered", "api-altered: BROKEN at seq 2: altered"},
		{"api-deleted", "api-deleted: BROKEN at seq 2: missing"},
		{"api-cut", "api-cut: BROKEN at seq 4: truncated"},
	} {
		code, out := verify(c.instance)
		wantCode := 1
		if c.instance == "api-intact" {
			wantCode = 0
		}
		if code != wantCode || !strings.Contains(out, c.want) {
			t.Errorf("verify %s: exit %d, want %d and %q:\n%s", c.instance, code, wantCode, c.want, out)
		}
	}
	code, out := verify("")
	if code != 1 || strings.Count(out, "BROKEN") != 3 {
		t.Errorf("every chain: exit %d\n%s", code, out)
	}
	t.Logf("kuzet audit verify:\n%s", out)

	// An instance restarted after its last record was cut goes on after
	// the head, so the gap stays visible.
	srv := e.server(t, "api-cut")
	if code := get(t, srv, "ncc-key", "/api/v1/alerts"); code != 200 {
		t.Fatal(code)
	}
	if code, out := verify("api-cut"); code != 1 || !strings.Contains(out, "BROKEN at seq 4: missing") {
		t.Errorf("cut chain continued: exit %d\n%s", code, out)
	}
}

// TestAPIKeyCommands: kuzet apikey create stores a key the API takes, list
// shows it without its hash, revoke ends it.
func TestAPIKeyCommands(t *testing.T) {
	e := newEnv(t)
	srv := e.server(t, "api-keys")
	args := append([]string{"apikey", "create", "-name", "bank-ciso", "-role", "owner", "-org", "bank", "-ttl", "1h",
		"-registry", e.regFile, "-json"}, e.storeArgs()...)
	code, out, errOut := e.kuzet(t, args...)
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || k.Key == "" {
		t.Fatalf("create: exit %d %s %s", code, out, errOut)
	}
	if code := get(t, srv, k.Key, "/api/v1/incidents"); code != 200 {
		t.Fatalf("created key: %d", code)
	}
	if code, _, errOut := e.kuzet(t, append([]string{"apikey", "create", "-name", "x", "-role", "owner", "-org", "nowhere",
		"-registry", e.regFile}, e.storeArgs()...)...); code != 2 || !strings.Contains(errOut, "not in the registry") {
		t.Errorf("org not in the registry: exit %d %s", code, errOut)
	}
	code, out, _ = e.kuzet(t, append([]string{"apikey", "list"}, e.storeArgs()...)...)
	if code != 0 || !strings.Contains(out, k.ID) || !strings.Contains(out, "active") || strings.Contains(out, "sha256:") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	// Rotation: a new secret, the old one working for its grace (1s here).
	code, out, errOut = e.kuzet(t, append(append([]string{"apikey", "rotate", "-grace", "1s", "-json"}, e.storeArgs()...), k.ID)...)
	var r struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.ID != k.ID || r.Key == "" || r.Key == k.Key {
		t.Fatalf("rotate: exit %d %s %s", code, out, errOut)
	}
	if code := get(t, srv, r.Key, "/api/v1/incidents"); code != 200 {
		t.Fatalf("rotated key: %d", code)
	}
	for deadline := time.Now().Add(10 * time.Second); get(t, srv, k.Key, "/api/v1/incidents") != 401; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old secret still works 10s after a rotation with 1s of grace")
		}
	}
	if code, _, errOut := e.kuzet(t, append(append([]string{"apikey", "rotate", "-grace", "200h"}, e.storeArgs()...), k.ID)...); code != 2 ||
		!strings.Contains(errOut, "-grace") {
		t.Errorf("rotate with too long a grace: exit %d %s", code, errOut)
	}
	k.Key = r.Key
	if code, out, errOut := e.kuzet(t, append(append([]string{"apikey", "revoke"}, e.storeArgs()...), k.ID)...); code != 0 {
		t.Fatalf("revoke: exit %d %s %s", code, out, errOut)
	}
	if code := get(t, srv, k.Key, "/api/v1/incidents"); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
	if code, _, _ := e.kuzet(t, "apikey"); code != 0 {
		t.Errorf("kuzet apikey (for a configuration): exit %d", code)
	}
}
