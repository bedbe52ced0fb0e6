package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/store"
	"github.com/kuzet-kz/kuzet/internal/store/storetest"
)

func TestAPIKeysRevokeAndAudit(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	id, key, err := access.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	k := access.Key{ID: id, Name: "grid-soc", Hash: access.HashKey(key), Role: access.Owner, Org: "grid", CreatedAt: now,
		CreatedBy: "admin", ExpiresAt: now.Add(time.Hour), Version: 1}
	if err := s.InsertKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k2 := k
	k2.ID = "0123456789abcdef0123456789abcdef"
	if err := s.InsertKey(ctx, k2); !errors.Is(err, store.ErrKeyNameTaken) {
		t.Fatalf("second active key of one name: %v", err)
	}
	got, err := s.Key(ctx, id)
	if err != nil || got.Hash != k.Hash || got.Role != access.Owner || got.Org != "grid" || !got.ExpiresAt.Equal(k.ExpiresAt) ||
		!got.RevokedAt.IsZero() || got.State(now) != access.KeyActive {
		t.Fatalf("stored key %+v, %v", got, err)
	}
	rk, err := s.RevokeKey(ctx, id, now)
	if err != nil || rk.Version != 2 || rk.State(now) != access.KeyRevoked {
		t.Fatalf("revoked %+v, %v", rk, err)
	}
	if again, err := s.RevokeKey(ctx, id, now.Add(time.Minute)); err != nil || !again.RevokedAt.Equal(now) || again.Version != 2 {
		t.Fatalf("revoked twice: %+v, %v", again, err)
	}
	if _, err := s.RevokeKey(ctx, "00000000000000000000000000000000", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	all, err := s.Keys(ctx)
	if err != nil || len(all) != 1 || all[0].State(now) != access.KeyRevoked {
		t.Fatalf("keys %+v, %v", all, err)
	}
	// Neither a revoked nor an expired key holds its name.
	if err := s.InsertKey(ctx, k2); err != nil {
		t.Fatalf("the name of a revoked key: %v", err)
	}
	later := k2
	later.ID, later.CreatedAt = "fedcba9876543210fedcba9876543210", now.Add(2*time.Hour)
	if err := s.InsertKey(ctx, later); err != nil {
		t.Fatalf("the name of an expired key: %v", err)
	}

	var head audit.Head
	var recs []audit.Record
	for i := 0; i < 3; i++ {
		var r audit.Record
		r, head = audit.Seal(audit.Record{Instance: "api-x", At: now, ActorName: "ncc", Action: "incident.list", Outcome: "200"}, head)
		recs = append(recs, r)
	}
	if err := s.AppendAudit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	last, ok, err := s.LastAudit(ctx, "api-x")
	if err != nil || !ok || last != recs[2] {
		t.Fatalf("last audit %+v %v %v, want %+v", last, ok, err, recs[2])
	}
	v := audit.NewVerifier("api-x", &head)
	if err := s.ScanAudit(ctx, "api-x", time.Minute, func(r audit.Record) error {
		if b := v.Add(r); b != nil {
			return b
		}
		return nil
	}); err != nil || v.End() != nil {
		t.Fatalf("verify stored chain: %v %v", err, v.End())
	}
	if ins, err := s.AuditInstances(ctx); err != nil || len(ins) != 1 || ins[0] != "api-x" {
		t.Fatalf("instances %v %v", ins, err)
	}
}
