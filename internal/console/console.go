// Package console is kuzet's web console: hand-written HTML, CSS and
// JavaScript modules, embedded in the binary and served by kuzet-api at /
// (the page) and /console/... (its assets, the message catalogues).
//
// The console holds no secret of its own and sets no cookie: it keeps the
// API key a person signs in with in a JavaScript module variable (never in
// web storage) and sends it as Authorization: Bearer to /api/v1, so every
// pixel goes through the API's scoping and TLP ceilings, and no request it
// makes can be forged by another site (no ambient credential, no CSRF).
// A sign-in ends after 8 hours, after 30 minutes without input, on sign-out
// and with the tab.
//
// Every user-visible string lives in the catalogues i18n/kk.json,
// i18n/ru.json and i18n/en.json; the page marks text with data-i18n
// attributes and the scripts read labels with t(key). Tests hold the three
// catalogues to the same keys and the sources to no hard-coded text.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed index.html static i18n
var files embed.FS

// ContentSecurityPolicy is sent with every console response: scripts,
// styles and API calls from this origin only; no inline script or style,
// no eval, no framing, no form posted anywhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Prefix is the URL path under which the assets are served.
const Prefix = "/console/"

// Asset is one embedded file, ready to serve.
type Asset struct {
	Body        []byte
	ContentType string
	// ETag is a strong validator of Body (quoted).
	ETag string
}

var assets = load()

func load() map[string]Asset {
	m := map[string]Asset{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".json":
			ct = "application/json; charset=utf-8"
		}
		m[p] = Asset{Body: b, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: embedded assets: " + err.Error()) // the embed is fixed at build time
	}
	return m
}

// Lookup returns the asset a URL path names: "/" (and "/console/") is the
// page, "/console/<file>" a file under the console's folder. Paths that
// climb out of it or name a folder are not found.
func Lookup(urlPath string) (Asset, bool) {
	if urlPath == "/" || urlPath == Prefix || urlPath == strings.TrimSuffix(Prefix, "/") {
		a, ok := assets["index.html"]
		return a, ok
	}
	rest, ok := strings.CutPrefix(urlPath, Prefix)
	if !ok || rest == "" || !fs.ValidPath(rest) || rest == "index.html" {
		return Asset{}, false
	}
	a, ok := assets[rest]
	return a, ok
}

// FS returns the embedded sources (index.html, static/, i18n/), for tests
// and tools.
func FS() fs.FS { return files }
