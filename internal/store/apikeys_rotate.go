package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
)

func init() {
	migrations = append(migrations, apiKeyRotationsMigration)
	slices.SortStableFunc(migrations, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
}

// apiKeyRotationsMigration: api_key_rotations holds, per key, the hash of
// the secret it had before its last rotation and until when that secret
// still works; ReplacingMergeTree(version) keeps the latest rotation (the
// key's version after it), so a key has at most one previous secret.
var apiKeyRotationsMigration = migration{16, "api key rotations", []string{
	`CREATE TABLE IF NOT EXISTS {db}.api_key_rotations (
		id String,
		prev_hash String,
		rotated_at DateTime,
		valid_until DateTime,
		version UInt64
	) ENGINE = ReplacingMergeTree(version)
	ORDER BY id`,
}, nil, nil}

// ErrKeyNotActive is returned by RotateKey for a revoked or expired key.
var ErrKeyNotActive = errors.New("store: the key is revoked or expired")

// RotateKey gives the key a new secret (its hash newHash; role, scope and
// expiry unchanged, version +1) and keeps the old secret's hash working
// until graceUntil. It returns the key as rotated. An unknown id is
// ErrNotFound, a key not active at `at` ErrKeyNotActive. The previous
// secret is written first: should the key's row then fail, the old secret
// is still the key's and nothing else changed.
func (s *Store) RotateKey(ctx context.Context, id, newHash string, at, graceUntil time.Time) (access.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	k, err := s.Key(ctx, id)
	if err != nil {
		return k, err
	}
	if k.State(at) != access.KeyActive {
		return k, fmt.Errorf("%w: %s is %s", ErrKeyNotActive, id, k.State(at))
	}
	at = at.UTC().Truncate(time.Second)
	if err := s.insert(ctx, "api_key_rotations", "id, prev_hash, rotated_at, valid_until, version",
		[]any{k.ID, k.Hash, at, graceUntil.UTC().Truncate(time.Second), k.Version + 1}); err != nil {
		return k, err
	}
	k.Hash = newHash
	k.Version++
	return k, s.writeKey(ctx, k)
}

// PreviousSecrets returns every key's previous secret (expired ones too:
// the caller compares ValidUntil), by key id.
func (s *Store) PreviousSecrets(ctx context.Context) ([]access.PreviousSecret, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT id, prev_hash, rotated_at, valid_until FROM "+s.table("api_key_rotations")+" FINAL ORDER BY id")
	if err != nil {
		return nil, classify("read api key rotations", err)
	}
	defer rows.Close()
	var out []access.PreviousSecret
	for rows.Next() {
		var p access.PreviousSecret
		if err := rows.Scan(&p.ID, &p.Hash, &p.RotatedAt, &p.ValidUntil); err != nil {
			return nil, fmt.Errorf("store: scan api key rotation: %w", err)
		}
		p.RotatedAt, p.ValidUntil = p.RotatedAt.UTC(), p.ValidUntil.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read api key rotations", err)
	}
	return out, nil
}
