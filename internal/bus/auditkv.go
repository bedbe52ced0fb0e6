package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/audit"
	"github.com/kuzet-kz/kuzet/internal/config"
)

// AuditHeadsBucket holds the head of each API instance's audit chain: key
// the instance id, value {"seq","hash"} of its last record, written after
// each batch of records is stored. Kept apart from the rows, it shows rows
// cut from the end of a chain or a chain rewritten (audit.Verifier).
const AuditHeadsBucket = "kuzet_audit_heads"

// AuditHeads is the audit heads bucket. Safe for concurrent use.
type AuditHeads struct {
	kv jetstream.KeyValue
	nc *nats.Conn // owned, when DialAuditHeads connected
}

// OpenAuditHeads creates or opens the bucket over js.
func OpenAuditHeads(ctx context.Context, js jetstream.JetStream, replicas int) (*AuditHeads, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: AuditHeadsBucket, History: 8, Replicas: replicas, Storage: jetstream.FileStorage,
		Description: "kuzet audit chain heads, one key per API instance",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: audit heads bucket: %w", err)
	}
	return &AuditHeads{kv: kv}, nil
}

// DialAuditHeads connects to NATS (cfg) and opens the bucket; Close closes
// the connection. It lets a role keep audit heads without holding a NATS
// connection of its own.
func DialAuditHeads(ctx context.Context, cfg config.NATS, name string, log *slog.Logger) (*AuditHeads, error) {
	nc, err := Connect(cfg, name, log)
	if err != nil {
		return nil, err
	}
	js, err := JetStream(nc, cfg.Domain)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	h, err := OpenAuditHeads(ctx, Placed(js, cfg), cfg.Replicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	h.nc = nc
	return h, nil
}

// Close closes the connection DialAuditHeads made; it does nothing for a
// bucket opened over the caller's JetStream.
func (h *AuditHeads) Close() error {
	if h.nc != nil {
		h.nc.Close()
	}
	return nil
}

// Get returns an instance's head; ok is false when it has none.
func (h *AuditHeads) Get(ctx context.Context, instance string) (head audit.Head, ok bool, err error) {
	e, err := h.kv.Get(ctx, instance)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return audit.Head{}, false, nil
	}
	if err != nil {
		return audit.Head{}, false, fmt.Errorf("bus: get audit head %s: %w", instance, err)
	}
	if err := json.Unmarshal(e.Value(), &head); err != nil {
		return audit.Head{}, false, fmt.Errorf("bus: audit head %s: %w", instance, err)
	}
	return head, true, nil
}

// Put sets an instance's head.
func (h *AuditHeads) Put(ctx context.Context, instance string, head audit.Head) error {
	b, err := json.Marshal(head)
	if err != nil {
		return err
	}
	if _, err := h.kv.Put(ctx, instance, b); err != nil {
		return fmt.Errorf("bus: put audit head %s: %w", instance, err)
	}
	return nil
}

// Instances lists the instances that have a head, sorted.
func (h *AuditHeads) Instances(ctx context.Context) ([]string, error) {
	lister, err := h.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: list audit heads: %w", err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}
