package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/api"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/grouping"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

const consoleRegistry = `version: 1
centers:
  - {id: ncc, name: NCC, kind: ncc}
  - {id: oisc-a, name: OISC A, kind: oisc, parent: ncc}
  - {id: oisc-b, name: OISC B, kind: oisc, parent: ncc}
organisations:
  - {id: bank, name: Bank, sectors: [banking], oiscs: [oisc-a]}
  - {id: grid, name: Grid, sectors: [electricity], oiscs: [oisc-b]}
  - {id: bank-2, name: Second bank, sectors: [banking], oiscs: [oisc-a]}
  - {id: bank-3, name: Third bank, sectors: [banking], oiscs: [oisc-a]}
objects:
  - {id: cbs, name: Core banking, kind: information_system, owner: bank, sector: banking, criticality: 1, oisc: oisc-a}
  - {id: scada-1, name: SCADA, kind: technological_platform, owner: grid, sector: electricity, criticality: 1, oisc: oisc-b}
`

// The console's test keys, one per person.
var consoleKeys = map[string]config.APIKey{
	"console-ncc-key":       {Name: "ncc-aruzhan", Role: "ncc-analyst"},
	"console-oisc-key":      {Name: "oisc-b-daniyar", Role: "oisc-analyst", OISC: "oisc-b"},
	"console-owner-key":     {Name: "bank-owner", Role: "owner", Org: "bank"},
	"console-regulator-key": {Name: "regulator", Role: "regulator", Sectors: []string{"banking"}},
	"console-sector-key":    {Name: "banking-center", Role: "sector-analyst", Sectors: []string{"banking"}},
	"console-admin-key":     {Name: "admin-saule", Role: "admin"},
}

// consoleEnv is a real kuzet-api over a real ClickHouse and NATS, with
// the ncc's incident stage running in-process behind it, as in the API's
// own change tests.
type consoleEnv struct {
	srv  *api.Server
	st   *store.Store
	base string
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	st := storetest.Open(t)
	ns := bustest.Server(t)
	_, js := bustest.Connect(t, ns)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Parse([]byte(consoleRegistry))
	if err != nil {
		t.Fatal(err)
	}
	root := conformance.ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "configs", "regimes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	regs, err := incident.ParseRegimes(data, os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	resolver := notify.NewResolver(reg)
	clocks, err := incident.NewClocks(incident.ClockOptions{Regimes: regs, Resolve: resolver.Resolve})
	if err != nil {
		t.Fatal(err)
	}
	cfg := incident.DefaultConfig()
	cfg.RSITFile = filepath.Join(root, "configs", "rsit.yaml")
	cfg.Routes = []incident.Route{{Name: "default", GroupBy: []string{"rule", "object"},
		GroupWait: 200 * time.Millisecond, GroupInterval: 300 * time.Millisecond, RepeatInterval: time.Hour}}
	stg, err := grouping.Start(ctx, js, st, grouping.Options{Config: cfg, Partitions: 4, Member: "ncc-1", Clocks: clocks,
		Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond, Tick: 50 * time.Millisecond,
		Registerer: prometheus.NewRegistry(), Registry: resolver.Registry,
		Notify: &grouping.NotifyOptions{Builder: &notify.Builder{Resolver: resolver, Regimes: regs}, Backoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stg.Stop(context.Background()) })
	acfg := config.DefaultAPI()
	acfg.Listen, acfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	acfg.RegistryFile = filepath.Join(t.TempDir(), "registry.yaml")
	if err := os.WriteFile(acfg.RegistryFile, []byte(consoleRegistry), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range consoleKeys {
		v.Hash = access.HashKey(k)
		acfg.Keys = append(acfg.Keys, v)
	}
	acfg.NATS.URL = ns.ClientURL()
	srv, err := api.New(api.Options{Config: acfg, Store: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	env := &consoleEnv{srv: srv, st: st, base: "http://" + srv.Addr()}
	// Two automated incidents, one per organisation and OISC.
	now := time.Now().UTC()
	for _, a := range []alert.Alert{
		{RuleID: "r-scan", RuleTitle: "Port scan", Level: "high", OISC: "oisc-b", Org: "grid", Object: "scada-1", Sector: "electricity", SourceIP: "203.0.113.9"},
		{RuleID: "r-brute", RuleTitle: "Password spraying", Level: "high", OISC: "oisc-a", Org: "bank", Object: "cbs", Sector: "banking", SourceIP: "198.51.100.7"},
	} {
		a.ID, a.ReceivedAt, a.DetectedAt, a.EventTime = uuid.New(), now, now, now
		a.Asset, a.Criticality, a.EventIDs = "known", 1, []string{uuid.NewString()}
		// As the ncc does: stored, then published to the incident stage.
		if err := st.InsertAlerts(ctx, []alert.Alert{a}); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(a)
		if _, err := js.Publish(ctx, bus.AlertsSubject(a.OISC, a.Sector), data); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// incidentOf waits for the organisation's one incident with its stages.
func (e *consoleEnv) incidentOf(t *testing.T, org string) incident.Incident {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []incident.Incident
		if _, err := e.st.StreamIncidents(context.Background(), store.IncidentQuery{Limit: 10, Scope: access.EventScope{Org: org}}, func(doc []byte) error {
			var in incident.Incident
			err := json.Unmarshal(doc, &in)
			out = append(out, in)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(out) == 1 && len(out[0].Stages) > 0 {
			return out[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d incidents, want one with its stages", org, len(out))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiGet calls the API as key and returns the status and body.
func (e *consoleEnv) apiGet(t *testing.T, key, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// apiDo calls the API as key with a JSON body.
func (e *consoleEnv) apiDo(t *testing.T, method, key, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// chromium finds Debian's chromium (make deps installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KUZET_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: `make deps` (scripts/ensure-deps.sh) installs Debian's chromium; -short skips this test")
	return ""
}

// browser is one headless Chromium for the whole test; each person gets a
// browser context of their own (no shared storage, no shared tab).
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
	n   int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless,
		chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("lang", "en-GB"))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancelB(); cancelA() })
	return &browser{t: t, ctx: bctx, dir: t.ArtifactDir()}
}

// person is one browser context (an incognito profile) on one tab, with
// the page's script errors and CSP violations collected.
type person struct {
	t    *testing.T
	b    *browser
	name string
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

const violationProbe = `document.addEventListener('securitypolicyviolation', (e) => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI);
});`

func (b *browser) person(t *testing.T, name string) *person {
	t.Helper()
	p := &person{t: t, b: b, name: name}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			p.mu.Lock()
			msg := e.ExceptionDetails.Text
			if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
				msg += ": " + ex.Description
			}
			p.errs = append(p.errs, msg)
			p.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	p.ctx = ctx
	// The first run opens the tab, which lives as long as that run's
	// context: this one, without a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: opening a tab: %v", name, err)
	}
	p.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: violationProbe})
		return chromedp.Void{}, err
	})
	return p
}

func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failed")
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// eval runs a script in the page and returns its string value.
func (p *person) eval(script string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](script))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, script, err)
	}
	return v
}

