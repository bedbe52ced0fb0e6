package access

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"
)

// Rotation grace: how long a key's previous secret keeps working after a
// rotation, by default and at most.
const (
	DefaultRotationGrace = 24 * time.Hour
	MaxRotationGrace     = 7 * 24 * time.Hour
)

// PreviousSecret is the secret a stored key had before its last rotation:
// its hash, working until ValidUntil (and no longer than the key itself:
// revocation and expiry end it too). A key has at most one; rotating again
// replaces it.
type PreviousSecret struct {
	ID         string
	Hash       string
	RotatedAt  time.Time
	ValidUntil time.Time
}

// CheckGrace checks a rotation's grace period: 0 (the old secret stops at
// once) to MaxRotationGrace.
func CheckGrace(d time.Duration) error {
	if d < 0 || d > MaxRotationGrace {
		return fmt.Errorf("must be 0 to %s, not %s", MaxRotationGrace, d)
	}
	return nil
}

// NewSecret returns a fresh key for the stored key id, as a rotation gives
// it: "kz_", the id, "_" and 256 new random bits in base64url (NewKey's
// form, so KeyID finds the key's record in it).
func NewSecret(id string) (string, error) {
	if !ValidKeyID(id) {
		return "", fmt.Errorf("access: new secret: %q is not a key id", id)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("access: new secret: %w", err)
	}
	return keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
