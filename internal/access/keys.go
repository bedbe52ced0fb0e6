package access

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/registry"
)

// Key is an API key as the store keeps it: its hash, never the key, the
// principal it stands for, and its life. A key is valid from CreatedAt until
// ExpiresAt unless RevokedAt is set.
type Key struct {
	// ID names the key in the admin API and in the key itself (see NewKey).
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Hash      string    `json:"-"`
	Role      Role      `json:"role"`
	OISC      string    `json:"oisc,omitempty"`
	Org       string    `json:"org,omitempty"`
	Sectors   []string  `json:"sectors,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the name of the key (or the operator) that made it.
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	// RevokedAt is zero while the key is not revoked.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Version orders the rows of one key (1 at creation, +1 per change).
	Version uint64 `json:"version"`
}

// Principal returns the caller the key stands for.
func (k Key) Principal() Principal {
	return Principal{Name: k.Name, Role: k.Role, OISC: k.OISC, Org: k.Org, Sectors: k.Sectors}
}

// KeyState is why a stored key does or does not authenticate.
type KeyState string

// Key states.
const (
	KeyActive  KeyState = "active"
	KeyExpired KeyState = "expired"
	KeyRevoked KeyState = "revoked"
)

// State returns the key's state at now: revoked wins over expired.
func (k Key) State(now time.Time) KeyState {
	switch {
	case !k.RevokedAt.IsZero() && !now.Before(k.RevokedAt):
		return KeyRevoked
	case !now.Before(k.ExpiresAt):
		return KeyExpired
	}
	return KeyActive
}

// keyPrefix starts every key NewKey makes; keyIDLen is the length of the id
// that follows it.
const (
	keyPrefix = "kz_"
	keyIDLen  = 32
)

// NewKey returns a fresh random key and its id: "kz_", the id (32 hex
// digits, 128 random bits), "_" and 256 random bits in base64url. The id
// lets the API find the key's record without a lookup by the secret; the
// secret part is compared through its hash in constant time (KeyMatches).
func NewKey() (id, key string, err error) {
	var b [16 + 32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("access: new key: %w", err)
	}
	id = hex.EncodeToString(b[:16])
	return id, keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[16:]), nil
}

// KeyID returns the id inside a key NewKey made; ok is false for keys of
// another shape (such as configured ones).
func KeyID(key string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok || len(rest) < keyIDLen+2 || rest[keyIDLen] != '_' {
		return "", false
	}
	id = rest[:keyIDLen]
	if !ValidKeyID(id) {
		return "", false
	}
	return id, true
}

// ValidKeyID reports whether id has the form of a key id (32 lower-case hex
// digits).
func ValidKeyID(id string) bool {
	if len(id) != keyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// KeySpec is what a new stored key is asked for.
type KeySpec struct {
	Name      string
	Role      Role
	OISC      string
	Org       string
	Sectors   []string
	ExpiresAt time.Time
}

// maxKeyName bounds a key's name.
const maxKeyName = 64

// ValidKeyName reports whether name may name a key: 1 to 64 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func ValidKeyName(name string) bool {
	if name == "" || len(name) > maxKeyName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// FieldError names the field of a KeySpec that is wrong.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Check validates the spec against reg (its organisations and OISCs) and
// now: a valid name, a known role with exactly the scope it needs (an oisc
// for oisc-analyst, an org for owner, sectors for sector-analyst and
// regulator, none for the others), scope entries that exist, an expiry in
// the future no later than now+maxTTL. The error is a *FieldError.
func (s KeySpec) Check(reg *registry.Registry, now time.Time, maxTTL time.Duration) error {
	bad := func(field, format string, args ...any) error { return &FieldError{field, fmt.Sprintf(format, args...)} }
	if !ValidKeyName(s.Name) {
		return bad("name", "must be 1 to %d letters, digits, '.', '_' or '-'", maxKeyName)
	}
	if err := CheckScope(Principal{Name: s.Name, Role: s.Role, OISC: s.OISC, Org: s.Org, Sectors: s.Sectors}, reg); err != nil {
		return err
	}
	if !s.ExpiresAt.After(now) {
		return bad("expires_at", "must be in the future")
	}
	if s.ExpiresAt.After(now.Add(maxTTL)) {
		return bad("expires_at", "must be within %s of now", maxTTL)
	}
	return nil
}

// Key returns the key the spec describes, id and hash given, version 1.
func (s KeySpec) Key(id, hash, createdBy string, now time.Time) Key {
	return Key{ID: id, Name: s.Name, Hash: hash, Role: s.Role, OISC: s.OISC, Org: s.Org, Sectors: s.Sectors,
		CreatedAt: now.UTC().Truncate(time.Second), CreatedBy: createdBy, ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Second), Version: 1}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
