// Package access defines the API roles of kuzet and what each principal may
// see. It is pure: the store turns a Principal's scope into query conditions
// (role scoping happens inside queries, never only in handlers).
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Role is an API role (ARCHITECTURE.md, "Roles and scopes").
type Role string

// The roles.
const (
	// NCCAnalyst sees everything.
	NCCAnalyst Role = "ncc-analyst"
	// OISCAnalyst sees the objects connected to its OISC.
	OISCAnalyst Role = "oisc-analyst"
	// SectorAnalyst sees its sectors (a sectoral center, Art. 7-5).
	SectorAnalyst Role = "sector-analyst"
	// Owner sees its organisation's objects and incidents.
	Owner Role = "owner"
	// Regulator sees aggregates for its sectors, no raw events.
	Regulator Role = "regulator"
	// Admin manages the registry and keys; it sees no events.
	Admin Role = "admin"
)

// Roles lists every role.
var Roles = []Role{NCCAnalyst, OISCAnalyst, SectorAnalyst, Owner, Regulator, Admin}

// Principal is an authenticated caller and its scope.
type Principal struct {
	// Name identifies the key (never the key itself).
	Name    string
	Role    Role
	OISC    string
	Org     string
	Sectors []string
	// TLP is the key's TLP ceiling ("": its role's, DefaultTLPCeiling).
	TLP string
}

// Validate checks that the role is known and its scope is given.
func (p Principal) Validate() error {
	if p.TLP != "" {
		if err := ValidTLPCeiling(p.TLP); err != nil {
			return err
		}
	}
	switch p.Role {
	case NCCAnalyst, Admin:
	case OISCAnalyst:
		if p.OISC == "" {
			return fmt.Errorf("role %s needs an oisc", p.Role)
		}
	case Owner:
		if p.Org == "" {
			return fmt.Errorf("role %s needs an org", p.Role)
		}
	case SectorAnalyst, Regulator:
		if len(p.Sectors) == 0 {
			return fmt.Errorf("role %s needs sectors", p.Role)
		}
	default:
		return fmt.Errorf("unknown role %q (want one of %s)", p.Role, joinRoles())
	}
	return nil
}

func joinRoles() string {
	s := make([]string, len(Roles))
	for i, r := range Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// ReadsEvents reports whether the principal may read raw events.
func (p Principal) ReadsEvents() bool {
	return slices.Contains([]Role{NCCAnalyst, OISCAnalyst, SectorAnalyst, Owner}, p.Role)
}

// EventScope is the restriction a principal puts on event queries: every
// non-empty field must match. The zero value means everything.
type EventScope struct {
	OISC    string
	Org     string
	Sectors []string
	// TLPMax is the highest TLP label the scope reads ("": any), and
	// Reader the name a TLP:RED record must list among its recipients.
	TLPMax string `json:"tlp_max,omitempty"`
	Reader string `json:"reader,omitempty"`
}

// EventScope returns the principal's restriction on events. It must only be
// called when ReadsEvents is true.
func (p Principal) EventScope() EventScope {
	sc := EventScope{TLPMax: p.Ceiling(), Reader: p.Name}
	switch p.Role {
	case OISCAnalyst:
		sc.OISC = p.OISC
	case Owner:
		sc.Org = p.Org
	case SectorAnalyst:
		sc.Sectors = p.Sectors
	}
	return sc
}

// HashPrefix starts every stored key hash.
const HashPrefix = "sha256:"

// HashKey returns the stored form of an API key: "sha256:" and the hex
// SHA-256 of the key. Keys are long random strings, so a plain hash is enough.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return HashPrefix + hex.EncodeToString(sum[:])
}

// ValidHash reports whether h has the stored-hash form.
func ValidHash(h string) bool {
	rest, ok := strings.CutPrefix(h, HashPrefix)
	if !ok || len(rest) != 64 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// KeyMatches compares a presented key with a stored hash in constant time.
func KeyMatches(key, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashKey(key)), []byte(hash)) == 1
}

// commonKeys are words people put in place of a key. A configured hash of
// one of them is a configuration error: anyone could guess the key.
var commonKeys = []string{
	"test", "test1", "test2", "test3", "test4", "testing", "password", "password1", "passw0rd",
	"admin", "administrator", "root", "changeme", "change-me", "kuzet", "secret", "default",
	"guest", "demo", "example", "key", "apikey", "api-key", "token", "letmein", "qwerty",
	"123456", "12345678", "1234567890", "0000", "1234", "dev", "development", "ncc", "oisc",
}

var commonKeyHashes = func() map[string]string {
	m := make(map[string]string, len(commonKeys))
	for _, w := range commonKeys {
		m[HashKey(w)] = w
	}
	return m
}()

// CommonKey reports whether hash is the stored form of a common word
// (test, password, admin, changeme, kuzet, ...), and which. Hashes are
// compared case-insensitively in their hex digits.
func CommonKey(hash string) (word string, ok bool) {
	word, ok = commonKeyHashes[strings.ToLower(hash)]
	return word, ok
}
