package notify

import (
	"slices"
	"sync/atomic"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// KindOrg is the recipient kind of an organisation (an owner).
const KindOrg = "org"

// ChannelNone marks a recipient the registry could not resolve: it is
// shown on its stage, and nothing is sent to it.
const ChannelNone = "none"

// Resolver resolves symbolic recipients against the current registry. It
// is safe for concurrent use; Set swaps the registry (a KV watch calls it).
type Resolver struct {
	reg atomic.Pointer[registry.Registry]
	// Unresolved counts a symbolic recipient that resolved to nobody, by
	// role (nil: not counted).
	Unresolved func(role string)
}

// NewResolver returns a Resolver over reg (nil: none yet).
func NewResolver(reg *registry.Registry) *Resolver {
	r := &Resolver{}
	if reg != nil {
		r.reg.Store(reg)
	}
	return r
}

// Set makes reg the registry recipients resolve against.
func (r *Resolver) Set(reg *registry.Registry) {
	if reg != nil {
		r.reg.Store(reg)
	}
}

// Registry is the current registry (nil before the first Set).
func (r *Resolver) Registry() *registry.Registry { return r.reg.Load() }

func centerRecipient(c *registry.Center) incident.Recipient {
	return incident.Recipient{ID: c.ID, Kind: c.Kind, Channel: c.Notify.ChannelOrDefault(), Language: c.Notify.LanguageOrDefault()}
}

// Resolve is the incident.ResolveFunc: NCC is every center of kind ncc;
// OWNER the incident's organisation; CONNECTED_CENTER the center that
// detected it (else its organisation's OISCs); AUTHORIZED_BODY every
// authorized body; SECTOR_CENTER the sectoral centers of its sectors. A
// role that resolves to nobody keeps one symbolic recipient with channel
// none, so the stage shows whom it lacks.
func (r *Resolver) Resolve(role string, in *incident.ClockInput) ([]incident.Recipient, error) {
	var out []incident.Recipient
	if reg := r.reg.Load(); reg != nil {
		byKind := func(kind string) {
			for i := range reg.Centers {
				if reg.Centers[i].Kind == kind {
					out = append(out, centerRecipient(&reg.Centers[i]))
				}
			}
		}
		switch role {
		case incident.RecipientNCC:
			byKind(registry.KindNCC)
		case incident.RecipientAuthorizedBody:
			byKind(registry.KindAuthorizedBody)
		case incident.RecipientOwner:
			if o := reg.Organisation(in.Org); o != nil {
				out = append(out, incident.Recipient{ID: o.ID, Kind: KindOrg, Channel: o.Notify.ChannelOrDefault(), Language: o.Notify.LanguageOrDefault()})
			}
		case incident.RecipientConnectedCenter:
			if c := reg.Center(in.CenterID); c != nil {
				out = append(out, centerRecipient(c))
			} else if o := reg.Organisation(in.Org); o != nil {
				for _, id := range o.OISCs {
					if c := reg.Center(id); c != nil {
						out = append(out, centerRecipient(c))
					}
				}
			}
		case incident.RecipientSectorCenter:
			for i := range reg.Centers {
				c := &reg.Centers[i]
				if c.Kind == registry.KindSectoralISC && slices.ContainsFunc(c.Sectors, func(s string) bool { return slices.Contains(in.Sectors, s) }) {
					out = append(out, centerRecipient(c))
				}
			}
		}
	}
	if len(out) == 0 {
		if r.Unresolved != nil {
			r.Unresolved(role)
		}
		out = append(out, incident.Recipient{ID: role, Channel: ChannelNone, Language: "ru"})
	}
	return out, nil
}

// Endpoint returns the registry's endpoint of a recipient (nil: the
// defaults, NATS in Russian), and whether the recipient is known.
func Endpoint(reg *registry.Registry, kind, id string) (*registry.Notify, bool) {
	if reg == nil {
		return nil, false
	}
	if kind == KindOrg {
		if o := reg.Organisation(id); o != nil {
			return o.Notify, true
		}
		return nil, false
	}
	if c := reg.Center(id); c != nil {
		return c.Notify, true
	}
	return nil, false
}
