package access

import (
	"fmt"

	"github.com/kuzet-kz/kuzet/internal/registry"
)

// CheckScope checks a principal's role and scope as a stored key's are
// checked: a known role with exactly the scope it needs (an oisc for
// oisc-analyst, an org for owner, sectors for sector-analyst and regulator,
// none for the others), known sectors, and an org and oisc that are in reg.
// The error is a *FieldError naming the scope field (role, oisc, org or
// sectors). Its Name is not checked.
func CheckScope(p Principal, reg *registry.Registry) error {
	bad := func(field, format string, args ...any) error { return &FieldError{field, fmt.Sprintf(format, args...)} }
	if err := p.Validate(); err != nil {
		field := "role"
		switch p.Role {
		case OISCAnalyst:
			field = "oisc"
		case Owner:
			field = "org"
		case SectorAnalyst, Regulator:
			field = "sectors"
		}
		return bad(field, "%v", err)
	}
	if p.OISC != "" && p.Role != OISCAnalyst {
		return bad("oisc", "only an %s key has an oisc", OISCAnalyst)
	}
	if p.Org != "" && p.Role != Owner {
		return bad("org", "only an %s key has an org", Owner)
	}
	if len(p.Sectors) > 0 && p.Role != SectorAnalyst && p.Role != Regulator {
		return bad("sectors", "only %s and %s keys have sectors", SectorAnalyst, Regulator)
	}
	if len(p.Sectors) > 64 {
		return bad("sectors", "at most 64")
	}
	for _, sec := range p.Sectors {
		if !registry.ValidSector(sec) {
			return bad("sectors", "unknown sector %q", truncate(sec, 64))
		}
	}
	if p.Org != "" || p.OISC != "" {
		if reg == nil {
			return bad("org", "no registry to check the scope against")
		}
		if p.Org != "" && reg.Organisation(p.Org) == nil {
			return bad("org", "organisation %q is not in the registry", truncate(p.Org, 64))
		}
		if p.OISC != "" {
			if c := reg.Center(p.OISC); c == nil || c.Kind != registry.KindOISC {
				return bad("oisc", "%q is not an OISC in the registry", truncate(p.OISC, 64))
			}
		}
	}
	return nil
}
