package event

import (
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"
)

// ValidID reports whether s is a well-formed kuzet identifier: lower-case
// ASCII letters, digits, '_' and '-', 1 to 63 characters, starting with a
// letter or digit. Registry ids (organisations, objects, OISCs, collectors,
// sectors) appear in NATS subjects, so no dots, spaces or wildcards.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate checks the invariants of a normalised event and returns every
// violation, joined, each naming its JSON field.
func (ev *Event) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, err := ParseID(ev.Kuzet.EventID); err != nil {
		bad("kuzet.event_id", "%v", err)
	}
	if ev.Kuzet.ReceivedAt.IsZero() {
		bad("kuzet.received_at", "missing")
	}
	if ev.Timestamp.IsZero() {
		bad("@timestamp", "missing")
	} else if y := ev.Timestamp.Year(); y < 1970 || y > 9999 {
		bad("@timestamp", "year %d out of range", y)
	}
	if !ValidID(ev.Kuzet.Collector) {
		bad("kuzet.collector", "invalid id %q", ev.Kuzet.Collector)
	}
	if !ValidID(ev.Kuzet.OISC) {
		bad("kuzet.oisc", "invalid id %q", ev.Kuzet.OISC)
	}
	for _, f := range []struct{ name, v string }{
		{"kuzet.org", ev.Kuzet.Org}, {"kuzet.object", ev.Kuzet.Object}, {"kuzet.sector", ev.Kuzet.Sector},
	} {
		if f.v != "" && !ValidID(f.v) {
			bad(f.name, "invalid id %q", f.v)
		}
	}
	switch ev.Kuzet.Asset {
	case AssetKnown:
		if ev.Kuzet.Object == "" {
			bad("kuzet.object", "missing for a known asset")
		}
	case AssetUnknown:
	default:
		bad("kuzet.asset", "must be %q or %q, not %q", AssetKnown, AssetUnknown, ev.Kuzet.Asset)
	}
	if c := ev.Kuzet.Criticality; c < 0 || c > 3 {
		bad("kuzet.criticality", "%d out of range 0..3", c)
	}
	switch ev.Event.Outcome {
	case "", "success", "failure", "unknown":
	default:
		bad("event.outcome", "must be success, failure or unknown, not %q", ev.Event.Outcome)
	}
	for _, ep := range []struct {
		name string
		e    *Endpoint
	}{{"source", ev.Source}, {"destination", ev.Destination}} {
		if ep.e == nil {
			continue
		}
		if ep.e.IP != "" {
			if _, err := netip.ParseAddr(ep.e.IP); err != nil {
				bad(ep.name+".ip", "%q is not an IP address", ep.e.IP)
			}
		}
		if ep.e.Port < 0 || ep.e.Port > 65535 {
			bad(ep.name+".port", "%d out of range", ep.e.Port)
		}
	}
	if ev.Host != nil {
		for _, ip := range ev.Host.IP {
			if _, err := netip.ParseAddr(ip); err != nil {
				bad("host.ip", "%q is not an IP address", ip)
			}
		}
	}
	if ev.Observer != nil && ev.Observer.IP != "" {
		if _, err := netip.ParseAddr(ev.Observer.IP); err != nil {
			bad("observer.ip", "%q is not an IP address", ev.Observer.IP)
		}
	}
	if !utf8.ValidString(ev.Message) {
		bad("message", "invalid UTF-8")
	}
	if !utf8.ValidString(ev.Event.Original) {
		bad("event.original", "invalid UTF-8")
	}
	return errors.Join(errs...)
}
