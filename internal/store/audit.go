package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kuzet-kz/kuzet/internal/audit"
)

// auditLogMigration: audit_log is append-only, one row per audit record
// (MergeTree, never ReplacingMergeTree: nothing may collapse or replace a
// row). No code path updates or deletes it, and no retention drops it, nor
// incident_log. Rows are read by (instance, seq).
var auditLogMigration = migration{8, "audit log", []string{
	`CREATE TABLE IF NOT EXISTS {db}.audit_log (
		instance String,
		seq UInt64,
		at DateTime,
		actor String,
		role String,
		action String,
		resource String,
		resource_id String,
		outcome String,
		remote_addr String,
		request_id String,
		detail String,
		prev_hash String,
		hash String
	) ENGINE = MergeTree
	PARTITION BY toYYYYMM(at)
	ORDER BY (instance, seq)`,
}, nil, nil}

const auditColumns = "instance, seq, at, actor, role, action, resource, resource_id, outcome, remote_addr, request_id, detail, prev_hash, hash"

// AppendAudit appends sealed audit records in one INSERT. It writes what it
// is given: the chain is the caller's (audit.Seal).
func (s *Store) AppendAudit(ctx context.Context, rs []audit.Record) error {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows := make([][]any, len(rs))
	for i, r := range rs {
		rows[i] = []any{r.Instance, r.Seq, r.At.UTC(), r.ActorName, r.ActorRole, r.Action, r.Resource, r.ResourceID, r.Outcome,
			r.RemoteAddr, r.RequestID, r.Detail, r.PrevHash, r.Hash}
	}
	return s.insert(ctx, "audit_log", auditColumns, rows...)
}

// LastAudit returns the record with the highest seq of an instance's chain;
// ok is false when the chain has none.
func (s *Store) LastAudit(ctx context.Context, instance string) (r audit.Record, ok bool, err error) {
	err = s.scanAudit(ctx, "WHERE instance = ? ORDER BY seq DESC LIMIT 1", []any{instance}, func(x audit.Record) error {
		r, ok = x, true
		return nil
	})
	return r, ok, err
}

// ScanAudit calls fn with every record of an instance's chain in seq order
// (records with the same seq adjacent), streaming; fn's error stops it. The
// read is bounded by timeout, not by the store's query timeout: a long
// chain takes long to read.
func (s *Store) ScanAudit(ctx context.Context, instance string, timeout time.Duration, fn func(audit.Record) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return s.scanAudit(ctx, "WHERE instance = ? ORDER BY seq, hash", []any{instance}, fn)
}

// AuditInstances lists the instances that have audit records.
func (s *Store) AuditInstances(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT DISTINCT instance FROM "+s.table("audit_log")+" ORDER BY instance")
	if err != nil {
		return nil, classify("read audit instances", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var in string
		if err := rows.Scan(&in); err != nil {
			return nil, fmt.Errorf("store: scan audit instance: %w", err)
		}
		out = append(out, in)
	}
	return out, classifyErr("read audit instances", rows.Err())
}

func (s *Store) scanAudit(ctx context.Context, rest string, args []any, fn func(audit.Record) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	rows, err := s.conn.Query(withDeadline(ctx), "SELECT "+auditColumns+" FROM "+s.table("audit_log")+" "+rest, args...)
	if err != nil {
		return classify("read audit log", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r audit.Record
		if err := rows.Scan(&r.Instance, &r.Seq, &r.At, &r.ActorName, &r.ActorRole, &r.Action, &r.Resource, &r.ResourceID,
			&r.Outcome, &r.RemoteAddr, &r.RequestID, &r.Detail, &r.PrevHash, &r.Hash); err != nil {
			return fmt.Errorf("store: scan audit record: %w", err)
		}
		r.At = r.At.UTC()
		if err := fn(r); err != nil {
			return err
		}
	}
	return classifyErr("read audit log", rows.Err())
}

func classifyErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return classify(op, err)
}
