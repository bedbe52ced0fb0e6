package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/telemetry"
)

// FuzzOIDCToken: any bearer credential is refused with a reason or
// verified, never a panic; only a token signed by the key set, for the
// issuer and audience, unexpired, with a printable sub passes; the set is
// never read (its keys are fresh and the client fails).
func FuzzOIDCToken(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	cfg := config.DefaultOIDC()
	cfg.Issuer, cfg.Audience = "https://idp.example", "kuzet-api"
	v := newOIDCVerifier(cfg, &http.Client{Transport: failingTransport{}}, func() time.Time { return now }, telemetry.OrDiscard(nil))
	v.keys = []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}
	v.fetchedAt, v.triedAt = now, now

	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, err := jwt.Signed(signer).Claims(map[string]any{"iss": cfg.Issuer, "aud": "kuzet-api", "sub": "alice",
		"exp": now.Add(time.Hour).Unix(), "kuzet_role": "ncc-analyst"}).Serialize()
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		good,
		enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		enc([]byte(`{"alg":"HS256","kid":"k1"}`)) + "." + parts[1] + "." + parts[2],
		enc([]byte(`{"alg":"ES256","kid":"k1","crit":["exp"]}`)) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + enc([]byte(`{"iss":1,"aud":[[]],"exp":"x"}`)) + "." + parts[2],
		parts[0] + ".." + parts[2],
		"a.b.c", "...", "kz_0123456789abcdef0123456789abcdef_x", "",
		good[:len(good)/2] + "." + good[len(good)/2:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, isTok := looksLikeJWT(tok)
		sub, claims, err := v.verify(context.Background(), tok)
		if err != nil {
			var te *tokenError
			if !errors.As(err, &te) || te.reason == "" || te.unavailable {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !isTok || sub == "" || claims == nil || len(tok) > maxTokenLen {
			t.Fatalf("verified %q: sub %q", tok, sub)
		}
	})
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}
