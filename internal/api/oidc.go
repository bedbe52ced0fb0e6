package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// OIDC bearer tokens.
//
// A bearer credential that has the shape of a JWT (three base64url parts,
// the first a JSON header naming an alg) is an OIDC token when oidc.issuer
// is set: it is verified against the issuer's keys (its JWKS) with go-jose
// — the signature with an algorithm of oidc.allowed_algs (asymmetric only;
// never none, never HS*: the JWKS's symmetric keys are dropped, so a
// token "signed" with the public key as an HMAC secret finds no key), then
// exp (required), nbf and iat with oidc.leeway, iss exactly and oidc.audience
// among aud — and its claims are mapped to a principal whose role and scope
// are checked as a stored key's (access.CheckScope). Anything wrong answers
// the same 401 as a bad key, counted by reason (oidc_*). The principal's
// Name is "oidc:<sub>", never the token.
//
// The JWKS is read on first use (from oidc.jwks_url, else the jwks_uri of
// the issuer's discovery document) and again after oidc.refresh; a token
// naming a kid the set lacks makes it read again (a rotation), at most once
// per oidc.min_refetch. When a read fails the keys already read stay in
// use; with none at all, tokens answer 503 unavailable.

// maxTokenLen bounds a presented JWT; longer ones are refused unparsed.
const maxTokenLen = 8 << 10

// maxJWKSBytes bounds a JWKS or discovery document.
const maxJWKSBytes = 1 << 20

// jwksFetchTimeout bounds one read of the JWKS or discovery document.
const jwksFetchTimeout = 5 * time.Second

// oidcReasons label kuzet_api_auth_failures_total for refused tokens.
var oidcReasons = []string{"oidc_malformed", "oidc_alg", "oidc_unknown_kid", "oidc_signature", "oidc_issuer", "oidc_audience",
	"oidc_expired", "oidc_not_yet_valid", "oidc_issued_in_future", "oidc_claims", "oidc_unavailable"}

