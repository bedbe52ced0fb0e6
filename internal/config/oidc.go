package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OIDC configures OIDC bearer tokens for kuzet-api: JWTs signed by the
// issuer's keys (its JWKS), for the audience, whose claims name a role and
// its scope. An empty issuer turns them off (API keys only).
type OIDC struct {
	// Issuer is the "iss" every token must carry, exactly (an https URL;
	// http only on a loopback host, for tests).
	Issuer string `yaml:"issuer"`
	// Audience must be one of the token's "aud".
	Audience string `yaml:"audience"`
	// JWKSURL is where the issuer's keys are read; empty: the jwks_uri of
	// the issuer's discovery document (<issuer>/.well-known/openid-configuration).
	JWKSURL string `yaml:"jwks_url"`
	// Claims names the claims that carry the role and its scope.
	Claims OIDCClaims `yaml:"claims"`
	// AllowedAlgs are the signature algorithms accepted (asymmetric only:
	// never none nor HS*).
	AllowedAlgs []string `yaml:"allowed_algs"`
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration `yaml:"leeway"`
	// Refresh is how long the keys read are used before reading them again.
	Refresh time.Duration `yaml:"refresh"`
	// MinRefetch is the least time between two reads of the keys caused by
	// a token naming an unknown kid (a key rotation), so forged kids cannot
	// make the API hammer the issuer.
	MinRefetch time.Duration `yaml:"min_refetch"`
}

// OIDCClaims names the token claims that map to a principal. Each is a
// top-level claim name (names may hold dots, as namespaced claims such as
// "https://kuzet.kz/role" do).
type OIDCClaims struct {
	// Role holds the role: a string, or an array of strings holding
	// exactly one kuzet role (other entries, such as IdP groups, ignored).
	Role string `yaml:"role"`
	// OISC (oisc-analyst) and Org (owner) hold a string; Sectors
	// (sector-analyst, regulator) an array of strings or one string.
	OISC    string `yaml:"oisc"`
	Org     string `yaml:"org"`
	Sectors string `yaml:"sectors"`
}

// Enabled reports whether OIDC tokens are accepted.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// SignatureAlgs are the algorithms allowed_algs may name.
var SignatureAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultOIDC returns the oidc defaults (off until issuer is set).
func DefaultOIDC() OIDC {
	return OIDC{
		Claims:      OIDCClaims{Role: "kuzet_role", OISC: "kuzet_oisc", Org: "kuzet_org", Sectors: "kuzet_sectors"},
		AllowedAlgs: []string{"RS256", "ES256"},
		Leeway:      30 * time.Second, Refresh: time.Hour, MinRefetch: 30 * time.Second,
	}
}

func (o OIDC) validate(es *Errors, path string) {
	if !o.Enabled() {
		if o.Audience != "" || o.JWKSURL != "" {
			es.Add(path+".issuer", "missing (audience and jwks_url need it)")
		}
		return
	}
	validIssuerURL(es, path+".issuer", o.Issuer)
	if o.Audience == "" {
		es.Add(path+".audience", "missing: a token for another service must not be accepted")
	}
	if o.JWKSURL != "" {
		validIssuerURL(es, path+".jwks_url", o.JWKSURL)
	}
	if len(o.AllowedAlgs) == 0 {
		es.Add(path+".allowed_algs", "missing")
	}
	for i, a := range o.AllowedAlgs {
		if !slices.Contains(SignatureAlgs, a) {
			es.Add(fmt.Sprintf("%s.allowed_algs[%d]", path, i), "%q: want one of %s (never none, nor HS*: a shared secret is not an issuer's key)",
				a, strings.Join(SignatureAlgs, ", "))
		}
	}
	names := map[string]string{}
	for _, c := range []struct{ field, name string }{
		{"role", o.Claims.Role}, {"oisc", o.Claims.OISC}, {"org", o.Claims.Org}, {"sectors", o.Claims.Sectors},
	} {
		p := path + ".claims." + c.field
		switch {
		case c.name == "":
			es.Add(p, "missing")
		case slices.Contains([]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}, c.name):
			es.Add(p, "%q is a registered claim, not a kuzet one", c.name)
		case names[c.name] != "":
			es.Add(p, "%q is also claims.%s", c.name, names[c.name])
		default:
			names[c.name] = c.field
		}
	}
	if o.Leeway < 0 || o.Leeway > 5*time.Minute {
		es.Add(path+".leeway", "must be 0..5m, not %s", o.Leeway)
	}
	if o.Refresh < time.Minute || o.Refresh > 24*time.Hour {
		es.Add(path+".refresh", "must be 1m..24h, not %s", o.Refresh)
	}
	if o.MinRefetch < time.Second || o.MinRefetch > o.Refresh {
		es.Add(path+".min_refetch", "must be 1s..refresh, not %s", o.MinRefetch)
	}
}

// validIssuerURL checks an issuer or JWKS URL: https, or http on a loopback
// host (a test issuer); no user info, query or fragment.
func validIssuerURL(es *Errors, path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		es.Add(path, "%q: want an absolute https URL without user, query or fragment", s)
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		if ip, err := netip.ParseAddr(h); h != "localhost" && (err != nil || !ip.IsLoopback()) {
			es.Add(path, "%q: http only on a loopback host; use https", s)
		}
	default:
		es.Add(path, "%q: want https", s)
	}
}

// ParseTrustedProxies parses trusted_proxies: CIDRs, or single addresses
// (a /32 or /128).
func ParseTrustedProxies(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for i, s := range ss {
		p, err := parseProxy(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("%q would trust every address: anyone could pick their own with X-Forwarded-For", s)
	}
	return p.Masked(), nil
}

func validProxies(es *Errors, path string, ss []string) {
	for i, s := range ss {
		if _, err := parseProxy(s); err != nil {
			es.Add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
		}
	}
}
