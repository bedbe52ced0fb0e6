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

// Migrations of this file (API keys, audit log). They live apart from
// migrate.go's list and join it in order at init, so migrations added there
// and here merge without touching each other's lines.
func init() {
	migrations = append(migrations, apiKeysMigration, auditLogMigration)
	slices.SortStableFunc(migrations, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
}

// apiKeysMigration: api_keys holds one row per (key, version); a change (a
// revocation) writes the next version and ReplacingMergeTree(version) keeps
// the latest. Only the key's hash is stored. revoked_at is the zero
// DateTime (1970-01-01) while the key is not revoked.
var apiKeysMigration = migration{7, "api keys", []string{
	`CREATE TABLE IF NOT EXISTS {db}.api_keys (
		id String,
		name String,
		hash String,
		role String,
		oisc String,
		org String,
		sectors Array(String),
		created_at DateTime,
		created_by String,
		expires_at DateTime,
		revoked_at DateTime,
		version UInt64
	) ENGINE = ReplacingMergeTree(version)
	ORDER BY id`,
}, nil, nil}

const apiKeyColumns = "id, name, hash, role, oisc, org, sectors, created_at, created_by, expires_at, revoked_at, version"

// ErrKeyNameTaken is returned by InsertKey when an active key (neither
// revoked nor expired) has the same name: names identify keys in logs and
// the audit log.
var ErrKeyNameTaken = errors.New("store: an active key has this name")

// InsertKey stores a new key (its Version must be 1). It refuses a name an
// active key holds at k.CreatedAt; two concurrent creations of one name can
// both pass (the check and the insert are two statements).
func (s *Store) InsertKey(ctx context.Context, k access.Key) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	keys, err := s.Keys(ctx)
	if err != nil {
		return err
	}
	for _, o := range keys {
		if o.Name == k.Name && o.State(k.CreatedAt) == access.KeyActive {
			return fmt.Errorf("%w: %q (id %s)", ErrKeyNameTaken, k.Name, o.ID)
		}
	}
	return s.writeKey(ctx, k)
}

func (s *Store) writeKey(ctx context.Context, k access.Key) error {
	return s.insert(ctx, "api_keys", apiKeyColumns, []any{k.ID, k.Name, k.Hash, string(k.Role), k.OISC, k.Org, nonNil(k.Sectors),
		k.CreatedAt.UTC(), k.CreatedBy, k.ExpiresAt.UTC(), dateTimeOrZero(k.RevokedAt), k.Version})
}

// RevokeKey marks the key revoked at `at` (a new version of its row) and
// returns it. Revoking a revoked key changes nothing and returns it as it
// is; an unknown id is ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (access.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	k, err := s.Key(ctx, id)
	if err != nil || !k.RevokedAt.IsZero() {
		return k, err
	}
	k.RevokedAt = at.UTC().Truncate(time.Second)
	k.Version++
	return k, s.writeKey(ctx, k)
}

// Key returns the latest version of one key, ErrNotFound when there is none.
func (s *Store) Key(ctx context.Context, id string) (access.Key, error) {
	keys, err := s.readKeys(ctx, "WHERE id = ?", id)
	if err != nil {
		return access.Key{}, err
	}
	if len(keys) == 0 {
		return access.Key{}, ErrNotFound
	}
	return keys[0], nil
}

// Keys returns the latest version of every key (revoked and expired ones
// too), by creation time.
func (s *Store) Keys(ctx context.Context) ([]access.Key, error) { return s.readKeys(ctx, "") }

func (s *Store) readKeys(ctx context.Context, where string, args ...any) ([]access.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT "+apiKeyColumns+" FROM "+s.table("api_keys")+" FINAL "+where+
		" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, classify("read api keys", err)
	}
	defer rows.Close()
	var out []access.Key
	for rows.Next() {
		var k access.Key
		var role string
		if err := rows.Scan(&k.ID, &k.Name, &k.Hash, &role, &k.OISC, &k.Org, &k.Sectors, &k.CreatedAt, &k.CreatedBy,
			&k.ExpiresAt, &k.RevokedAt, &k.Version); err != nil {
			return nil, fmt.Errorf("store: scan api key: %w", err)
		}
		k.Role = access.Role(role)
		k.CreatedAt, k.ExpiresAt, k.RevokedAt = k.CreatedAt.UTC(), k.ExpiresAt.UTC(), zeroDateTime(k.RevokedAt)
		if len(k.Sectors) == 0 {
			k.Sectors = nil
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("read api keys", err)
	}
	return out, nil
}

// dateTimeOrZero maps Go's zero time to ClickHouse's zero DateTime.
func dateTimeOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// zeroDateTime maps ClickHouse's zero DateTime back to Go's zero time.
func zeroDateTime(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
