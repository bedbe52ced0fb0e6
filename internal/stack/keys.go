package stack

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// DemoKey is a key `kuzet run` minted into the store.
type DemoKey struct {
	Name, Key string
	Role      access.Role
	Scope     string
}

// mintedBy marks the keys `kuzet run` mints; the next run revokes them.
const mintedBy = "kuzet run"

// demoKeyTTL is the life of a minted key.
const demoKeyTTL = 30 * 24 * time.Hour

// mintKeys revokes the keys an earlier run minted and stores fresh ones,
// one per role, scoped to the demo registry's organisations: the first is
// the ncc-analyst key.
func mintKeys(ctx context.Context, cfg config.ClickHouse, registryFile string, oiscs []string) ([]DemoKey, error) {
	reg, err := registry.LoadFile(registryFile)
	if err != nil {
		return nil, fmt.Errorf("stack: registry for the demo keys: %w", err)
	}
	st, err := store.Open(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	old, err := st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for _, k := range old {
		if k.CreatedBy == mintedBy && k.RevokedAt.IsZero() {
			if _, err := st.RevokeKey(ctx, k.ID, now); err != nil {
				return nil, err
			}
		}
	}
	specs := []access.KeySpec{{Name: "demo-ncc", Role: access.NCCAnalyst}, {Name: "demo-admin", Role: access.Admin}}
	for _, o := range oiscs {
		specs = append(specs, access.KeySpec{Name: "demo-" + o, Role: access.OISCAnalyst, OISC: o})
	}
	if len(reg.Organisations) > 0 {
		org := reg.Organisations[0]
		specs = append(specs, access.KeySpec{Name: "demo-owner-" + org.ID, Role: access.Owner, Org: org.ID})
		if len(org.Sectors) > 0 {
			specs = append(specs,
				access.KeySpec{Name: "demo-sector-" + org.Sectors[0], Role: access.SectorAnalyst, Sectors: org.Sectors[:1]},
				access.KeySpec{Name: "demo-regulator-" + org.Sectors[0], Role: access.Regulator, Sectors: org.Sectors[:1]})
		}
	}
	out := make([]DemoKey, 0, len(specs))
	for _, spec := range specs {
		spec.ExpiresAt = now.Add(demoKeyTTL)
		if err := spec.Check(reg, now, demoKeyTTL); err != nil {
			return nil, fmt.Errorf("stack: demo key %s: %w", spec.Name, err)
		}
		id, key, err := access.NewKey()
		if err != nil {
			return nil, err
		}
		if err := st.InsertKey(ctx, spec.Key(id, access.HashKey(key), mintedBy, now)); err != nil {
			return nil, err
		}
		out = append(out, DemoKey{Name: spec.Name, Key: key, Role: spec.Role, Scope: spec.OISC + spec.Org + strings.Join(spec.Sectors, ",")})
	}
	return out, nil
}
