package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kuzet-kz/kuzet/internal/conformance"
)

// axeTags are the axe-core rules the console is held to: WCAG 2.0, 2.1
// and 2.2 at levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"}

// axeRoles are the people who sign in: every page in their navigation is
// checked, and then their rows of axeExtras.
var axeRoles = []struct{ role, key string }{
	{"ncc-analyst", "console-ncc-key"},
	{"oisc-analyst", "console-oisc-key"},
	{"sector-analyst", "console-sector-key"},
	{"owner", "console-owner-key"},
	{"regulator", "console-regulator-key"},
	{"admin", "console-admin-key"},
}

// axeExtra is a page state a navigation link does not reach: a route
// ({grid} and {bank} stand for those organisations' incidents) and what
// the person then does on the page, if anything.
type axeExtra struct {
	role, name, hash string
	act              func(p *person)
}

// axeExtras: add a row for each page or state that is no navigation entry.
var axeExtras = []axeExtra{
	{role: "ncc-analyst", name: "incident", hash: "#/incidents/{grid}"},
	{role: "oisc-analyst", name: "incident with the declare form", hash: "#/incidents/{grid}"},
	{role: "sector-analyst", name: "incident", hash: "#/incidents/{bank}"},
	{role: "owner", name: "incident", hash: "#/incidents/{bank}"},
	{role: "owner", name: "another organisation's incident (not found)", hash: "#/incidents/{grid}"},
	{role: "owner", name: "report form with missing fields", hash: "#/report", act: func(p *person) {
		p.choose("#r-title", "")
		p.do(chromedp.Click(chromedp.CSS("#r-submit")))
		p.wait("the missing fields", `!!document.querySelector('#report-notices [role=alert]')`)
	}},
	{role: "owner", name: "report receipt", hash: "#/report", act: func(p *person) {
		p.choose("#r-title", "Ransomware on the core banking system")
		p.choose("#r-objects", "cbs")
		p.choose("#r-contact", "A. Seitkali")
		p.do(chromedp.Click(chromedp.CSS("#r-submit")))
		p.wait("the receipt", `!!document.querySelector('#receipt-id')`)
	}},
	{role: "oisc-analyst", name: "alerts with one picked for triage", hash: "#/alerts", act: func(p *person) {
		p.do(chromedp.Click(chromedp.CSS("#alerts input.pick")))
		p.wait("the selection", `!document.querySelector('#triage-apply').disabled`)
	}},
	{role: "ncc-analyst", name: "a silence made", hash: "#/silences", act: func(p *person) {
		p.choose("#silence-value", "r-axe")
		p.choose("#silence-reason", "accessibility test")
		p.do(chromedp.Click(chromedp.CSS("#silence-create")))
		p.wait("the active silence", `!!document.querySelector('#silence-made')`)
	}},
	{role: "admin", name: "a new key's secret shown", hash: "#/admin", act: func(p *person) {
		p.choose("#key-name", "axe-owner")
		p.choose("#key-role", "owner")
		p.choose("#key-scope", "bank-3")
		p.do(chromedp.Click(chromedp.CSS("#key-create")))
		p.wait("the new key's secret", `!!document.querySelector('#key-secret-value')`)
	}},
}

// axeUnreachable are the PAGES routes no role can reach, and why.
var axeUnreachable = map[string]string{
	"home": "the landing page of a role with no pages; every role now has some (app.js landing)",
}

// axePhone are the routes checked once more at a phone's width, as the
// NCC's analyst.
var axePhone = []string{"#/queue", "#/incidents/{grid}", "#/alerts", "#/report", "#/notifications", "#/stats"}

// quietProbe counts the page's fetches in flight and notes the time of
// the last change to the document, so that a test can wait until a page
// has loaded its data and drawn it, whichever page it is.
const quietProbe = `(() => {
  let inflight = 0;
  window.__last = performance.now();
  const f = window.fetch;
  window.fetch = function (...args) {
    inflight++;
    return f.apply(this, args).finally(() => { inflight--; window.__last = performance.now(); });
  };
  window.__inflight = () => inflight;
  new MutationObserver(() => { window.__last = performance.now(); })
    .observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})();`

