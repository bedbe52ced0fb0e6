package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"

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

func (f *fixture) do(t *testing.T, method, key, target string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := f.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestSecurityHeaders: data is never sniffed, cached or framed.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ key, target string }{
		{"Bearer ncc-key", "/api/v1/events?limit=1"},
		{"", "/api/v1/events"},
		{"Bearer ncc-key", "/api/v1/nothing"},
	} {
		resp := f.do(t, http.MethodGet, c.key, c.target)
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s %d: %s = %q, want %q", c.target, resp.StatusCode, h, got, want)
			}
		}
	}
}

// TestMethodNotAllowed: a wrong method on a route is 405 with Allow.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	for _, target := range []string{"/api/v1/events", "/healthz", "/api/v1/alerts"} {
		resp := f.do(t, http.MethodPost, "Bearer ncc-key", target)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s: status %d, Allow %q: %s", target, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
		var eb errBody
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != api.CodeMethodNotAllowed {
			t.Errorf("%s: body %s", target, body)
		}
	}
	if resp := f.do(t, http.MethodPost, "Bearer ncc-key", "/api/v1/nothing"); resp.StatusCode != 404 {
		t.Errorf("unknown route: %d, want 404", resp.StatusCode)
	}
}

// TestBearerCaseInsensitive: RFC 7235 auth schemes are case-insensitive.
func TestBearerCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	for _, h := range []string{"Bearer ncc-key", "bearer ncc-key", "BEARER ncc-key", "bEaReR   ncc-key"} {
		if resp := f.do(t, http.MethodGet, h, "/api/v1/whoami"); resp.StatusCode != 200 {
			t.Errorf("%q: status %d", h, resp.StatusCode)
		}
	}
	if resp := f.do(t, http.MethodGet, "Bearerncc-key", "/api/v1/whoami"); resp.StatusCode != 401 {
		t.Errorf("no space: status %d", resp.StatusCode)
	}
}

// TestMetricsApartFromPublicPort: /metrics is served on the ops listener
// only; the public port answers 404 for it.
func TestMetricsApartFromPublicPort(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, f.srv) })
	resp, err := http.Get("http://" + f.srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("public /metrics: %d, want 404", resp.StatusCode)
	}
	if f.srv.OpsAddr() == "" || f.srv.OpsAddr() == f.srv.Addr() {
		t.Fatalf("ops addr %q, api addr %q", f.srv.OpsAddr(), f.srv.Addr())
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get("http://" + f.srv.OpsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || path == "/metrics" && !strings.Contains(string(body), "kuzet_api_requests_total") {
			t.Errorf("ops %s: %d %.200s", path, resp.StatusCode, body)
		}
	}
}

