package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// keyStore is what the API needs of the store for stored keys.
type keyStore interface {
	Keys(ctx context.Context) ([]access.Key, error)
	InsertKey(ctx context.Context, k access.Key) error
	RevokeKey(ctx context.Context, id string, at time.Time) (access.Key, error)
	RotateKey(ctx context.Context, id, newHash string, at, graceUntil time.Time) (access.Key, error)
	PreviousSecrets(ctx context.Context) ([]access.PreviousSecret, error)
}

// keyring is the API's cache of the stored keys: all of them, read at most
// once per ttl (under a lock, so concurrent requests read once), so a key
// revoked on any instance stops working here within ttl and unknown keys
// cost no query. Safe for concurrent use.
type keyring struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byID   map[string]access.Key
	prev   map[string]access.PreviousSecret // by key id: the secret before the last rotation
	readAt time.Time
	valid  bool
}

// lookup returns the stored key with the id and its previous secret (a
// zero Hash when it has none), reading the store again when the cache is
// older than ttl. ok is false for an unknown id.
func (k *keyring) lookup(ctx context.Context, st keyStore, id string) (access.Key, access.PreviousSecret, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); !k.valid || now.Sub(k.readAt) >= k.ttl || now.Before(k.readAt) {
		keys, err := st.Keys(ctx)
		if err != nil {
			return access.Key{}, access.PreviousSecret{}, false, err
		}
		prev, err := st.PreviousSecrets(ctx)
		if err != nil {
			return access.Key{}, access.PreviousSecret{}, false, err
		}
		k.byID = make(map[string]access.Key, len(keys))
		for _, key := range keys {
			k.byID[key.ID] = key
		}
		k.prev = make(map[string]access.PreviousSecret, len(prev))
		for _, p := range prev {
			k.prev[p.ID] = p
		}
		k.readAt, k.valid = now, true
	}
	key, ok := k.byID[id]
	return key, k.prev[id], ok, nil
}

// invalidate makes the next lookup read the store (after a change here).
func (k *keyring) invalidate() {
	k.mu.Lock()
	k.valid = false
	k.mu.Unlock()
}

// maxKeyBody bounds the body of a key request.
const maxKeyBody = 8 << 10

// keyRequest is the body of POST /api/v1/admin/keys.
type keyRequest struct {
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	OISC    string   `json:"oisc"`
	Org     string   `json:"org"`
	Sectors []string `json:"sectors"`
	// ExpiresAt (RFC 3339) or TTL (a Go duration, "720h"), not both;
	// neither: stored_keys.default_ttl.
	ExpiresAt string `json:"expires_at"`
	TTL       string `json:"ttl"`
}

// decodeKeyRequest turns a body into a key spec (not yet checked against
// the registry: KeySpec.Check does that).
func decodeKeyRequest(body []byte, now time.Time, defaultTTL time.Duration) (access.KeySpec, *Error) {
	var r keyRequest
	if err := decodeStrict(body, maxKeyBody, &r); err != nil {
		return access.KeySpec{}, err
	}
	spec := access.KeySpec{Name: r.Name, Role: access.Role(r.Role), OISC: r.OISC, Org: r.Org, Sectors: r.Sectors}
	switch {
	case r.ExpiresAt != "" && r.TTL != "":
		return spec, bodyField("ttl", "give expires_at or ttl, not both")
	case r.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, r.ExpiresAt)
		if err != nil {
			return spec, bodyField("expires_at", "must be an RFC 3339 time such as 2027-03-01T00:00:00Z")
		}
		spec.ExpiresAt = t
	case r.TTL != "":
		d, err := time.ParseDuration(r.TTL)
		if err != nil || d <= 0 {
			return spec, bodyField("ttl", "must be a positive duration such as 720h")
		}
		spec.ExpiresAt = now.Add(d)
	default:
		spec.ExpiresAt = now.Add(defaultTTL)
	}
	return spec, nil
}

func bodyField(field, msg string) *Error {
	return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidParameter, Field: field, Message: msg}
}

// adminOnly lets only the admin role through; others get 403.
func adminOnly(c *fiber.Ctx) error {
	if p := principal(c); p.Role != access.Admin {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not use the admin routes (keys, registry)"}
	}
	return c.Next()
}

// keyView is a stored key as the admin API shows it: never its hash.
type keyView struct {
	access.Key
	State access.KeyState `json:"state"`
}

// createKey answers POST /api/v1/admin/keys with 201 and the new key, shown
// this once; the store keeps only its hash.
func (s *Server) createKey(c *fiber.Ctx) error {
	now := s.now()
	spec, perr := decodeKeyRequest(c.Body(), now, s.cfg.StoredKeys.DefaultTTL)
	if perr != nil {
		return perr
	}
	setAuditDetail(c, fmt.Sprintf("name=%s role=%s oisc=%s org=%s sectors=%s expires_at=%s", spec.Name, spec.Role, spec.OISC, spec.Org,
		strings.Join(spec.Sectors, ","), spec.ExpiresAt.UTC().Format(time.RFC3339)))
	var reg *registry.Registry
	if spec.Org != "" || spec.OISC != "" {
		var err error
		if reg, err = s.registry(); err != nil {
			return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the registry to check the key's scope against is unavailable", Err: err}
		}
	}
	if err := spec.Check(reg, now, s.cfg.StoredKeys.MaxTTL); err != nil {
		var fe *access.FieldError
		if errors.As(err, &fe) {
			return bodyField(fe.Field, fe.Msg)
		}
		return err
	}
	id, secret, err := access.NewKey()
	if err != nil {
		return err
	}
	k := spec.Key(id, access.HashKey(secret), principal(c).Name, now)
	setAuditResource(c, id)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	if err := s.st.InsertKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrKeyNameTaken) {
			return &Error{Status: fiber.StatusConflict, Code: CodeConflict, Field: "name", Message: "an active key already has this name"}
		}
		return err
	}
	s.ring.invalidate()
	c.Location("/api/v1/admin/keys/" + id)
	return c.Status(fiber.StatusCreated).JSON(struct {
		keyView
		Key string `json:"key"`
	}{keyView{k, k.State(now)}, secret})
}

// listKeys answers GET /api/v1/admin/keys: every stored key, revoked and
// expired ones too, never a hash.
func (s *Server) listKeys(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	keys, err := s.st.Keys(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]keyView, len(keys))
	for i, k := range keys {
		out[i] = keyView{k, k.State(now)}
	}
	return c.JSON(fiber.Map{"keys": out})
}

// revokeKey answers DELETE /api/v1/admin/keys/{id} and POST
// /api/v1/admin/keys/{id}/revoke: the key stops working on every instance
// within stored_keys.cache_ttl. Revoking twice is no error.
func (s *Server) revokeKey(c *fiber.Ctx) error {
	id := c.Params("id")
	if !access.ValidKeyID(id) {
		return badParam("id", "a key id is 32 lower-case hex digits")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	k, err := s.st.RevokeKey(ctx, id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such key"}
	}
	if err != nil {
		return err
	}
	s.ring.invalidate()
	return c.JSON(keyView{k, k.State(s.now())})
}

// registry returns the registry that key scopes are checked against,
// loading registry_file on first use (and again after a failure).
func (s *Server) registry() (*registry.Registry, error) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if s.reg != nil {
		return s.reg, nil
	}
	if s.cfg.RegistryFile == "" {
		return nil, errors.New("registry_file is not set")
	}
	reg, err := registry.LoadFile(s.cfg.RegistryFile)
	if err != nil {
		return nil, err
	}
	s.reg = reg
	return reg, nil
}
