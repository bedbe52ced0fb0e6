package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/registry"
)

// RegistryKV is the registry of critical objects in a JetStream KV bucket:
// one key per entity ("center.<id>", "org.<id>", "object.<id>") holding its
// JSON, so an administrator can change one object without rewriting the rest.
type RegistryKV struct {
	kv  jetstream.KeyValue
	log *slog.Logger
}

// OpenRegistryKV creates or opens the bucket.
func OpenRegistryKV(ctx context.Context, js jetstream.JetStream, replicas int, log *slog.Logger) (*RegistryKV, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: RegistryBucket, History: 8, Replicas: replicas,
		Description: "kuzet registry of critical objects (TLP:AMBER+STRICT)",
	})
	if err != nil {
		// A site's leaf user may read the hub's bucket, not configure it.
		var berr error
		if kv, berr = js.KeyValue(ctx, RegistryBucket); berr != nil {
			return nil, fmt.Errorf("bus: registry bucket: %w", err)
		}
	}
	return &RegistryKV{kv: kv, log: log}, nil
}

func entries(reg *registry.Registry) (map[string][]byte, error) {
	out := map[string][]byte{}
	put := func(key string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out[key] = data
		return nil
	}
	for _, c := range reg.Centers {
		if err := put("center."+c.ID, c); err != nil {
			return nil, err
		}
	}
	for _, o := range reg.Organisations {
		if err := put("org."+o.ID, o); err != nil {
			return nil, err
		}
	}
	for _, o := range reg.Objects {
		if err := put("object."+o.ID, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyOrder puts centers before organisations before objects, so a watcher
// sees references defined before their users.
func keyOrder(k string) int {
	switch {
	case strings.HasPrefix(k, "center."):
		return 0
	case strings.HasPrefix(k, "org."):
		return 1
	}
	return 2
}

// Import makes the bucket hold exactly reg: it writes changed entities and
// deletes the ones reg no longer has. reg must be valid.
func (r *RegistryKV) Import(ctx context.Context, reg *registry.Registry) (changed int, err error) {
	want, err := entries(reg)
	if err != nil {
		return 0, err
	}
	have, err := r.all(ctx)
	if err != nil {
		return 0, err
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if d := keyOrder(a) - keyOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		if old, ok := have[k]; ok && string(old) == string(want[k]) {
			continue
		}
		if _, err := r.kv.Put(ctx, k, want[k]); err != nil {
			return changed, fmt.Errorf("bus: registry put %s: %w", k, err)
		}
		changed++
	}
	var gone []string
	for k := range have {
		if _, ok := want[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b string) int { return keyOrder(b) - keyOrder(a) })
	for _, k := range gone {
		if err := r.kv.Delete(ctx, k); err != nil {
			return changed, fmt.Errorf("bus: registry delete %s: %w", k, err)
		}
		changed++
	}
	return changed, nil
}

func (r *RegistryKV) all(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	w, err := r.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("bus: registry read: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("bus: registry watcher closed")
			}
			if e == nil {
				return out, nil
			}
			out[e.Key()] = e.Value()
		}
	}
}

// build assembles and validates a snapshot from bucket entries.
func build(kvs map[string][]byte) (*registry.Registry, error) {
	reg := &registry.Registry{Version: 1}
	keys := make([]string, 0, len(kvs))
	for k := range kvs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := kvs[k]
		var err error
		switch {
		case strings.HasPrefix(k, "center."):
			var c registry.Center
			err = json.Unmarshal(v, &c)
			reg.Centers = append(reg.Centers, c)
		case strings.HasPrefix(k, "org."):
			var o registry.Organisation
			err = json.Unmarshal(v, &o)
			reg.Organisations = append(reg.Organisations, o)
		case strings.HasPrefix(k, "object."):
			var o registry.Object
			err = json.Unmarshal(v, &o)
			reg.Objects = append(reg.Objects, o)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registry key %s: %w", k, err)
		}
	}
	if err := reg.Validate(); err != nil {
		return nil, err
	}
	return reg, nil
}

// Load returns the current registry snapshot.
func (r *RegistryKV) Load(ctx context.Context) (*registry.Registry, error) {
	kvs, err := r.all(ctx)
	if err != nil {
		return nil, err
	}
	return build(kvs)
}

// Watch calls fn with a validated snapshot once the bucket's current
// content is read, and again after every change (changes arriving within
// 100 ms are applied together). A snapshot that does not validate (an import
// half done) is skipped and logged. Watch blocks until ctx ends.
func (r *RegistryKV) Watch(ctx context.Context, fn func(*registry.Registry)) error {
	w, err := r.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("bus: registry watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	kvs := map[string][]byte{}
	initial := true
	var settle <-chan time.Time
	apply := func() {
		reg, err := build(kvs)
		if err != nil {
			r.log.Warn("registry snapshot invalid, keeping the previous one", "err", err)
			return
		}
		fn(reg)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-settle:
			settle = nil
			apply()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("bus: registry watcher closed")
			}
			if e == nil {
				initial = false
				apply()
				continue
			}
			if e.Operation() == jetstream.KeyValuePut {
				kvs[e.Key()] = e.Value()
			} else {
				delete(kvs, e.Key())
			}
			if !initial && settle == nil {
				settle = time.After(100 * time.Millisecond)
			}
		}
	}
}