// TestTLS: with tls_cert and tls_key the API serves TLS 1.2+ only; with
// tls_client_ca it requires a client certificate signed by that CA.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile := ca.issue(t, dir, "server", true)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey := ca.issue(t, dir, "client", false)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	get := func(addr string, tc *tls.Config) (int, error) {
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		resp, err := cl.Get("https://" + addr + "/healthz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, c := range []struct {
		name     string
		clientCA bool
	}{{"server only", false}, {"client certificates", true}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.DefaultAPI()
			cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", ""
			cfg.TLSCert, cfg.TLSKey = certFile, keyFile
			if c.clientCA {
				cfg.TLSClientCA = caFile
			}
			srv, err := api.New(api.Options{Config: cfg, Store: storetest.Open(t), Registerer: prometheus.NewPedanticRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stop(t, srv) })
			withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}
			if code, err := get(srv.Addr(), withCert); err != nil || code != 200 {
				t.Fatalf("TLS 1.2+: %d %v", code, err)
			}
			if _, err := get(srv.Addr(), &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11, Certificates: withCert.Certificates}); err == nil {
				t.Error("TLS 1.1 accepted")
			}
			_, err = get(srv.Addr(), &tls.Config{RootCAs: roots})
			if c.clientCA && err == nil {
				t.Error("no client certificate accepted")
			}
			if !c.clientCA && err != nil {
				t.Errorf("no client certificate: %v", err)
			}
			if resp, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
				t.Error("plain HTTP served")
			}
		})
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kuzet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func stop(t *testing.T, srv *api.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// TestSearchAsSeen: q searches the text as a reader sees it (message and
// field values, unescaped), not the JSON document's syntax or key names.
func TestSearchAsSeen(t *testing.T) {
	f := newFixture(t)
	at := time.Now().UTC().Add(-30 * time.Second)
	ev := &event.Event{Timestamp: at, Message: `process C:\Windows\System32\cmd.exe started`,
		Process: &event.Process{Name: "Вредонос.exe"}}
	if err := event.Stamp(ev, at, "c1", "oisc-a", "test"); err != nil {
		t.Fatal(err)
	}
	ev.Kuzet.Org, ev.Kuzet.Object, ev.Kuzet.Sector, ev.Kuzet.Asset = "bank", "bank-obj", "banking", event.AssetKnown
	doc, _ := event.Marshal(ev)
	row, err := store.NewEventRow(ev, doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.InsertEvents(context.Background(), []store.EventRow{row}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{`C:\Windows`, 1},
		{`c:\windows\system32`, 1},
		{`вредонос.EXE`, 1}, // a field value, case-insensitive in UTF-8
		{`kuzet`, 0},        // a key name in every document
		{`"`, 0},            // JSON syntax
		{`message`, 0},
		{`":"`, 0},
		{`login failed`, 6},
	} {
		code, body := f.get(t, "ncc-key", "/api/v1/events?q="+url.QueryEscape(c.q))
		var eb eventsBody
		if code != 200 || json.Unmarshal(body, &eb) != nil {
			t.Fatalf("q=%s: %d %.200s", c.q, code, body)
		}
		if len(eb.Events) != c.want {
			t.Errorf("q=%s: %d events, want %d", c.q, len(eb.Events), c.want)
		}
	}
}

// TestPageByteBound: a page that reaches limits.max_response_bytes ends
// early with a next cursor, and the cursor pages through every event once.
func TestPageByteBound(t *testing.T) {
	st := storetest.Open(t)
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", ""
	cfg.Limits.MaxResponseBytes = 64 << 10
	cfg.Keys = []config.APIKey{{Name: "ncc", Role: "ncc-analyst", Hash: access.HashKey("ncc-key")}}
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Store: st, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, reg: reg, st: st}
	base := time.Now().UTC().Add(-time.Minute)
	var rows []store.EventRow
	for i := range 10 {
		ev := &event.Event{Timestamp: base, Message: strings.Repeat("x", 30<<10)}
		if err := event.Stamp(ev, base.Add(time.Duration(i)*time.Second), "c1", "oisc-a", "test"); err != nil {
			t.Fatal(err)
		}
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
	seen := map[string]bool{}
	target := "/api/v1/events?limit=1000"
	for pages := 1; ; pages++ {
		code, body := f.get(t, "ncc-key", target)
		var eb eventsBody
		if code != 200 || json.Unmarshal(body, &eb) != nil {
			t.Fatalf("%d %.200s", code, body)
		}
		if len(body) > cfg.Limits.MaxResponseBytes+1024 {
			t.Errorf("page %d: %d bytes, bound %d", pages, len(body), cfg.Limits.MaxResponseBytes)
		}
		if len(eb.Events) != 2 && eb.NextCursor != "" {
			t.Errorf("page %d: %d events of 30 KiB under a 64 KiB bound, want 2", pages, len(eb.Events))
		}
		for _, ev := range eb.Events {
			if seen[ev.Kuzet.EventID] {
				t.Fatal("an event on two pages")
			}
			seen[ev.Kuzet.EventID] = true
		}
		if eb.NextCursor == "" {
			if pages != 5 {
				t.Errorf("%d pages, want 5", pages)
			}
			break
		}
		if pages > 10 {
			t.Fatal("too many pages")
		}
		target = "/api/v1/events?limit=1000&cursor=" + url.QueryEscape(eb.NextCursor)
	}
	if len(seen) != 10 {
		t.Errorf("paged %d events, want 10", len(seen))
	}
}

// TestRateLimitPerKey: over a key's rate a request gets 429 with
// Retry-After, counted by reason; other keys are not affected, and the key
// is served again once tokens refill (injected clock).
func TestRateLimitPerKey(t *testing.T) {
	st := storetest.Open(t)
	cfg := config.DefaultAPI()
	cfg.Listen, cfg.HTTP.Listen = "127.0.0.1:0", ""
	cfg.Limits.RatePerKey, cfg.Limits.BurstPerKey = 0.5, 2
	cfg.Keys = []config.APIKey{{Name: "a", Role: "ncc-analyst", Hash: access.HashKey("a-key")},
		{Name: "b", Role: "ncc-analyst", Hash: access.HashKey("b-key")}}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	reg := prometheus.NewPedanticRegistry()
	srv, err := api.New(api.Options{Config: cfg, Store: st, Registerer: reg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, reg: reg, st: st}
	for i := range 2 {
		if resp := f.do(t, http.MethodGet, "Bearer a-key", "/api/v1/events"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp := f.do(t, http.MethodGet, "Bearer a-key", "/api/v1/events")
	body, _ := io.ReadAll(resp.Body)
	var eb errBody
	_ = json.Unmarshal(body, &eb)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || eb.Error.Code != api.CodeRateLimited {
		t.Fatalf("over the rate: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp := f.do(t, http.MethodGet, "Bearer b-key", "/api/v1/events"); resp.StatusCode != 200 {
		t.Errorf("another key: %d", resp.StatusCode)
	}
	now = now.Add(2 * time.Second)
	if resp := f.do(t, http.MethodGet, "Bearer a-key", "/api/v1/events"); resp.StatusCode != 200 {
		t.Errorf("after refill: %d", resp.StatusCode)
	}
	if got := testutil.ToFloat64(rejected(t, reg, api.CodeRateLimited)); got != 1 {
		t.Errorf("rejected{reason=rate_limited} = %v, want 1", got)
	}
}

func rejected(t *testing.T, reg *prometheus.Registry, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kuzet_api_rejected_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
				}
			}
		}
	}
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return 0 })
}