// settled: the page has a heading, no fetch in flight, no "loading" text,
// and the document has not changed for 200 ms (a countdown ticks each
// second).
const settled = `document.body.dataset.ready === 'true' && !!document.querySelector('#main h1') &&
	window.__inflight() === 0 && !document.querySelector('#main [data-i18n=loading]') &&
	performance.now() - window.__last > 200`

// axeScript reads axe-core from internal/e2e/axe/node_modules (make deps
// installs it with npm ci) and checks it is the version the lock pins.
func axeScript(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(conformance.ModuleRoot(t), "internal", "e2e", "axe")
	src, err := os.ReadFile(filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core is not installed (make deps runs npm ci in internal/e2e/axe): %v", err)
		}
		t.Skipf("axe-core is not installed (make deps runs npm ci in internal/e2e/axe): %v", err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	var installed struct{ Version string }
	for f, v := range map[string]any{"package-lock.json": &lock, "node_modules/axe-core/package.json": &installed} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := lock.Packages["node_modules/axe-core"].Version; installed.Version != want {
		t.Fatalf("axe-core %s is installed, the lock pins %s: run make deps", installed.Version, want)
	}
	t.Logf("axe-core %s", installed.Version)
	return string(src)
}

// consolePages lists the routes of static/app.js's PAGES table.
func consolePages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance.ModuleRoot(t), "internal", "console", "static", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "const PAGES = {\n")
	table, _, _ = strings.Cut(table, "\n};")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  '?([\w-]+)'?: \{`).FindAllStringSubmatch(table, -1) {
		names = append(names, m[1])
	}
	if !ok || len(names) == 0 {
		t.Fatal("static/app.js: no PAGES table found")
	}
	return names
}

// badgeClasses lists the badge colours of static/console.css
// (severity-high, stage-late, tlp-red, ...).
func badgeClasses(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformance.ModuleRoot(t), "internal", "console", "static", "console.css"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`\.((?:severity|level|stage|tlp|status)-[a-z0-9-]+)`).FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("static/console.css: no badge colours found")
	}
	return out
}

// axeResult is what the test keeps of an axe-core result.
type axeResult struct {
	ID, Impact, Help string
	Nodes            []struct {
		Target  []any
		Summary string
	}
}

const axeRun = `axe.run(document, { runOnly: { type: 'tag', values: %s }, resultTypes: ['violations', 'incomplete'] })
  .then((r) => JSON.stringify([r.violations, r.incomplete].map((l) => l.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })) })))))`

// axeChecker runs axe-core in people's pages and notes the routes it
// checked.
type axeChecker struct {
	src, tags string
	mu        sync.Mutex
	pages     map[string]bool
	checks    int
	spent     time.Duration
	ran       atomic.Int32 // the people whose subtests ran
}

// inject loads axe-core into the page (again after a full navigation;
// the console's own navigation is by hash and keeps it). It is evaluated
// through the DevTools protocol, which the console's Content-Security-
// Policy (script-src 'self') does not govern; person.clean would report
// a violation.
func (a *axeChecker) inject(t *testing.T, p *person) {
	t.Helper()
	if p.eval(`typeof axe`) == "object" {
		return
	}
	if got := p.eval(a.src + "\n;typeof axe"); got != "object" {
		t.Fatalf("%s: axe-core did not load: typeof axe = %q", p.name, got)
	}
}

// run runs axe-core in the page: the violations and the results it could
// not decide (to review by hand).
func (a *axeChecker) run(t *testing.T, p *person, what string) (violations, incomplete []axeResult) {
	t.Helper()
	a.inject(t, p)
	start := time.Now()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(axeRun, a.tags), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %s: axe.run: %v", p.name, what, err)
	}
	var res [2][]axeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.spent += time.Since(start)
	a.checks++
	a.mu.Unlock()
	return res[0], res[1]
}

// check waits for the page to settle and fails on any serious or critical
// violation; the moderate and minor ones, and the undecided, are logged.
func (a *axeChecker) check(t *testing.T, p *person, what string) {
	t.Helper()
	p.wait(what+" settled", settled)
	violations, incomplete := a.run(t, p, what)
	a.mu.Lock()
	a.pages[p.eval(`location.hash.replace(/^#\/?/, '').split(/[/?]/)[0]`)] = true
	a.mu.Unlock()
	var minor, review []string
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			minor = append(minor, fmt.Sprintf("%s %s (%d)", v.Impact, v.ID, len(v.Nodes)))
			continue
		}
		var nodes []string
		for _, n := range v.Nodes {
			nodes = append(nodes, fmt.Sprint(n.Target))
		}
		t.Errorf("%s, %s (%s): %s %s: %s; at %s\n%s", p.name, what, p.eval(`location.hash`), v.Impact, v.ID, v.Help,
			strings.Join(nodes, ", "), v.Nodes[0].Summary)
	}
	for _, v := range incomplete {
		review = append(review, fmt.Sprintf("%s (%d)", v.ID, len(v.Nodes)))
	}
	t.Logf("%s, %s: %d moderate or minor %v; %d to review %v", p.name, what, len(minor), minor, len(review), review)
}

