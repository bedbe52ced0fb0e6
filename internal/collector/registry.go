package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// startRegistry applies the cached snapshot, imports the configured registry
// file, if any, and watches the KV bucket (on the hub, for a site); it waits
// (bounded) for the first snapshot. Each snapshot is cached under data_dir,
// so a collector that starts while the NCC is unreachable still enriches.
func (c *Collector) startRegistry(ctx, bg context.Context, js jetstream.JetStream) error {
	cache := filepath.Join(c.cfg.DataDir, c.cfg.ID, "registry.json")
	if reg, err := loadRegistryCache(cache); err == nil {
		c.applyRegistry(reg, "cache")
	}
	first := make(chan struct{})
	var once sync.Once
	apply := func(reg *registry.Registry) {
		c.applyRegistry(reg, "bucket")
		if err := saveRegistryCache(cache, reg); err != nil {
			c.log.Warn("registry cache not written", "err", err)
		}
		once.Do(func() { close(first) })
	}
	if c.cfg.RegistryFile != "" {
		reg, err := registry.LoadFile(c.cfg.RegistryFile)
		if err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		kv, err := bus.OpenRegistryKV(ctx, js, c.cfg.NATS.Replicas, c.log)
		if err != nil {
			return err
		}
		n, err := kv.Import(ctx, reg)
		if err != nil {
			return err
		}
		c.log.Info("registry imported", "file", c.cfg.RegistryFile, "changed_keys", n)
	}
	c.goUntilStop("registry watch", bg, func(ctx context.Context) {
		for ctx.Err() == nil {
			octx, cancel := context.WithTimeout(ctx, 10*time.Second)
			kv, err := bus.OpenRegistryKV(octx, js, c.cfg.NATS.Replicas, c.log)
			cancel()
			if err == nil {
				err = kv.Watch(ctx, apply)
			}
			if err != nil && ctx.Err() == nil {
				c.log.Warn("registry watch ended, retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	})
	select {
	case <-first:
	case <-time.After(15 * time.Second):
		c.log.Warn("no registry snapshot yet; events are marked unknown until one arrives")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// applyRegistry switches enrichment to a registry snapshot.
func (c *Collector) applyRegistry(reg *registry.Registry, from string) {
	c.matcher.Store(registry.NewMatcher(reg, c.cfg.OISC))
	n := 0
	for _, o := range reg.Objects {
		if o.OISC == c.cfg.OISC {
			n++
		}
	}
	c.m.objects.Set(float64(n))
	c.m.regUpdates.Inc()
	c.ready.Set("registry", nil)
	c.log.Info("registry snapshot applied", "objects", n, "from", from)
}

func loadRegistryCache(path string) (*registry.Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var reg registry.Registry
	if err := json.Unmarshal(data, &reg); err != nil {
		return nil, err
	}
	if err := reg.Validate(); err != nil {
		return nil, err
	}
	return &reg, nil
}

func saveRegistryCache(path string, reg *registry.Registry) error {
	data, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
