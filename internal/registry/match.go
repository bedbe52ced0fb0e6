package registry

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// Matcher finds the critical object an event belongs to, among the objects
// connected to one OISC (or every OISC). It is immutable and safe for
// concurrent use; build a new one for a new registry snapshot.
type Matcher struct {
	// byLen maps prefix length (longest first) to its prefixes.
	lens  []int
	byLen map[int]map[netip.Prefix]*Object
	exact map[string]*Object
	// wild maps a suffix ("scada.kegoc.kz" for "*.scada.kegoc.kz") to its object.
	wild map[string]*Object
	// zones holds the loaded zone of each object that has one.
	zones map[*Object]*time.Location
}

// NewMatcher indexes the objects of reg connected to oisc; an empty oisc
// indexes every object (for tools; a collector always passes its OISC).
// reg must be valid.
func NewMatcher(reg *Registry, oisc string) *Matcher {
	m := &Matcher{byLen: map[int]map[netip.Prefix]*Object{}, exact: map[string]*Object{}, wild: map[string]*Object{},
		zones: map[*Object]*time.Location{}}
	loaded := map[string]*time.Location{}
	for i := range reg.Objects {
		o := &reg.Objects[i]
		if oisc != "" && o.OISC != oisc {
			continue
		}
		if o.Zone != "" {
			l, ok := loaded[o.Zone]
			if !ok {
				l, _ = loadZone(o.Zone) // Validate reports an error
				loaded[o.Zone] = l
			}
			if l != nil {
				m.zones[o] = l
			}
		}
		for _, c := range o.CIDRs {
			p, err := parsePrefix(c)
			if err != nil {
				continue // Validate reports it
			}
			if m.byLen[p.Bits()] == nil {
				m.byLen[p.Bits()] = map[netip.Prefix]*Object{}
				m.lens = append(m.lens, p.Bits())
			}
			m.byLen[p.Bits()][p] = o
		}
		for _, h := range o.Hostnames {
			n, err := normHost(h)
			if err != nil {
				continue
			}
			if s, ok := strings.CutPrefix(n, "*."); ok {
				m.wild[s] = o
			} else {
				m.exact[n] = o
			}
		}
	}
	slices.Sort(m.lens)
	slices.Reverse(m.lens)
	return m
}

// MatchIP returns the object whose longest CIDR contains the address.
func (m *Matcher) MatchIP(s string) *Object {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil
	}
	a = a.Unmap().WithZone("")
	for _, l := range m.lens {
		if l > a.BitLen() {
			continue
		}
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		if o := m.byLen[l][p]; o != nil {
			return o
		}
	}
	return nil
}

// MatchHost returns the object that names the host exactly, else the one
// that names the first label of a fully qualified name ("ems-01" for
// "ems-01.corp.local"), else the one whose "*.suffix" pattern is the longest
// suffix of it.
func (m *Matcher) MatchHost(h string) *Object {
	if h == "" {
		return nil
	}
	n := strings.TrimSuffix(strings.ToLower(h), ".")
	if o := m.exact[n]; o != nil {
		return o
	}
	if short, _, ok := strings.Cut(n, "."); ok {
		if o := m.exact[short]; o != nil {
			return o
		}
	}
	for rest := n; ; {
		_, after, ok := strings.Cut(rest, ".")
		if !ok {
			break
		}
		if o := m.wild[after]; o != nil {
			return o
		}
		rest = after
	}
	return nil
}

// Match returns the object an event belongs to. It looks at the device that
// produced the record before the network endpoints it mentions: host.name,
// host.ip, observer.hostname, observer.ip, log.syslog.hostname, the sender's
// address (log.source.address), then destination.ip and source.ip.
func (m *Matcher) Match(ev *event.Event) *Object {
	if ev.Host != nil {
		if o := m.matchName(ev.Host.Name); o != nil {
			return o
		}
		if o := m.matchName(ev.Host.Hostname); o != nil {
			return o
		}
		for _, ip := range ev.Host.IP {
			if o := m.MatchIP(ip); o != nil {
				return o
			}
		}
	}
	if ev.Observer != nil {
		if o := m.matchName(ev.Observer.Hostname); o != nil {
			return o
		}
		if o := m.MatchIP(ev.Observer.IP); o != nil {
			return o
		}
	}
	if ev.Log != nil {
		if ev.Log.Syslog != nil {
			if o := m.matchName(ev.Log.Syslog.Hostname); o != nil {
				return o
			}
		}
		if ev.Log.Source != nil {
			if o := m.MatchIP(hostPart(ev.Log.Source.Address)); o != nil {
				return o
			}
		}
	}
	if ev.Destination != nil {
		if o := m.MatchIP(ev.Destination.IP); o != nil {
			return o
		}
	}
	if ev.Source != nil {
		if o := m.MatchIP(ev.Source.IP); o != nil {
			return o
		}
	}
	return nil
}

// matchName matches a host name field, which devices often fill with an
// address instead of a name.
func (m *Matcher) matchName(s string) *Object {
	if o := m.MatchHost(s); o != nil {
		return o
	}
	return m.MatchIP(s)
}

// Enrich sets the kuzet block's org, object, sector, criticality, egov
// flag and object tags (a copy) from the matched object and marks the asset
// known, or clears them and marks it unknown. Events are never dropped for an unknown asset.
func (m *Matcher) Enrich(ev *event.Event) *Object {
	o := m.Match(ev)
	k := &ev.Kuzet
	if o == nil {
		k.Org, k.Object, k.Sector, k.Criticality, k.EGov, k.ObjectTags = "", "", "", 0, false, nil
		k.Asset = event.AssetUnknown
		return nil
	}
	k.Org, k.Object, k.Sector, k.Criticality, k.EGov = o.Owner, o.ID, o.Sector, o.Criticality, o.EGov
	k.ObjectTags = slices.Clone(o.Tags)
	k.Asset = event.AssetKnown
	return o
}

// Zone returns the zone of the object an event belongs to (Match), or nil
// when no object matched or the object has no zone. Pipelines read the
// times a record gives without a zone in it (pipeline.StreamOptions
// DeviceZone).
func (m *Matcher) Zone(ev *event.Event) *time.Location {
	if len(m.zones) == 0 {
		return nil
	}
	return m.zones[m.Match(ev)]
}

// hostPart returns the host of "host:port", "[v6]:port" or a bare address.
func hostPart(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().String()
	}
	return addr
}