// jwtHeader is the part of a JWT header looksLikeJWT reads.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// looksLikeJWT reports whether a bearer credential has the shape of a JWS
// in compact form: three base64url parts, the first a JSON object naming
// an alg. API keys (kz_<id>_<secret>) never do.
func looksLikeJWT(s string) (jwtHeader, bool) {
	if strings.Count(s, ".") != 2 {
		return jwtHeader{}, false
	}
	h, _, _ := strings.Cut(s, ".")
	if h == "" || len(h) > 2048 {
		return jwtHeader{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return jwtHeader{}, false
	}
	var hdr jwtHeader
	if err := json.Unmarshal(b, &hdr); err != nil || hdr.Alg == "" {
		return jwtHeader{}, false
	}
	return hdr, true
}

func isJWT(s string) bool { _, ok := looksLikeJWT(s); return ok }

// tokenError is why a token was refused: reason labels the failure
// counter; unavailable is true when its keys could not be read (503).
type tokenError struct {
	reason      string
	unavailable bool
	err         error
}

func (e *tokenError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func refuse(reason string, format string, args ...any) *tokenError {
	return &tokenError{reason: reason, err: fmt.Errorf(format, args...)}
}

// oidcVerifier verifies OIDC tokens and keeps the issuer's keys. Safe for
// concurrent use: reads of the keys are serialised under mu.
type oidcVerifier struct {
	cfg    config.OIDC
	algs   []jose.SignatureAlgorithm
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	mu        sync.Mutex
	jwksURL   string // resolved (configured or discovered)
	keys      []jose.JSONWebKey
	fetchedAt time.Time // last successful read
	triedAt   time.Time // last attempt, successful or not
}

func newOIDCVerifier(cfg config.OIDC, client *http.Client, now func() time.Time, log *slog.Logger) *oidcVerifier {
	if client == nil {
		client = &http.Client{Timeout: 2 * jwksFetchTimeout}
	}
	v := &oidcVerifier{cfg: cfg, client: client, now: now, log: log, jwksURL: cfg.JWKSURL}
	for _, a := range cfg.AllowedAlgs {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	return v
}

// verify checks a token and returns its subject and its other claims.
func (v *oidcVerifier) verify(ctx context.Context, token string) (string, map[string]json.RawMessage, error) {
	if len(token) > maxTokenLen {
		return "", nil, refuse("oidc_malformed", "token of %d bytes", len(token))
	}
	hdr, ok := looksLikeJWT(token)
	if !ok {
		return "", nil, refuse("oidc_malformed", "not a JWT")
	}
	if !slices.Contains(v.algs, jose.SignatureAlgorithm(hdr.Alg)) {
		return "", nil, refuse("oidc_alg", "alg %q is not allowed", truncate(hdr.Alg, 32))
	}
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		return "", nil, refuse("oidc_malformed", "%w", err)
	}
	if len(tok.Headers) != 1 {
		return "", nil, refuse("oidc_malformed", "%d signatures", len(tok.Headers))
	}
	h := tok.Headers[0]
	keys, terr := v.keysFor(ctx, h.KeyID)
	if terr != nil {
		return "", nil, terr
	}
	var std jwt.Claims
	var extra map[string]json.RawMessage
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm || !keyFits(k, h.Algorithm) {
			continue
		}
		if err := tok.Claims(k.Key, &std, &extra); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return "", nil, refuse("oidc_signature", "no key of the issuer verifies the token (kid %q)", truncate(h.KeyID, 64))
	}
	if std.Expiry == nil {
		return "", nil, refuse("oidc_expired", "no exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.now()}, v.cfg.Leeway)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "", nil, refuse("oidc_issuer", "iss %q", truncate(std.Issuer, 128))
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "", nil, refuse("oidc_audience", "aud %q", truncate(strings.Join(std.Audience, ","), 128))
	case errors.Is(err, jwt.ErrExpired):
		return "", nil, refuse("oidc_expired", "expired at %s", std.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return "", nil, refuse("oidc_not_yet_valid", "not before %s", std.NotBefore.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "", nil, refuse("oidc_issued_in_future", "issued at %s", std.IssuedAt.Time().UTC().Format(time.RFC3339))
	default:
		return "", nil, refuse("oidc_claims", "%w", err)
	}
	if !validSubject(std.Subject) {
		return "", nil, refuse("oidc_claims", "sub missing or not printable (at most 255 bytes)")
	}
	return std.Subject, extra, nil
}

// keyFits reports whether a JWKS key can verify alg: a public key of the
// alg's type (symmetric keys never get here: readJWKS drops them).
func keyFits(k jose.JSONWebKey, alg string) bool {
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

func validSubject(s string) bool {
	if s == "" || len(s) > 255 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// keysFor returns the keys that may have signed a token naming kid: the
// key with that kid, or every key when kid is empty. It reads the JWKS when
// none was read yet, when it is older than refresh, and when kid is unknown
// and the last attempt is older than min_refetch.
func (v *oidcVerifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, *tokenError) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	stale := v.keys == nil || now.Sub(v.fetchedAt) >= v.cfg.Refresh || now.Before(v.fetchedAt)
	if stale && (v.triedAt.IsZero() || now.Sub(v.triedAt) >= v.cfg.MinRefetch || now.Before(v.triedAt)) {
		v.refreshLocked(ctx, now)
	}
	match := v.match(kid)
	if len(match) == 0 && v.keys != nil && now.Sub(v.triedAt) >= v.cfg.MinRefetch {
		v.refreshLocked(ctx, now) // an unknown kid: the issuer may have rotated its keys
		match = v.match(kid)
	}
	switch {
	case v.keys == nil:
		return nil, &tokenError{reason: "oidc_unavailable", unavailable: true, err: errors.New("the issuer's keys could not be read")}
	case len(match) == 0:
		return nil, refuse("oidc_unknown_kid", "no key %q in the issuer's set", truncate(kid, 64))
	}
	return match, nil
}

func (v *oidcVerifier) match(kid string) []jose.JSONWebKey {
	if kid == "" {
		return v.keys
	}
	var out []jose.JSONWebKey
	for _, k := range v.keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// refreshLocked reads the JWKS (discovering its URL first if need be) and
// keeps the keys it read; on failure it logs and keeps the keys it had.
func (v *oidcVerifier) refreshLocked(ctx context.Context, now time.Time) {
	v.triedAt = now
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	keys, err := v.readJWKS(ctx)
	if err != nil {
		v.log.Warn("oidc: cannot read the issuer's keys; keeping those read before", "issuer", v.cfg.Issuer, "kept", len(v.keys), "err", err)
		return
	}
	v.keys, v.fetchedAt = keys, now
}

func (v *oidcVerifier) readJWKS(ctx context.Context) ([]jose.JSONWebKey, error) {
	if v.jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, strings.TrimSuffix(v.cfg.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if doc.Issuer != v.cfg.Issuer {
			return nil, fmt.Errorf("discovery: the document names issuer %q, not %q", truncate(doc.Issuer, 128), v.cfg.Issuer)
		}
		if err := checkFetchURL(doc.JWKSURI); err != nil {
			return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		v.jwksURL = doc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			v.log.Warn("oidc: skipping a key of the issuer's set", "index", i, "err", err)
			continue
		}
		// Only public signing keys: a symmetric key in the set (or an
		// encryption key) never verifies a token.
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() {
			pub := k.Public()
			if !pub.Valid() {
				continue
			}
			k = pub
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no public signing key")
	}
	return keys, nil
}

func (v *oidcVerifier) getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > maxJWKSBytes {
		return fmt.Errorf("GET %s: more than %d bytes", u, maxJWKSBytes)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// checkFetchURL allows a discovered URL as config allows a configured one:
// https, or http on a loopback host.
func checkFetchURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", truncate(s, 128))
	}
	if u.Scheme == "https" {
		return nil
	}
	if a, err := netip.ParseAddr(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || err == nil && a.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("%q: want https", truncate(s, 128))
}

// tokenPrincipal maps a verified token's claims to a principal, checked as
// a stored key's scope is (the registry loaded when the token names an org
// or an oisc).
func (s *Server) tokenPrincipal(sub string, claims map[string]json.RawMessage) (access.Principal, error) {
	names := s.cfg.OIDC.Claims
	p := access.Principal{Name: "oidc:" + sub}
	role, err := roleClaim(claims[names.Role])
	if err != nil {
		return p, refuse("oidc_claims", "%s: %w", names.Role, err)
	}
	p.Role = role
	if p.OISC, err = stringClaim(claims[names.OISC]); err != nil {
		return p, refuse("oidc_claims", "%s: %w", names.OISC, err)
	}
	if p.Org, err = stringClaim(claims[names.Org]); err != nil {
		return p, refuse("oidc_claims", "%s: %w", names.Org, err)
	}
	if p.Sectors, err = stringsClaim(claims[names.Sectors]); err != nil {
		return p, refuse("oidc_claims", "%s: %w", names.Sectors, err)
	}
	var reg *registry.Registry
	if p.Org != "" || p.OISC != "" {
		if reg, err = s.registry(); err != nil {
			return p, &tokenError{reason: "oidc_unavailable", unavailable: true, err: fmt.Errorf("registry: %w", err)}
		}
	}
	if err := access.CheckScope(p, reg); err != nil {
		return p, refuse("oidc_claims", "%w", err)
	}
	return p, nil
}

// roleClaim reads the role: a string that is a role, or an array of
// strings holding exactly one role.
func roleClaim(raw json.RawMessage) (access.Role, error) {
	if raw == nil {
		return "", errors.New("missing")
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if !slices.Contains(access.Roles, access.Role(one)) {
			return "", fmt.Errorf("%q is not a role", truncate(one, 64))
		}
		return access.Role(one), nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return "", errors.New("want a string or an array of strings")
	}
	var role access.Role
	for _, r := range many {
		if slices.Contains(access.Roles, access.Role(r)) {
			if role != "" && role != access.Role(r) {
				return "", fmt.Errorf("two roles, %s and %s", role, r)
			}
			role = access.Role(r)
		}
	}
	if role == "" {
		return "", errors.New("no role among its values")
	}
	return role, nil
}

func stringClaim(raw json.RawMessage) (string, error) {
	if raw == nil || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("want a string")
	}
	return s, nil
}

func stringsClaim(raw json.RawMessage) ([]string, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("want a string or an array of strings")
	}
	if len(many) == 0 {
		return nil, nil
	}
	return many, nil
}

// authenticateToken verifies an OIDC token and maps it to a principal;
// every refusal is the one 401 a bad key gets, counted by reason, except
// keys or registry that cannot be read (503).
func (s *Server) authenticateToken(token string) (access.Principal, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	sub, claims, err := s.oidc.verify(ctx, token)
	var p access.Principal
	if err == nil {
		p, err = s.tokenPrincipal(sub, claims)
	}
	if err == nil {
		return p, nil
	}
	var te *tokenError
	if !errors.As(err, &te) {
		te = &tokenError{reason: "oidc_claims", err: err}
	}
	s.log.Debug("oidc token refused", "reason", te.reason, "err", te.err)
	if te.unavailable {
		s.m.authFailures.WithLabelValues(te.reason).Inc()
		return p, &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "bearer tokens cannot be checked now; retry later", Err: te.err}
	}
	return p, s.authFailed(te.reason)
}
