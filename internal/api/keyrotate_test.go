package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/api"
)

type rotatedKey struct {
	createdKey
	PreviousValidUntil time.Time `json:"previous_valid_until"`
}

func rotate(t *testing.T, srv *api.Server, id, body string) rotatedKey {
	t.Helper()
	code, b, _ := send(t, srv, http.MethodPost, "admin-key", "/api/v1/admin/keys/"+id+"/rotate", body)
	var k rotatedKey
	if code != 200 || json.Unmarshal(b, &k) != nil || k.ID != id || k.Key == "" || k.State != "active" {
		t.Fatalf("rotate %s %s: %d %s", id, body, code, b)
	}
	if strings.Contains(string(b), "sha256:") || strings.Contains(string(b), `"hash"`) {
		t.Errorf("rotation answer shows a hash: %s", b)
	}
	return k
}

// TestKeyRotation: a rotated key has a new secret with the same id, role
// and scope; the old secret works for the grace period, then answers the
// 401 of an unknown key (counted as rotated); a second rotation ends the
// older secret; revocation ends both; bad requests are refused.
func TestKeyRotation(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	f := newFixture(t, func(o *api.Options) { o.Now = now; o.Config.StoredKeys.CacheTTL = 0 })
	whoami := func(key string) (int, string) {
		t.Helper()
		code, b, _ := send(t, f.srv, http.MethodGet, key, "/api/v1/whoami", "")
		return code, string(b)
	}

	orig := createKey(t, f.srv, `{"name":"grid-soc","role":"owner","org":"grid","ttl":"240h"}`)
	r1 := rotate(t, f.srv, orig.ID, `{"grace":"1h"}`)
	if r1.Key == orig.Key || r1.Name != "grid-soc" || r1.Role != "owner" || r1.Org != "grid" {
		t.Fatalf("rotated: %+v", r1)
	}
	if d := time.Until(r1.PreviousValidUntil); d < 59*time.Minute || d > time.Hour+time.Second {
		t.Errorf("previous_valid_until %s is not an hour on", r1.PreviousValidUntil)
	}
	for _, k := range []string{orig.Key, r1.Key} {
		if code, b := whoami(k); code != 200 || !strings.Contains(b, `"name":"grid-soc"`) || !strings.Contains(b, `"org":"grid"`) {
			t.Fatalf("within the grace: %d %s", code, b)
		}
	}
	// The store holds neither secret.
	ctx := context.Background()
	for _, k := range []string{orig.Key, r1.Key} {
		// kz_<id>_<secret>: the secret is base64url, which has '_' too.
		secret := strings.SplitN(k, "_", 3)[2]
		var n uint64
		for _, q := range []string{
			"SELECT count() FROM %s WHERE position(concat(id, name, hash, role, org, created_by), '%s') > 0",
			"SELECT count() FROM %s WHERE position(concat(id, prev_hash), '%s') > 0",
		} {
			table := f.st.Table("api_keys")
			if strings.Contains(q, "prev_hash") {
				table = f.st.Table("api_key_rotations")
			}
			if err := f.st.QueryRowScan(ctx, fmt.Sprintf(q, table, secret), &n); err != nil || n != 0 {
				t.Fatalf("rows holding a secret in %s: %d, %v", table, n, err)
			}
		}
	}

	// Past the grace the old secret is refused like an unknown key.
	skew.Store(int64(61 * time.Minute))
	code, b := whoami(orig.Key)
	var eb errBody
	if code != 401 || json.Unmarshal([]byte(b), &eb) != nil || eb.Error.Message != "invalid API key" {
		t.Fatalf("old secret after the grace: %d %s", code, b)
	}
	if got := authFailures(t, f.reg, "rotated"); got != 1 {
		t.Errorf("auth failures{rotated} = %v, want 1", got)
	}
	if code, _ := whoami(r1.Key); code != 200 {
		t.Fatalf("new secret after the grace: %d", code)
	}

	// A second rotation (default grace, empty body): r1 works a day, the
	// newest too; a third with grace 0 ends r2 at once.
	r2 := rotate(t, f.srv, orig.ID, "")
	if d := r2.PreviousValidUntil.Sub(now()); d < 23*time.Hour || d > 24*time.Hour+time.Second {
		t.Errorf("default grace: previous_valid_until %s", r2.PreviousValidUntil)
	}
	if c1, _ := whoami(r1.Key); c1 != 200 {
		t.Errorf("r1 in the default grace: %d", c1)
	}
	r3 := rotate(t, f.srv, orig.ID, `{"grace":"0s"}`)
	if c2, _ := whoami(r2.Key); c2 != 401 {
		t.Errorf("r2 after a rotation with no grace: %d", c2)
	}
	if c1, _ := whoami(r1.Key); c1 != 401 {
		t.Errorf("r1 two rotations back: %d", c1)
	}
	if c3, _ := whoami(r3.Key); c3 != 200 {
		t.Errorf("r3: %d", c3)
	}

	// Bad requests.
	for _, c := range []struct {
		target, body string
		code         int
		errCode      string
	}{
		{"/api/v1/admin/keys/" + orig.ID + "/rotate", `{"grace":"169h"}`, 400, api.CodeInvalidParameter},
		{"/api/v1/admin/keys/" + orig.ID + "/rotate", `{"grace":"-1h"}`, 400, api.CodeInvalidParameter},
		{"/api/v1/admin/keys/" + orig.ID + "/rotate", `{"grace":"soon"}`, 400, api.CodeInvalidParameter},
		{"/api/v1/admin/keys/" + orig.ID + "/rotate", `{"grace":"1h","role":"admin"}`, 400, api.CodeUnknownField},
		{"/api/v1/admin/keys/" + orig.ID + "/rotate", `[1]`, 400, ""},
		{"/api/v1/admin/keys/0123456789abcdef0123456789abcdef/rotate", "", 404, api.CodeNotFound},
		{"/api/v1/admin/keys/not-an-id/rotate", "", 400, api.CodeInvalidParameter},
	} {
		code, b, _ := send(t, f.srv, http.MethodPost, "admin-key", c.target, c.body)
		var eb errBody
		if code != c.code || json.Unmarshal(b, &eb) != nil || c.errCode != "" && eb.Error.Code != c.errCode {
			t.Errorf("%s %s: %d %s", c.target, c.body, code, b)
		}
	}

	// Revocation ends every secret; a revoked key cannot be rotated.
	r4 := rotate(t, f.srv, orig.ID, `{"grace":"1h"}`)
	if code, _, _ := send(t, f.srv, http.MethodPost, "admin-key", "/api/v1/admin/keys/"+orig.ID+"/revoke", ""); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	for _, k := range []string{r3.Key, r4.Key} {
		if code, _ := whoami(k); code != 401 {
			t.Errorf("a secret of a revoked key: %d", code)
		}
	}
	if code, b, _ := send(t, f.srv, http.MethodPost, "admin-key", "/api/v1/admin/keys/"+orig.ID+"/rotate", ""); code != 409 ||
		!strings.Contains(string(b), api.CodeConflict) {
		t.Errorf("rotate a revoked key: %d %s", code, b)
	}
}
