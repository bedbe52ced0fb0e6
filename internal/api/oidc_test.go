package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// testIssuer is an OIDC issuer on a loopback port: a discovery document
// and a JWKS holding an RSA and an EC key (more can be added, as in a
// rotation). It counts the reads of its JWKS.
type testIssuer struct {
	srv   *httptest.Server
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	reads atomic.Int64

	mu   sync.Mutex
	keys []jose.JSONWebKey
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	ri, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ei, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{rsa: ri, ec: ei, keys: []jose.JSONWebKey{
		{Key: &ri.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		{Key: &ei.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.reads.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: is.keys})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *testIssuer) addKey(k jose.JSONWebKey) {
	is.mu.Lock()
	is.keys = append(is.keys, k)
	is.mu.Unlock()
}

// sign makes a token signed by key (alg, kid) with the claims.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claims returns valid claims for the issuer, changed by mods.
func (is *testIssuer) claims(now time.Time, mods map[string]any) map[string]any {
	c := map[string]any{
		"iss": is.srv.URL, "aud": []string{"kuzet-api"}, "sub": "alice@oisc-b",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"kuzet_role": "oisc-analyst", "kuzet_oisc": "oisc-b",
	}
	for k, v := range mods {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func oidcConfig(is *testIssuer) config.OIDC {
	o := config.DefaultOIDC()
	o.Issuer, o.Audience = is.srv.URL, "kuzet-api"
	o.MinRefetch = 10 * time.Second
	return o
}

// TestOIDCTokens: tokens of the test issuer, signed with its RSA and EC
// keys, map to their role and scope; every wrong token answers the 401 a
// bad key gets and is counted by reason; an unknown kid reads the JWKS
// again, at most once per min_refetch.
func TestOIDCTokens(t *testing.T) {
	is := newTestIssuer(t)
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RegistryFile = registryFile(t)
	cfg.OIDC = oidcConfig(is)
	cfg.Limits.MaxAuthFailuresPerIP = 1000 // this test fails many times from one address
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Registerer: reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t0 := now()

	whoami := func(tok string) (int, map[string]any, errBody) {
		t.Helper()
		code, b, _ := send(t, srv, http.MethodGet, tok, "/api/v1/whoami", "")
		var m map[string]any
		var eb errBody
		_ = json.Unmarshal(b, &m)
		_ = json.Unmarshal(b, &eb)
		if strings.Contains(string(b), tok) {
			t.Errorf("the answer shows the token: %s", b)
		}
		return code, m, eb
	}

	// Valid tokens, RSA and EC.
	for _, c := range []struct {
		name  string
		alg   jose.SignatureAlgorithm
		key   any
		kid   string
		mods  map[string]any
		check func(map[string]any) bool
	}{
		{"rsa oisc-analyst", jose.RS256, is.rsa, "rsa-1", nil, func(m map[string]any) bool {
			return m["role"] == "oisc-analyst" && m["oisc"] == "oisc-b" && m["name"] == "oidc:alice@oisc-b"
		}},
		{"ec owner", jose.ES256, is.ec, "ec-1", map[string]any{"kuzet_role": "owner", "kuzet_oisc": nil, "kuzet_org": "bank", "sub": "bob"},
			func(m map[string]any) bool {
				return m["role"] == "owner" && m["org"] == "bank" && m["name"] == "oidc:bob"
			}},
		{"roles array", jose.RS256, is.rsa, "rsa-1", map[string]any{"kuzet_role": []string{"staff", "sector-analyst"}, "kuzet_oisc": nil,
			"kuzet_sectors": []string{"electricity"}}, func(m map[string]any) bool { return m["role"] == "sector-analyst" }},
		{"no kid", jose.ES256, is.ec, "", nil, func(m map[string]any) bool { return m["role"] == "oisc-analyst" }},
		{"expired within leeway", jose.RS256, is.rsa, "rsa-1", map[string]any{"exp": t0.Add(-10 * time.Second).Unix()},
			func(m map[string]any) bool { return m["role"] == "oisc-analyst" }},
	} {
		tok := sign(t, c.alg, c.key, c.kid, is.claims(t0, c.mods))
		if code, m, _ := whoami(tok); code != 200 || !c.check(m) {
			t.Errorf("%s: %d %v", c.name, code, m)
		}
	}
	if n := is.reads.Load(); n != 1 {
		t.Errorf("JWKS read %d times for valid tokens, want once", n)
	}

	// Wrong tokens: each the same 401, counted by its reason.
	valid := sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, nil))
	parts := strings.Split(valid, ".")
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	der, _ := x509.MarshalPKIXPublicKey(&is.rsa.PublicKey)
	rogue, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, c := range []struct {
		name, reason, tok string
	}{
		{"wrong issuer", "oidc_issuer", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"iss": "https://evil.example"}))},
		{"wrong audience", "oidc_audience", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"aud": "other-api"}))},
		{"expired", "oidc_expired", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"exp": t0.Add(-2 * time.Minute).Unix()}))},
		{"no exp", "oidc_expired", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"exp": nil}))},
		{"not yet valid", "oidc_not_yet_valid", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"nbf": t0.Add(2 * time.Minute).Unix()}))},
		{"issued in the future", "oidc_issued_in_future", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"iat": t0.Add(2 * time.Minute).Unix()}))},
		{"alg none", "oidc_alg", b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + parts[1] + "."},
		{"alg none, signature kept", "oidc_alg", b64(map[string]string{"alg": "none", "kid": "rsa-1"}) + "." + parts[1] + "." + parts[2]},
		{"HS256 with the public key as secret", "oidc_alg", sign(t, jose.HS256, der, "rsa-1", is.claims(t0, nil))},
		{"RS256 header on the EC key's kid", "oidc_signature", b64(map[string]string{"alg": "RS256", "kid": "ec-1"}) + "." + parts[1] + "." + parts[2]},
		{"unknown kid", "oidc_unknown_kid", sign(t, jose.RS256, rogue, "rogue-1", is.claims(t0, nil))},
		{"a foreign key under a known kid", "oidc_signature", sign(t, jose.RS256, rogue, "rsa-1", is.claims(t0, nil))},
		{"tampered payload", "oidc_signature", parts[0] + "." + b64(is.claims(t0, map[string]any{"kuzet_role": "ncc-analyst", "kuzet_oisc": nil})) + "." + parts[2]},
		{"truncated signature", "oidc_signature", valid[:len(valid)-8]},
		{"role not a role", "oidc_claims", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"kuzet_role": "superuser"}))},
		{"two roles", "oidc_claims", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"kuzet_role": []string{"owner", "ncc-analyst"}}))},
		{"no role", "oidc_claims", sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(t0, map[string]any{"kuzet_role": nil}))},
		{"owner without org", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"kuzet_role": "owner", "kuzet_oisc": nil}))},
		{"owner of an unknown org", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"kuzet_role": "owner", "kuzet_oisc": nil, "kuzet_org": "nowhere"}))},
		{"ncc-analyst with an oisc", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"kuzet_role": "ncc-analyst"}))},
		{"oisc not in the registry", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"kuzet_oisc": "bank"}))},
		{"no sub", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"sub": nil}))},
		{"sub with a newline", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"sub": "a\nb"}))},
		{"sectors not strings", "oidc_claims", sign(t, jose.ES256, is.ec, "ec-1", is.claims(t0, map[string]any{"kuzet_role": "regulator", "kuzet_oisc": nil, "kuzet_sectors": []int{1}}))},
		{"oversize", "malformed", parts[0] + "." + strings.Repeat("A", 9000) + "." + parts[2]},
	} {
		before := authFailures(t, reg, c.reason)
		code, _, eb := whoami(c.tok)
		if code != 401 || eb.Error.Code != api.CodeUnauthorized || eb.Error.Message != "invalid API key" {
			t.Errorf("%s: %d %+v", c.name, code, eb)
		}
		if got := authFailures(t, reg, c.reason); got != before+1 {
			t.Errorf("%s: auth failures{%s} %v -> %v", c.name, c.reason, before, got)
		}
	}
	// The unknown kid came within min_refetch of the first read, so it
	// did not read the JWKS again.
	if n := is.reads.Load(); n != 1 {
		t.Errorf("JWKS reads after an unknown kid: %d, want 1", n)
	}

	// A rotation: the issuer adds a key. Within min_refetch of the last
	// read its tokens are refused; after it, the JWKS is read again and
	// they pass.
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is.addKey(jose.JSONWebKey{Key: &next.PublicKey, KeyID: "ec-2", Algorithm: "ES256", Use: "sig"})
	if code, _, _ := whoami(sign(t, jose.ES256, next, "ec-2", is.claims(t0, nil))); code != 401 {
		t.Errorf("new kid within min_refetch: %d", code)
	}
	skew.Store(int64(11 * time.Second))
	if code, m, _ := whoami(sign(t, jose.ES256, next, "ec-2", is.claims(now(), nil))); code != 200 || m["role"] != "oisc-analyst" {
		t.Errorf("new kid after min_refetch: %d %v", code, m)
	}
	if n := is.reads.Load(); n != 2 {
		t.Errorf("JWKS reads after the rotation: %d, want 2", n)
	}
	// Forged kids right after it read nothing more.
	for i := range 5 {
		if code, _, _ := whoami(sign(t, jose.RS256, rogue, "rogue-"+string(rune('a'+i)), is.claims(now(), nil))); code != 401 {
			t.Errorf("forged kid: %d", code)
		}
	}
	if n := is.reads.Load(); n != 2 {
		t.Errorf("JWKS reads after forged kids: %d, want 2", n)
	}

	// The issuer down: the keys read before stay in use.
	is.srv.Close()
	skew.Store(int64(2 * time.Hour))
	if code, _, _ := whoami(sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(now(), nil))); code != 200 {
		t.Errorf("issuer down, known key: %d", code)
	}
}