// wait polls the predicate until it is true (15 s).
func (p *person) wait(what, predicate string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		p.shot("timeout")
		p.t.Fatalf("%s: waiting for %s: %v\npage text:\n%s", p.name, what, err, p.mainText())
	}
}

func (p *person) mainText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return v
}

// text is the visible text of the first element matching sel ("" if none).
func (p *person) text(sel string) string {
	p.t.Helper()
	b, _ := json.Marshal(sel)
	return p.eval(fmt.Sprintf(`(document.querySelector(%s) || {innerText: ''}).innerText`, b))
}

// shot saves a screenshot among the test's artefacts; it is never asserted on.
func (p *person) shot(name string) {
	p.b.n++
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return
	}
	f := filepath.Join(p.b.dir, fmt.Sprintf("%02d-%s-%s.png", p.b.n, p.name, name))
	if os.WriteFile(f, buf, 0o644) == nil {
		p.t.Logf("screenshot %s", f)
	}
}

// signIn loads the console afresh at hash (as when following a link)
// and signs in with key.
func (p *person) signIn(base, hash, key string) {
	p.t.Helper()
	p.do(chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"+hash))
	p.wait("the sign-in form", `document.body.dataset.ready === 'true' && !!document.querySelector('input[name=key]')`)
	// By keyboard: the key typed, then Enter.
	p.do(chromedp.SendKeys(chromedp.CSS("input[name=key]"), key+kb.Enter))
	p.wait("the sign-in", `!document.getElementById('signout').hidden`)
}

// choose sets a form control's value as a person would (input and change
// events).
func (p *person) choose(sel, value string) {
	p.t.Helper()
	s, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })()`, s, v))
}

// clean fails the test on script errors or CSP violations on the page,
// and on a form control without a label.
func (p *person) clean() {
	p.t.Helper()
	if v := p.eval(`JSON.stringify(window.__csp || [])`); v != "[]" {
		p.t.Errorf("%s: Content-Security-Policy violations: %s", p.name, v)
	}
	if v := p.eval(`JSON.stringify([...document.querySelectorAll('input, select, textarea')]
		.filter((e) => !e.labels.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML))`); v != "[]" {
		p.t.Errorf("%s: controls without a label: %s", p.name, v)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		p.t.Errorf("%s: script errors: %v", p.name, p.errs)
	}
}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance.ModuleRoot(t), "internal", "console", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConsole drives the web console in headless Chromium against a real
// kuzet-api over ClickHouse and NATS with the ncc's incident stage: each
// role signs in and does its main task, and the test asserts what the
// page shows (screenshots are kept as artefacts only).
func TestConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium, ClickHouse and NATS; skipped with -short")
	}
	env := newConsoleEnv(t)
	b := newBrowser(t)
	grid := env.incidentOf(t, "grid")
	bank := env.incidentOf(t, "bank")
	var nccStage incident.Stage
	for _, s := range grid.Stages {
		if s.Regime == "kz_oisc_to_ncc" {
			nccStage = s
		}
	}
	if nccStage.DueAt.IsZero() {
		t.Fatalf("the grid's incident has no NCC stage with a due time: %+v", grid.Stages)
	}
	almaty, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Fatal(err)
	}
	en, kk, ru := catalogue(t, "en"), catalogue(t, "kk"), catalogue(t, "ru")

	t.Run("the console's page and its headers", func(t *testing.T) {
		resp, err := http.Get(env.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
			resp.Header.Get("Set-Cookie") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /: %d, CSP %q, Set-Cookie %q, Content-Type %q", resp.StatusCode, csp, resp.Header.Get("Set-Cookie"), resp.Header.Get("Content-Type"))
		}
		resp, err = http.Get(env.base + "/console/static/app.js")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || resp.Header.Get("ETag") == "" {
			t.Fatalf("GET app.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		req, _ := http.NewRequest(http.MethodGet, env.base+"/console/static/app.js", nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
			t.Fatalf("GET app.js again with its ETag: %v %v, want 304", resp.StatusCode, err)
		}
		resp.Body.Close()
		if resp, err = http.Get(env.base + "/console/static/nope.js"); err != nil || resp.StatusCode != 404 {
			t.Fatalf("GET a missing asset: %v %v, want 404", resp.StatusCode, err)
		}
		resp.Body.Close()
		if resp, err = http.Post(env.base+"/console/static/app.js", "text/plain", strings.NewReader("x")); err != nil || resp.StatusCode != 404 {
			t.Fatalf("POST to an asset: %v %v, want 404", resp.StatusCode, err)
		}
		resp.Body.Close()
		// The console adds no API route (the route list the OpenAPI
		// document is checked against).
		for _, r := range env.srv.App().GetRoutes(true) {
			if strings.HasPrefix(r.Path, "/console") {
				t.Errorf("route %s %s", r.Method, r.Path)
			}
		}
	})

	t.Run("the NCC's queue lists both incidents; the OISC's only its own", func(t *testing.T) {
		ncc := b.person(t, "ncc")
		ncc.signIn(env.base, "", "console-ncc-key")
		ncc.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 2`)
		rows := ncc.text("#queue-rows")
		for _, title := range []string{grid.Title, bank.Title} {
			if !strings.Contains(rows, title) {
				t.Errorf("the NCC's queue lacks %q:\n%s", title, rows)
			}
		}
		// Sorted by a column, ascending then descending, in the URL too.
		titles := `JSON.stringify([...document.querySelectorAll('#queue-rows tr a.title')].map((a) => a.textContent))`
		for _, c := range []struct{ hash, sort string }{{"sort=title", "ascending"}, {"sort=-title", "descending"}} {
			ncc.do(chromedp.Click(chromedp.CSS(`#queue th button[data-sort=title]`)))
			ncc.wait("sorted by title "+c.sort, `location.hash.includes('`+c.hash+`') && document.querySelector('#queue th[aria-sort=`+c.sort+`]') !== null`)
			var got []string
			if err := json.Unmarshal([]byte(ncc.eval(titles)), &got); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(got)
			slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
			if c.sort == "descending" {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("sorted %s: %q", c.sort, got)
			}
		}
		// Filters live in the URL.
		ncc.choose("#filter-sector", "banking")
		ncc.wait("the sector filter", `location.hash.includes('sector=banking') && document.querySelectorAll('#queue-rows tr').length === 1`)
		if rows := ncc.text("#queue-rows"); !strings.Contains(rows, bank.Title) || strings.Contains(rows, grid.Title) {
			t.Errorf("filtered by banking:\n%s", rows)
		}
		// Bulk: the bank's incident acknowledged from the queue.
		ncc.do(chromedp.Click(chromedp.CSS(`#queue-rows input.pick`)))
		ncc.wait("the selection", `!document.querySelector('#bulk-ack').disabled`)
		ncc.do(chromedp.Click(chromedp.CSS(`#bulk-ack`)))
		ncc.wait("the bulk change", `!!document.querySelector('#bulk-done')`)
		if code, body := env.apiGet(t, "console-ncc-key", "/api/v1/incidents/"+bank.ID); code != 200 || !strings.Contains(string(body), `"status":"triage"`) {
			t.Errorf("the acknowledged incident: %d %.300s", code, body)
		}
		ncc.shot("queue")
		ncc.clean()

		oisc := b.person(t, "oisc")
		oisc.signIn(env.base, "#/queue", "console-oisc-key")
		oisc.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 1`)
		if rows := oisc.text("#queue-rows"); !strings.Contains(rows, grid.Title) || strings.Contains(rows, bank.Title) {
			t.Errorf("OISC B's queue, want only the grid's incident:\n%s", rows)
		}
		oisc.clean()
	})

	t.Run("the incident page shows the NCC stage's due time", func(t *testing.T) {
		p := b.person(t, "oisc")
		p.signIn(env.base, "#/incidents/"+grid.ID, "console-oisc-key")
		p.wait("the stages", `!!document.querySelector('#stages tr[data-regime=kz_oisc_to_ncc]')`)
		row := `#stages tr[data-regime=kz_oisc_to_ncc]`
		at := p.eval(`document.querySelector('` + row + ` time').getAttribute('datetime')`)
		if got, err := time.Parse(time.RFC3339Nano, at); err != nil || !got.Equal(nccStage.DueAt) {
			t.Errorf("the NCC stage's due time: %q, want %s", at, nccStage.DueAt.Format(time.RFC3339Nano))
		}
		shown := p.text(row)
		local := nccStage.DueAt.In(almaty)
		if !strings.Contains(shown, local.Format("15:04")) || !strings.Contains(shown, local.Format("02/01/2006")) || !strings.Contains(shown, "GMT+5") {
			t.Errorf("the NCC stage's row %q does not show %s in Almaty time with its zone", shown, local.Format("02/01/2006 15:04 MST"))
		}
		if a := p.text("#incident-alerts"); !strings.Contains(a, "Port scan") || !strings.Contains(a, "203.0.113.9") {
			t.Errorf("the incident's alerts: %q", a)
		}
		if !strings.Contains(p.text("h1"), grid.Title) {
			t.Errorf("heading %q, want %q", p.text("h1"), grid.Title)
		}
		p.shot("incident")
		p.clean()
	})

	t.Run("a change made in a second browser shows as a conflict in the first", func(t *testing.T) {
		first := b.person(t, "oisc-first")
		second := b.person(t, "oisc-second")
		for _, p := range []*person{first, second} {
			p.signIn(env.base, "#/incidents/"+grid.ID, "console-oisc-key")
			p.wait("the status form", `!!document.querySelector('#status-to option[value=triage]')`)
		}
		version := first.text("#incident-version")
		// The first analyst starts a change; the second makes one and saves it.
		first.choose("#status-to", "triage")
		second.do(chromedp.Click(chromedp.CSS("#status-submit")))
		second.wait("the saved change", `document.querySelector('#incident-version') && document.querySelector('#incident-version').innerText !== '`+version+`'`)
		first.do(chromedp.Click(chromedp.CSS("#status-submit")))
		first.wait("the conflict message", `!!document.querySelector('#conflict')`)
		if msg := first.text("#conflict"); !strings.Contains(msg, en["conflict.title"]) {
			t.Errorf("conflict message %q, want %q", msg, en["conflict.title"])
		}
		first.shot("conflict")
		first.do(chromedp.Click(chromedp.CSS("#conflict button")))
		first.wait("the reloaded incident", `document.querySelector('#incident-version') && document.querySelector('#incident-version').innerText !== '`+version+`'`)
		if got := first.text("#incident-version"); got != second.text("#incident-version") {
			t.Errorf("after reloading, version %s, want the second's %s", got, second.text("#incident-version"))
		}
		first.clean()
		second.clean()
	})

	t.Run("an owner's self-report shows its receipt, the API then returns the incident, and the NCC's open queue shows it", func(t *testing.T) {
		ncc := b.person(t, "ncc")
		ncc.signIn(env.base, "#/queue", "console-ncc-key")
		ncc.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 2`)
		p := b.person(t, "owner")
		p.signIn(env.base, "#/report", "console-owner-key")
		p.wait("the report form", `!!document.querySelector('#report-form')`)
		p.choose("#r-title", "Ransomware on the core banking system")
		p.choose("#r-objects", "cbs")
		p.choose("#r-class", "malicious-code")
		p.choose("#r-type", "infected-system")
		p.choose("#r-impact", "high")
		p.choose("#r-contact", "A. Seitkali")
		p.choose("#r-phone", "+7 727 000 0001")
		// A detection time in the future: the API's 422 names the field,
		// and the form marks it.
		p.choose("#r-detected", time.Now().In(almaty).Add(24*time.Hour).Format("2006-01-02T15:04"))
		p.do(chromedp.Click(chromedp.CSS("#r-submit")))
		p.wait("the field error", `!!document.querySelector('#r-detected[aria-invalid=true]') && !!document.querySelector('#report-notices [role=alert]')`)
		if msg := p.text("#report-notices"); !strings.Contains(msg, en["error.invalid_field"]) || !strings.Contains(msg, "detected_at") {
			t.Errorf("the field error: %q", msg)
		}
		p.choose("#r-detected", time.Now().In(almaty).Add(-10*time.Minute).Format("2006-01-02T15:04"))
		p.do(chromedp.Click(chromedp.CSS("#r-submit")))
		p.wait("the receipt", `!!document.querySelector('#receipt-id')`)
		id := p.text("#receipt-id")
		if _, err := uuid.Parse(id); err != nil {
			t.Fatalf("receipt id %q: %v\n%s", id, err, p.mainText())
		}
		if !strings.Contains(p.text("#receipt"), "kz_owner_self_identified") {
			t.Errorf("the receipt lacks the owner's deadline:\n%s", p.text("#receipt"))
		}
		p.shot("receipt")
		code, body := env.apiGet(t, "console-owner-key", "/api/v1/incidents/"+id)
		if code != 200 || !strings.Contains(string(body), "Ransomware on the core banking system") {
			t.Fatalf("GET the reported incident: %d %s", code, body)
		}
		p.clean()
		// Live: the queue the NCC had open lists it within a poll or two,
		// without a reload.
		ncc.wait("the new incident in the open queue", `!!document.querySelector('#queue-rows tr[data-id="`+id+`"]')`)
		ncc.clean()
	})

	t.Run("an OISC analyst declares the incident from its page, and the NCC acknowledges the notification", func(t *testing.T) {
		oisc := b.person(t, "oisc")
		oisc.signIn(env.base, "#/incidents/"+grid.ID, "console-oisc-key")
		oisc.wait("the declare form", `!!document.querySelector('#declare')`)
		oisc.choose("#declare-comment", "confirmed by the OISC")
		oisc.do(chromedp.Click(chromedp.CSS("#declare")))
		oisc.wait("the declaration", `!document.querySelector('#declare-form') && !!document.querySelector('#stages')`)
		oisc.clean()
		ncc := b.person(t, "ncc")
		ncc.signIn(env.base, "#/notifications", "console-ncc-key")
		ack := `#notifications tr a[href="#/incidents/` + grid.ID + `"]`
		for deadline := time.Now().Add(15 * time.Second); ; {
			// The delivery log row follows the delivery by a moment.
			if ncc.eval(`document.querySelector('`+ack+`') ? 'yes' : ''`) != "" || time.Now().After(deadline) {
				break
			}
			ncc.signIn(env.base, "#/notifications", "console-ncc-key")
			ncc.wait("the notifications", `!!document.querySelector('#notifications table, #notifications .empty')`)
		}
		ncc.wait("the NCC's notification of the grid's incident", `!!document.querySelector('`+ack+`')`)
		ncc.eval(`(() => { document.querySelector('` + ack + `').closest('tr').querySelector('button').click(); return ''; })()`)
		ncc.wait("the acknowledgement", `!!document.querySelector('`+ack+`').closest('tr').querySelector('.stage-sent')`)
		ncc.shot("notifications")
		ncc.clean()
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, body := env.apiGet(t, "console-ncc-key", "/api/v1/notifications")
			var got struct {
				Notifications []struct {
					IncidentID     string    `json:"incident_id"`
					AcknowledgedAt time.Time `json:"acknowledged_at"`
				} `json:"notifications"`
			}
			_ = json.Unmarshal(body, &got)
			acked := false
			for _, n := range got.Notifications {
				acked = acked || n.IncidentID == grid.ID && !n.AcknowledgedAt.IsZero()
			}
			if acked {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the API shows no acknowledgement of the grid's notification: %s", body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("an owner finds another organisation's incident neither in a list nor at its URL", func(t *testing.T) {
		p := b.person(t, "owner")
		p.signIn(env.base, "#/queue", "console-owner-key")
		p.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 1`)
		if rows := p.text("#queue-rows"); !strings.Contains(rows, bank.Title) || strings.Contains(rows, grid.Title) {
			t.Errorf("the bank owner's queue, want the bank's incident and not the grid's:\n%s", rows)
		}
		p.signIn(env.base, "#/alerts", "console-owner-key")
		p.wait("the alerts", `!!document.querySelector('#alerts table')`)
		if a := p.text("#alerts"); !strings.Contains(a, "Password spraying") || strings.Contains(a, "scada-1") || strings.Contains(a, "Port scan") {
			t.Errorf("the bank owner's alerts show the grid's:\n%s", a)
		}
		p.signIn(env.base, "#/incidents/"+grid.ID, "console-owner-key")
		p.wait("not found", `!!document.querySelector('#not-found')`)
		if txt := p.mainText(); strings.Contains(txt, grid.Title) || strings.Contains(txt, "scada-1") {
			t.Errorf("the grid's incident shows to the bank's owner:\n%s", txt)
		}
		p.shot("not-found")
		p.clean()
	})

	t.Run("the page text switches to Kazakh and to Russian", func(t *testing.T) {
		p := b.person(t, "ncc")
		p.signIn(env.base, "#/incidents/"+grid.ID, "console-ncc-key")
		p.wait("the incident", `!!document.querySelector('#stages')`)
		for _, c := range []struct {
			lang string
			cat  map[string]string
		}{{"kk", kk}, {"ru", ru}, {"en", en}} {
			p.choose("#lang", c.lang)
			p.wait("the "+c.lang+" labels", `document.documentElement.lang === '`+c.lang+`'`)
			txt := p.mainText()
			for _, k := range []string{"nav.queue", "incident.stages", "stage.col.due", "incident.status.submit", "signout"} {
				if !strings.Contains(txt, c.cat[k]) {
					t.Errorf("%s: the page lacks %s = %q", c.lang, k, c.cat[k])
				}
			}
			p.shot("lang-" + c.lang)
		}
		// The report exports in the page's language with the key.
		p.eval(`(() => { window.__saved = []; HTMLAnchorElement.prototype.click = function () { window.__saved.push(this.download); }; return ''; })()`)
		p.do(chromedp.Click(chromedp.CSS(`#exports button[data-format=pdf]`)))
		p.wait("the PDF export", `window.__saved.length === 1`)
		if got, want := p.eval(`window.__saved[0]`), "kuzet-incident-"+grid.ID[:8]+"-en.pdf"; got != want {
			t.Errorf("the report saved as %q, want %q", got, want)
		}
		// The phone's width: the same page reflows.
		p.do(chromedp.EmulateViewport(390, 844))
		p.shot("phone")
		p.clean()
	})

	t.Run("the regulator reads the banking sector's statistics and digests, and no incident", func(t *testing.T) {
		// Three banks with a denial of service each (a row of three
		// organisations, shown), one phishing (one organisation: withheld),
		// and a national digest the NCC generates.
		detected := time.Now().UTC().Add(-2 * time.Hour).Format(time.RFC3339)
		for i, org := range []string{"bank", "bank-2", "bank-3", "bank"} {
			class, typ := "availability", "dos"
			if i == 3 {
				class, typ = "fraud", "phishing"
			}
			code, body := env.apiDo(t, http.MethodPost, "console-ncc-key", "/api/v1/incidents",
				`{"org":"`+org+`","title":"Secret title `+org+`","detected_at":"`+detected+`","rsit_class":"`+class+`","rsit_type":"`+typ+`"}`)
			if code != http.StatusCreated {
				t.Fatalf("declaring %s's incident: %d %s", org, code, body)
			}
		}
		period := time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02")
		if code, body := env.apiDo(t, http.MethodPost, "console-ncc-key", "/api/v1/reports",
			`{"kind":"daily","scope":"national","period_start":"`+period+`","lang":"en"}`); code != http.StatusCreated {
			t.Fatalf("generating a digest: %d %s", code, body)
		}
		p := b.person(t, "regulator")
		p.signIn(env.base, "#/queue", "console-regulator-key")
		p.wait("the statistics", `document.querySelectorAll('#stats-incidents tbody tr').length >= 1`)
		rows := p.eval(`JSON.stringify([...document.querySelectorAll('#stats-incidents tbody tr')].map((r) => [...r.cells].map((c) => c.textContent.trim())))`)
		var cells [][]string
		if err := json.Unmarshal([]byte(rows), &cells); err != nil {
			t.Fatal(err)
		}
		shown, withheld := false, false
		for _, r := range cells {
			switch {
			case len(r) >= 3 && r[0] == en["rsit.availability"]:
				shown = r[1] == "3" && r[2] == "3"
			case len(r) >= 2 && r[0] == en["rsit.fraud"]:
				withheld = strings.Contains(r[1], strings.ReplaceAll(en["stats.withheld"], "{k}", "3"))
			}
		}
		if !shown || !withheld {
			t.Errorf("banking statistics (availability shown 3/3: %v, fraud withheld: %v): %s", shown, withheld, rows)
		}
		if got := p.text("#stats-tlp"); got != "TLP:GREEN" {
			t.Errorf("the statistics are marked %q", got)
		}
		p.wait("the withheld note", `!!document.querySelector('#stats-withheld')`)
		p.wait("the digest", `document.querySelectorAll('#stats-digests tbody tr').length === 1`)
		// The HTML file downloads with the key (the anchor's click is
		// recorded instead of saving a file).
		p.eval(`(() => { window.__saved = []; HTMLAnchorElement.prototype.click = function () { window.__saved.push(this.download); }; return ''; })()`)
		p.do(chromedp.Click(chromedp.CSS(`#stats-digests button[data-format=html]`)))
		p.wait("the download", `window.__saved.length === 1`)
		if got := p.eval(`window.__saved[0]`); got != "kuzet-daily-national-"+period+"-en.html" {
			t.Errorf("the digest saved as %q", got)
		}
		txt := p.mainText()
		if strings.Contains(txt, "Secret title") || strings.Contains(txt, grid.Title) || strings.Contains(txt, bank.Title) {
			t.Errorf("the regulator sees incidents:\n%s", txt)
		}
		p.shot("stats")
		p.clean()
	})

	t.Run("a sign-in expires after 30 minutes idle and after 8 hours", func(t *testing.T) {
		for _, c := range []struct {
			skip time.Duration
			key  string
		}{{31 * time.Minute, "signin.idle"}, {8*time.Hour + time.Minute, "signin.expired"}} {
			p := b.person(t, "ncc")
			p.signIn(env.base, "#/queue", "console-ncc-key")
			p.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 1`)
			// The page's clock jumps ahead; the next navigation finds the
			// sign-in over.
			p.eval(fmt.Sprintf(`(() => { const real = Date.now; Date.now = () => real.call(Date) + %d; location.hash = '#/alerts'; return ''; })()`,
				c.skip.Milliseconds()))
			p.wait("the sign-in form", `!!document.querySelector('input[name=key]')`)
			if txt := p.mainText(); !strings.Contains(txt, en[c.key]) {
				t.Errorf("after %s: the page lacks %q:\n%s", c.skip, en[c.key], txt)
			}
			p.clean()
		}
	})

	t.Run("an OISC analyst triages its alert as a false positive; an NCC analyst silences a rule and ends the silence", func(t *testing.T) {
		p := b.person(t, "oisc")
		p.signIn(env.base, "#/alerts", "console-oisc-key")
		p.wait("the alerts with their checkboxes", `document.querySelectorAll('#alerts input.pick').length === 1`)
		p.do(chromedp.Click(chromedp.CSS("#alerts input.pick")))
		p.wait("the selection", `!document.querySelector('#triage-apply').disabled`)
		p.choose("#triage-status", "false_positive")
		p.choose("#triage-reason", "scheduled vulnerability scan")
		p.do(chromedp.Click(chromedp.CSS("#triage-apply")))
		p.wait("the triage", `!!document.querySelector('#triage-done')`)
		p.wait("the alert's triage shown", `document.querySelector('#alerts tbody').textContent.includes('scheduled vulnerability scan')`)
		code, body := env.apiGet(t, "console-oisc-key", "/api/v1/alerts?triage=false_positive")
		if code != 200 || !strings.Contains(string(body), `"reason":"scheduled vulnerability scan"`) || !strings.Contains(string(body), `"actor":"oisc-b-daniyar"`) {
			t.Errorf("the triaged alert through the API: %d %s", code, body)
		}
		p.shot("triage")
		p.clean()

		n := b.person(t, "ncc")
		n.signIn(env.base, "#/silences", "console-ncc-key")
		n.wait("the silence form", `!!document.querySelector('#silence-form')`)
		n.choose("#silence-value", "r-noisy")
		n.choose("#silence-reason", "rule under review")
		n.do(chromedp.Click(chromedp.CSS("#silence-create")))
		n.wait("the active silence", `!!document.querySelector('#silence-made') && document.querySelectorAll('#silences tbody tr button[data-id]').length === 1`)
		if txt := n.text("#silences"); !strings.Contains(txt, "rule_id=r-noisy") || !strings.Contains(txt, en["silence.active"]) {
			t.Errorf("the silences list: %q", txt)
		}
		n.do(chromedp.Click(chromedp.CSS("#silences tbody tr button[data-id]")))
		n.wait("the ended silence", `document.querySelectorAll('#silences tbody tr button[data-id]').length === 0`)
		if txt := n.text("#silences"); !strings.Contains(txt, en["silence.expired"]) {
			t.Errorf("after ending it: %q", txt)
		}
		n.shot("silences")
		n.clean()
	})

	t.Run("an OISC analyst keeps a task and merges a duplicate into the grid's incident", func(t *testing.T) {
		detected := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		code, body := env.apiDo(t, http.MethodPost, "console-oisc-key", "/api/v1/incidents",
			`{"org":"grid","title":"The same scan, reported twice","detected_at":"`+detected+`","rsit_class":"information-gathering","rsit_type":"scanner"}`)
		var dup struct{ ID string }
		if code != http.StatusCreated || json.Unmarshal(body, &dup) != nil {
			t.Fatalf("the duplicate: %d %s", code, body)
		}
		p := b.person(t, "oisc")
		p.signIn(env.base, "#/incidents/"+dup.ID, "console-oisc-key")
		p.wait("the tasks form", `!!document.querySelector('#tasks-form')`)
		p.choose("#task-title", "Ask the grid for the scanner's schedule")
		p.do(chromedp.Click(chromedp.CSS("#task-add")))
		p.wait("the task", `!!document.querySelector('#tasks input[data-task]')`)
		p.do(chromedp.Click(chromedp.CSS("#tasks input[data-task]")))
		// Done once the page shows the saved version (the box it re-renders
		// is enabled and checked; the one clicked stays disabled until then).
		p.wait("the task done", `(() => { const b = document.querySelector('#tasks input[data-task]'); return !!b && b.checked && !b.disabled; })()`)
		p.choose("#merge-into", grid.ID)
		p.do(chromedp.Click(chromedp.CSS("#merge-submit")))
		p.wait("the merge's answer", `!!document.querySelector('#duplicate-of') || !!document.querySelector('#notices [role=alert]')`)
		if p.eval(`String(!!document.querySelector('#duplicate-of'))`) != "true" {
			t.Fatalf("the merge was refused: %s", p.text("#notices"))
		}
		if got := p.text("#duplicate-of"); got != grid.ID {
			t.Errorf("duplicate of %q, want %q", got, grid.ID)
		}
		code, body = env.apiGet(t, "console-oisc-key", "/api/v1/incidents/"+dup.ID)
		if code != 200 || !strings.Contains(string(body), `"status":"closed"`) || !strings.Contains(string(body), `"done":true`) {
			t.Errorf("the duplicate through the API: %d %.400s", code, body)
		}
		p.clean()
	})

	t.Run("the administrator makes a key, shown once, that works until revoked, and saves the registry", func(t *testing.T) {
		p := b.person(t, "admin")
		p.signIn(env.base, "#/queue", "console-admin-key")
		p.wait("the admin page", `!!document.querySelector('#key-form') && document.querySelector('#registry-json').value.includes('"organisations"')`)
		p.choose("#key-name", "bank-2-owner")
		p.choose("#key-role", "owner")
		p.choose("#key-scope", "bank-2")
		p.do(chromedp.Click(chromedp.CSS("#key-create")))
		p.wait("the new key's secret", `!!document.querySelector('#key-secret-value')`)
		secret := p.text("#key-secret-value")
		if code, body := env.apiGet(t, secret, "/api/v1/whoami"); code != 200 || !strings.Contains(string(body), `"org":"bank-2"`) {
			t.Fatalf("the new key: %d %s", code, body)
		}
		if got := p.eval(`JSON.stringify([Object.values(localStorage).concat(Object.values(sessionStorage)).some((v) => v.includes(` + strconv.Quote(secret) + `))])`); got != "[false]" {
			t.Errorf("the secret is kept in web storage")
		}
		p.do(chromedp.Click(chromedp.CSS(`#keys button[data-action=revoke]`)))
		p.wait("the revoked key", `!document.querySelector('#keys button[data-action=revoke]')`)
		// Revocation reaches the key cache within its TTL.
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, _ := env.apiGet(t, secret, "/api/v1/whoami")
			if code == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the revoked key still answers %d", code)
			}
			time.Sleep(250 * time.Millisecond)
		}
		p.do(chromedp.Click(chromedp.CSS("#registry-save")))
		p.wait("the registry saved", `!!document.querySelector('#registry-saved')`)
		p.shot("admin")
		p.clean()
	})

	t.Run("sign-out forgets the key", func(t *testing.T) {
		p := b.person(t, "ncc")
		p.signIn(env.base, "#/queue", "console-ncc-key")
		p.wait("the queue", `document.querySelectorAll('#queue-rows tr').length >= 1`)
		p.do(chromedp.Click(chromedp.CSS("#signout")))
		p.wait("the sign-in form", `!!document.querySelector('input[name=key]')`)
		if got := p.eval(`JSON.stringify([document.cookie, Object.keys(localStorage), Object.keys(sessionStorage)])`); got != `["",["kuzet.lang"],[]]` {
			t.Errorf("after sign-out, cookie, localStorage and sessionStorage: %s", got)
		}
		p.clean()
	})
}
