package console_test

import (
	"encoding/json"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kuzet-kz/kuzet/internal/console"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

var langs = []string{"kk", "ru", "en"}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(console.FS(), "i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("i18n/%s.json: %v", lang, err)
	}
	return m
}

// TestConsoleCataloguesAgree: kk, ru and en have the same keys, and no value is
// empty or left as its key.
func TestConsoleCataloguesAgree(t *testing.T) {
	en := catalogue(t, "en")
	if len(en) < 100 {
		t.Fatalf("en.json has %d keys", len(en))
	}
	for _, lang := range langs {
		c := catalogue(t, lang)
		for k, v := range c {
			if strings.TrimSpace(v) == "" || v == k {
				t.Errorf("%s.json: %s is %q", lang, k, v)
			}
			if _, ok := en[k]; !ok {
				t.Errorf("%s.json has %s, en.json does not", lang, k)
			}
		}
		for k := range en {
			if _, ok := c[k]; !ok {
				t.Errorf("%s.json lacks %s", lang, k)
			}
		}
		// Placeholders match the English message's.
		ph := regexp.MustCompile(`\{[a-z]+\}`)
		for k, v := range c {
			want := ph.FindAllString(en[k], -1)
			got := ph.FindAllString(v, -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s.json: %s has placeholders %v, en.json %v", lang, k, got, want)
			}
		}
	}
	// The Kazakh and Russian catalogues are translations, not copies.
	for _, lang := range []string{"kk", "ru"} {
		c, same := catalogue(t, lang), 0
		for k, v := range c {
			if v == en[k] {
				same++
			}
		}
		if same*5 > len(en) {
			t.Errorf("%s.json: %d of %d messages are the English ones", lang, same, len(en))
		}
	}
}

func sources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(console.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html")) {
			return err
		}
		b, err := fs.ReadFile(console.FS(), p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// literals returns the string literals of a script (quotes and template
// literals), skipping comments. The console's scripts use no regular
// expression literals, so every other slash is a division.
func literals(t *testing.T, name, src string) []string {
	t.Helper()
	var out []string
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				t.Fatalf("%s: unterminated comment", name)
			}
			i += end + 3
		case c == '\'' || c == '"' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				if src[j] == '\n' && c != '`' {
					t.Fatalf("%s: unterminated string at byte %d", name, i)
				}
				b.WriteByte(src[j])
			}
			out = append(out, b.String())
			i = j
		}
	}
	return out
}

// codeLiterals are the strings of the scripts that are not messages for
// people: HTTP header names and values, the zone, methods.
var codeLiterals = []string{"Authorization", "Bearer ", "Accept", "Content-Type", "If-Match", "If-None-Match",
	"Idempotency-Key", "ETag", "Asia/Almaty", "GET", "POST", "PATCH", "PUT", "Infinity"}

var (
	upperWord = regexp.MustCompile(`[A-Za-z]*[A-Z][A-Za-z]*`)
	prose     = regexp.MustCompile(`[a-z]{2,} [a-z]{2,}`)
	keyLike   = regexp.MustCompile(`^[a-z]+(\.[a-z0-9_+-]+)+$`)
)

// textForPeople reports whether a script's string looks like a message:
// non-ASCII letters, a word of two or more letters with a capital, or two
// lower-case words in a row.
func textForPeople(lit string) bool {
	if strings.ContainsFunc(lit, func(r rune) bool { return r > 0x7e }) || prose.MatchString(lit) {
		return true
	}
	for _, w := range upperWord.FindAllString(lit, -1) {
		if len(w) >= 2 {
			return true
		}
	}
	return false
}

// TestConsoleTextForPeople: the scanner's rule, on strings of both kinds.
func TestConsoleTextForPeople(t *testing.T) {
	for _, lit := range []string{"Sign in", "no incidents yet", "Инциденты", "Кіру", "Error", "OK", "GMT+5 time"} {
		if !textForPeople(lit) {
			t.Errorf("%q passes as code", lit)
		}
	}
	for _, lit := range []string{"queue.title", "badge", "#/incidents/", "/api/v1/incidents?", "tbody > tr", "T", ":00Z",
		"data-i18n-", "\\u2014", "2-digit", "h23", "en-gb", ", ", "' + id + '"} {
		if textForPeople(lit) {
			t.Errorf("%q is taken for text", lit)
		}
	}
	got := literals(t, "x.js", "const a = 'one'; // 'not this'\n/* \"nor this\" */ b(\"two\", `three`, 'it\\'s');")
	if want := []string{"one", "two", "three", "it's"}; !slices.Equal(got, want) {
		t.Errorf("literals: %q, want %q", got, want)
	}
}

