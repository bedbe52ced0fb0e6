package event

import (
	"encoding/json"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// FromDoc builds an event from its JSON form already decoded into maps
// (as internal/ingest/jsonl decodes: integers as int64, other numbers as
// float64), without decoding the JSON again. The namespace maps of the
// result are doc's own (not copied); their numbers stay as doc has them.
//
// It handles the JSON form Marshal writes. Whenever it returns true, the
// typed fields are what Unmarshal would set; it returns false for anything
// it does not map exactly as encoding/json does (unknown or differently
// cased keys, nulls and type mismatches in typed fields, empty objects that
// encoding/json would turn into empty structs), and the caller then uses
// Unmarshal. Like encoding/json, it keeps the last of duplicate keys as
// the decoder reported them; encoding/json would merge duplicate objects.
func FromDoc(doc map[string]any) (*Event, bool) {
	ev := &Event{}
	for k, v := range doc {
		switch k {
		case "winlog", "zeek", "suricata", "cef", "leef", "auditd", "wazuh", "fields":
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			ev.SetNamespace(k, m)
		case "kuzet":
			m, ok := v.(map[string]any)
			if !ok || !ev.kuzetFromDoc(m) {
				return nil, false
			}
		case "labels":
			m, ok := v.(map[string]any)
			if !ok || len(m) == 0 {
				return nil, false
			}
			ev.Labels = make(map[string]string, len(m))
			for lk, lv := range m {
				s, ok := lv.(string)
				if !ok {
					return nil, false
				}
				ev.Labels[lk] = s
			}
		default:
			var path [96]byte
			if !ev.typedFromDoc(append(path[:0], k...), v) {
				return nil, false
			}
		}
	}
	return ev, true
}

// typedFromDoc sets the typed field at path (dotted, in a scratch buffer
// its calls extend) from v.
func (ev *Event) typedFromDoc(path []byte, v any) bool {
	if m, ok := v.(map[string]any); ok {
		if string(path) == "log.syslog.structured_data" {
			return ev.sdFromDoc(m)
		}
		if _, leaf := fields[string(path)]; leaf {
			return false
		}
		if len(m) == 0 {
			switch string(path) {
			case "event": // a struct value: nothing to set
				return true
			case "dns.question": // a struct value inside the dns pointer
				mkOr(&ev.DNS, true)
				return true
			}
			return false
		}
		for k, sv := range m {
			if !ev.typedFromDoc(append(append(path, '.'), k...), sv) {
				return false
			}
		}
		return true
	}
	f, ok := fields[string(path)]
	if !ok || v == nil {
		return false
	}
	switch p := f.ptr(ev, true).(type) {
	case *string:
		s, ok := v.(string)
		*p = s
		return ok
	case *int:
		n, ok := v.(int64)
		*p = int(n)
		return ok
	case *int64:
		n, ok := v.(int64)
		*p = n
		return ok
	case *[]string:
		l, ok := v.([]any)
		if !ok {
			return false
		}
		out := make([]string, len(l))
		for i, e := range l {
			if out[i], ok = e.(string); !ok {
				return false
			}
		}
		*p = out
		return true
	case *time.Time:
		s, ok := v.(string)
		return ok && p.UnmarshalText([]byte(s)) == nil
	case **bool:
		b, ok := v.(bool)
		*p = &b
		return ok
	}
	return false
}

func (ev *Event) sdFromDoc(m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	sd := make(map[string]map[string]string, len(m))
	for id, params := range m {
		pm, ok := params.(map[string]any)
		if !ok {
			return false
		}
		out := make(map[string]string, len(pm))
		for k, v := range pm {
			if out[k], ok = v.(string); !ok {
				return false
			}
		}
		sd[id] = out
	}
	syslogOf(ev, true).StructuredData = sd
	return true
}

func (ev *Event) kuzetFromDoc(m map[string]any) bool {
	k := &ev.Kuzet
	for key, v := range m {
		var s *string
		switch key {
		case "event_id":
			s = &k.EventID
		case "collector":
			s = &k.Collector
		case "oisc":
			s = &k.OISC
		case "input":
			s = &k.Input
		case "source_type":
			s = &k.SourceType
		case "org":
			s = &k.Org
		case "object":
			s = &k.Object
		case "sector":
			s = &k.Sector
		case "asset":
			s = &k.Asset
		case "time_source":
			s = &k.TimeSource
		case "time_zone":
			s = &k.TimeZone
		case "original_b64":
			s = &k.OriginalB64
		case "received_at":
			t, ok := v.(string)
			if !ok || k.ReceivedAt.UnmarshalText([]byte(t)) != nil {
				return false
			}
			continue
		case "criticality":
			n, ok := v.(int64)
			if !ok {
				return false
			}
			k.Criticality = int(n)
			continue
		case "object_tags":
			l, ok := v.([]any)
			if !ok {
				return false
			}
			k.ObjectTags = make([]string, len(l))
			for i, e := range l {
				if k.ObjectTags[i], ok = e.(string); !ok {
					return false
				}
			}
			continue
		case "egov":
			b, ok := v.(bool)
			if !ok {
				return false
			}
			k.EGov = b
			continue
		default:
			return false
		}
		str, ok := v.(string)
		if !ok {
			return false
		}
		*s = str
	}
	return true
}

// Decode decodes one event's JSON once, into maps (what the Sigma engine
// reads), and builds the typed event from them; encoding/json decodes only
// what FromDoc leaves to it. doc is nil when the maps could not be made
// (the typed event may still decode). The strings of doc and ev share
// raw's memory: raw must never change afterwards.
func Decode(raw []byte) (ev *Event, doc map[string]any, err error) {
	doc, err = jsonl.DecodeShared(raw)
	if err == nil {
		if ev, ok := FromDoc(doc); ok {
			return ev, doc, nil
		}
	}
	ev = &Event{}
	if err := json.Unmarshal(raw, ev); err != nil {
		return nil, nil, err
	}
	return ev, doc, nil
}
