package pipeline

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/kuzet-kz/kuzet/internal/event"
)

// explainer remembers, for each field of the event, the last parser or step
// that changed it.
type explainer struct {
	last map[string]string // field -> value (JSON) at the last note
	by   map[string]string // field -> who set its current value
}

// note compares the event with the last note and credits by with every
// field that appeared or changed.
func (x *explainer) note(ev *event.Event, by string) {
	cur := flatDoc(ev)
	for k, v := range cur {
		if old, ok := x.last[k]; !ok || old != v {
			x.by[k] = by
		}
	}
	for k := range x.by {
		if _, ok := cur[k]; !ok {
			delete(x.by, k)
		}
	}
	x.last = cur
}

// origins lists every field of the event with its value and origin, sorted
// by field.
func (x *explainer) origins(ev *event.Event) []Origin {
	cur := flatDoc(ev)
	out := make([]Origin, 0, len(cur))
	for k, v := range cur {
		out = append(out, Origin{Field: k, Value: v, By: x.by[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// flatDoc returns the event's JSON form as dotted paths and JSON values;
// namespace keys stay whole ("zeek.id.orig_h").
func flatDoc(ev *event.Event) map[string]string {
	// Times compare as instants: a parser's local time and its UTC form
	// are one value.
	c := *ev
	c.Timestamp = c.Timestamp.UTC()
	data, err := event.Marshal(&c)
	if err != nil {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil
	}
	out := map[string]string{}
	var walk func(prefix string, m map[string]any, ns bool)
	walk = func(prefix string, m map[string]any, ns bool) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && !ns {
				isNS := prefix == "" && isNamespace(k)
				walk(prefix+k+".", sub, isNS)
				continue
			}
			out[prefix+k] = JSONText(v)
		}
	}
	walk("", doc, false)
	return out
}

// JSONText is v as JSON without HTML escapes ("<132>" stays as it is).
func JSONText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func isNamespace(k string) bool {
	for _, n := range event.Namespaces {
		if n == k {
			return true
		}
	}
	return false
}