// TestOIDCIssuerUnavailable: with no keys ever read, a token answers 503
// (not 401: nothing says it is wrong), and reads are retried at most once
// per min_refetch.
func TestOIDCIssuerUnavailable(t *testing.T) {
	is := newTestIssuer(t)
	tok := sign(t, jose.RS256, is.rsa, "rsa-1", is.claims(time.Now(), nil))
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RegistryFile = registryFile(t)
	cfg.OIDC = oidcConfig(is)
	is.srv.Close()
	srv, err := api.New(api.Options{Config: cfg, Registerer: prometheus.NewPedanticRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, b, _ := send(t, srv, http.MethodGet, tok, "/api/v1/whoami", ""); code != 503 || !strings.Contains(string(b), api.CodeUnavailable) {
			t.Fatalf("issuer unreachable: %d %s", code, b)
		}
	}
	// API keys still work.
	if code, _, _ := send(t, srv, http.MethodGet, "not-a-key", "/api/v1/whoami", ""); code != 401 {
		t.Fatalf("a bad key: %d", code)
	}
}

// TestOIDCOff: without oidc.issuer a token is just an unknown key.
func TestOIDCOff(t *testing.T) {
	is := newTestIssuer(t)
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jose.ES256, is.ec, "ec-1", is.claims(time.Now(), nil))
	if code, _, _ := send(t, srv, http.MethodGet, tok, "/api/v1/whoami", ""); code != 401 {
		t.Fatalf("a token with OIDC off: %d", code)
	}
	if got := authFailures(t, reg, "unknown"); got != 1 {
		t.Errorf("auth failures{unknown} = %v", got)
	}
	if n := is.reads.Load(); n != 0 {
		t.Errorf("the issuer's keys were read %d times with OIDC off", n)
	}
}

// TestOIDCTokenScope: over real ClickHouse data, an owner's token reads
// its organisation's events only, an OISC's its OISC's.
func TestOIDCTokenScope(t *testing.T) {
	is := newTestIssuer(t)
	f := newFixture(t, func(o *api.Options) { o.Config.OIDC = oidcConfig(is) })
	now := time.Now()
	for _, c := range []struct {
		mods map[string]any
		org  string
		n    int
	}{
		{map[string]any{"kuzet_role": "owner", "kuzet_oisc": nil, "kuzet_org": "bank"}, "bank", 6},
		{nil, "grid", 4},
	} {
		tok := sign(t, jose.ES256, is.ec, "ec-1", is.claims(now, c.mods))
		code, b := f.get(t, tok, "/api/v1/events?limit=50")
		var page eventsBody
		if code != 200 || json.Unmarshal(b, &page) != nil || len(page.Events) != c.n {
			t.Fatalf("%s: %d %d events", c.org, code, len(page.Events))
		}
		for _, ev := range page.Events {
			if ev.Kuzet.Org != c.org {
				t.Fatalf("%s's token read an event of %s", c.org, ev.Kuzet.Org)
			}
		}
	}
}