// TestConsoleAccessibility runs axe-core (from npm, internal/e2e/axe) in
// the console's every page, as each role, and at a phone's width: no
// serious or critical violation of WCAG 2.x A or AA. The people work in
// parallel tabs.
func TestConsoleAccessibility(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium, ClickHouse and NATS; skipped with -short")
	}
	tags, _ := json.Marshal(axeTags)
	a := &axeChecker{src: axeScript(t), tags: string(tags), pages: map[string]bool{}}
	env := newConsoleEnv(t)
	b := newBrowser(t)
	ids := strings.NewReplacer("{grid}", env.incidentOf(t, "grid").ID, "{bank}", env.incidentOf(t, "bank").ID)
	began := time.Now()
	open := func(t *testing.T, name string) *person {
		p := b.person(t, name)
		p.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: quietProbe})
			return chromedp.Void{}, err
		})
		return p
	}
	hash := func(p *person, h string) {
		p.eval(fmt.Sprintf(`(() => { location.hash = %q; return ''; })()`, h))
	}
	visit := func(t *testing.T, p *person, h, what string) {
		hash(p, h)
		a.check(t, p, what)
	}
	signInPage := func(t *testing.T, p *person) {
		p.do(chromedp.Navigate(env.base + "/"))
		p.wait("the sign-in form", `document.body.dataset.ready === 'true' && !!document.querySelector('input[name=key]')`)
	}

	t.Run("people", func(t *testing.T) {
		t.Run("visitor", func(t *testing.T) {
			t.Parallel()
			a.ran.Add(1)
			p := open(t, "visitor")
			signInPage(t, p)
			// The checker finds what it should: a button without a name.
			p.eval(`(() => { document.body.append(Object.assign(document.createElement('button'), { id: 'axe-probe' })); return ''; })()`)
			violations, _ := a.run(t, p, "the probe")
			if !slices.ContainsFunc(violations, func(v axeResult) bool { return v.ID == "button-name" && v.Impact == "critical" }) {
				t.Fatalf("axe-core missed a button without a name: %+v", violations)
			}
			p.eval(`(() => { document.getElementById('axe-probe').remove(); return ''; })()`)
			// Every badge and notice colour of the stylesheet, also those
			// the test's data shows nowhere (a late stage, TLP:RED).
			classes, _ := json.Marshal(badgeClasses(t))
			p.eval(fmt.Sprintf(`(() => { const m = document.getElementById('main');
				const card = Object.assign(document.createElement('div'), { id: 'axe-palette', className: 'card' });
				for (const c of %s) { card.append(Object.assign(document.createElement('span'), { className: 'badge ' + c, textContent: c }), ' '); }
				for (const c of ['notice', 'notice ok', 'notice warn', 'notice error']) {
					const n = Object.assign(document.createElement('div'), { className: c });
					n.append(Object.assign(document.createElement('p'), { textContent: c }), Object.assign(document.createElement('a'), { href: '#/queue', textContent: c }));
					card.append(n);
				}
				m.append(card); return ''; })()`, classes))
			a.check(t, p, "the stylesheet's badges and notices")
			p.eval(`(() => { document.getElementById('axe-palette').remove(); return ''; })()`)
			a.check(t, p, "sign-in")
			p.do(chromedp.SendKeys(chromedp.CSS("input[name=key]"), "not-a-key\n"))
			p.wait("the refusal", `!!document.querySelector('#main [role=alert]')`)
			a.check(t, p, "sign-in refused")
			// The skip link takes the keyboard to the page's heading and
			// leaves the route alone.
			p.do(chromedp.SendKeys(chromedp.CSS("#skip"), kb.Enter))
			if got := p.eval(`document.activeElement.tagName + ' ' + location.hash`); got != "H1 " {
				t.Errorf("after the skip link: focus and route %q, want the h1 and no route", got)
			}
			p.clean()
		})
		for _, r := range axeRoles {
			t.Run(r.role, func(t *testing.T) {
				t.Parallel()
				a.ran.Add(1)
				p := open(t, r.role)
				p.signIn(env.base, "", r.key)
				a.check(t, p, "landing page")
				nav := p.eval(`JSON.stringify([...document.querySelectorAll('#nav a[href]')].map((a) => a.getAttribute('href')))`)
				var hashes []string
				if err := json.Unmarshal([]byte(nav), &hashes); err != nil {
					t.Fatal(err)
				}
				for _, h := range hashes {
					if h != p.eval(`location.hash`) { // the landing page, checked
						visit(t, p, h, strings.TrimPrefix(h, "#/"))
					}
				}
				for _, x := range axeExtras {
					if x.role != r.role {
						continue
					}
					// Each extra starts from a fresh render of its route (a
					// hash the same as the current one would not render again).
					hash(p, "#/queue?axe")
					p.wait("the queue", settled)
					hash(p, ids.Replace(x.hash))
					if x.act != nil {
						p.wait(x.name, settled)
						x.act(p)
					}
					a.check(t, p, x.name)
				}
				p.clean()
			})
		}
		t.Run("phone", func(t *testing.T) {
			t.Parallel()
			a.ran.Add(1)
			p := open(t, "ncc-phone")
			p.do(chromedp.EmulateViewport(390, 844))
			signInPage(t, p)
			a.check(t, p, "sign-in at 390×844")
			p.signIn(env.base, "", "console-ncc-key")
			for _, h := range axePhone {
				visit(t, p, ids.Replace(h), strings.TrimPrefix(h, "#/")+" at 390×844")
			}
			p.clean()
		})
	})

	for _, name := range consolePages(t) {
		if n := a.ran.Load(); n < int32(len(axeRoles)+2) {
			t.Logf("%d of the %d people ran: the PAGES routes are not all expected", n, len(axeRoles)+2)
			break
		}
		if !a.pages[name] && axeUnreachable[name] == "" {
			t.Errorf("static/app.js PAGES has %q and no role's visit reached it: add a row to axeExtras (or a key to axeRoles)", name)
		}
	}
	var checked []string
	for name := range a.pages {
		checked = append(checked, name)
	}
	slices.Sort(checked)
	t.Logf("%d axe checks of pages %q in %s (axe.run %s in all)", a.checks, checked, time.Since(began).Round(100*time.Millisecond), a.spent.Round(100*time.Millisecond))
}