// TestConsoleNoHardCodedText: every label the people read comes from the
// catalogues. The page's text is empty outside data-i18n (which the
// scripts fill), attributes people read go through data-i18n-*, and no
// string in a script looks like a message (capitalised words, prose,
// non-ASCII letters) unless it is a catalogue key or a protocol string.
// Every key-like string is in the catalogue.
func TestConsoleNoHardCodedText(t *testing.T) {
	en := catalogue(t, "en")
	namespaces := map[string]bool{}
	for k := range en {
		namespaces[strings.SplitN(k, ".", 2)[0]] = true
	}
	for name, src := range sources(t) {
		if strings.HasSuffix(name, ".html") {
			checkHTML(t, name, src, en)
			continue
		}
		for _, lit := range literals(t, name, src) {
			if _, ok := en[lit]; ok || slices.Contains(codeLiterals, lit) {
				continue
			}
			if keyLike.MatchString(lit) && namespaces[strings.SplitN(lit, ".", 2)[0]] {
				t.Errorf("%s: catalogue key %q is not in en.json", name, lit)
				continue
			}
			if textForPeople(lit) {
				t.Errorf("%s: %q looks like text for people: put it in the catalogues and use t() or i18n", name, lit)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout('", "sessionStorage", "document.cookie"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
		if strings.Contains(src, "localStorage") && name != "static/i18n.js" {
			t.Errorf("%s uses localStorage (only the language choice may be kept there, by i18n.js)", name)
		}
	}
}

var (
	tagRE  = regexp.MustCompile(`(?s)<[^>]*>`)
	attrRE = regexp.MustCompile(`\s([a-z-]+)="([^"]*)"`)
)

func checkHTML(t *testing.T, name, src string, en map[string]string) {
	t.Helper()
	if text := strings.TrimSpace(tagRE.ReplaceAllString(src, "")); text != "" {
		t.Errorf("%s: text outside data-i18n: %q", name, text)
	}
	for _, tag := range tagRE.FindAllString(src, -1) {
		if strings.HasPrefix(tag, "<style") {
			t.Errorf("%s: inline <style>", name)
		}
		if strings.HasPrefix(tag, "<script") && !strings.Contains(tag, " src=") {
			t.Errorf("%s: inline <script>", name)
		}
		for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
			attr, val := m[1], m[2]
			switch {
			case strings.HasPrefix(attr, "on") || attr == "style":
				t.Errorf("%s: inline %s= in %s", name, attr, tag)
			case attr == "placeholder" || attr == "title" || attr == "aria-label" || attr == "alt":
				t.Errorf("%s: %s=%q: use data-i18n-%s", name, attr, val, attr)
			case strings.HasPrefix(attr, "data-i18n"):
				if _, ok := en[val]; !ok {
					t.Errorf("%s: %s=%q is not in en.json", name, attr, val)
				}
			}
		}
	}
}

// TestConsoleModelMatchesTheDomain: the console's machine values are the domain's.
func TestConsoleModelMatchesTheDomain(t *testing.T) {
	b, err := fs.ReadFile(console.FS(), "static/model.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	var statuses []string
	for _, s := range incident.Statuses {
		statuses = append(statuses, "'"+string(s)+"'")
	}
	if want := "export const STATUSES = [" + strings.Join(statuses, ", ") + "];"; !strings.Contains(src, want) {
		t.Errorf("model.js STATUSES differ from incident.Statuses: want %s", want)
	}
	start, end := strings.Index(src, "export const RSIT = {"), strings.Index(src, "};\n\n// nextDue")
	if start < 0 || end < start {
		t.Fatal("model.js: RSIT not found")
	}
	pairs := 0
	for _, line := range strings.Split(src[start:end], "\n")[1:] {
		class, types, ok := strings.Cut(strings.TrimSpace(line), ": [")
		if !ok {
			continue
		}
		class = strings.Trim(class, "'")
		for _, typ := range strings.Split(strings.TrimSuffix(types, "],"), ", ") {
			pairs++
			if typ = strings.Trim(typ, "'"); !incident.ValidRSIT(class, typ) {
				t.Errorf("model.js RSIT: %s/%s is not in the taxonomy", class, typ)
			}
		}
	}
	if pairs < 30 {
		t.Errorf("model.js RSIT: %d pairs read", pairs)
	}
	en := catalogue(t, "en")
	for _, k := range slices.Sorted(maps.Keys(en)) {
		if strings.HasPrefix(k, "rsit.") && !strings.Contains(src, "'"+strings.TrimPrefix(k, "rsit.")+"'") &&
			!strings.Contains(src, "  "+strings.TrimPrefix(k, "rsit.")+": [") {
			t.Errorf("%s labels no class of model.js", k)
		}
	}
}

// TestConsoleLookup: the page at / and /console/, assets under /console/, nothing
// outside the embedded folders.
func TestConsoleLookup(t *testing.T) {
	for path, want := range map[string]string{
		"/":                           "text/html; charset=utf-8",
		"/console/":                   "text/html; charset=utf-8",
		"/console/static/app.js":      "text/javascript; charset=utf-8",
		"/console/static/console.css": "text/css; charset=utf-8",
		"/console/i18n/kk.json":       "application/json; charset=utf-8",
	} {
		a, ok := console.Lookup(path)
		if !ok || a.ContentType != want || len(a.Body) == 0 || !strings.HasPrefix(a.ETag, `"`) {
			t.Errorf("Lookup(%q) = %q, %v; want %s", path, a.ContentType, ok, want)
		}
	}
	for _, path := range []string{"/console/../console.go", "/console/static/", "/console/static", "/console/console.go",
		"/console/index.html", "/index.html", "/console//static/app.js", "/api/v1/incidents"} {
		if _, ok := console.Lookup(path); ok {
			t.Errorf("Lookup(%q) found a file", path)
		}
	}
	if strings.Contains(console.ContentSecurityPolicy, "unsafe") || !strings.Contains(console.ContentSecurityPolicy, "script-src 'self'") {
		t.Errorf("CSP %q", console.ContentSecurityPolicy)
	}
}
