package sigma

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Event is what rules run on. Field returns a field's value (string, int64,
// float64, json.Number, bool, nil, []any, map[string]any) and whether the
// event has it. Strings calls fn with every string value of the event, for
// keyword searches, until fn returns true.
type Event interface {
	Field(name string) (any, bool)
	Strings(fn func(string) bool) bool
}

// MapEvent is a flat event: Sigma field names as keys (evtx flattened by
// winevent, SigmaHQ's flat regression events). Keys starting with "_" are
// metadata: no rule sees them.
type MapEvent map[string]any

// Field implements Event.
func (m MapEvent) Field(name string) (any, bool) {
	if strings.HasPrefix(name, "_") {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

// Strings implements Event.
func (m MapEvent) Strings(fn func(string) bool) bool {
	for k, v := range m {
		if strings.HasPrefix(k, "_") {
			continue
		}
		if walkStrings(v, fn) {
			return true
		}
	}
	return false
}

func walkStrings(v any, fn func(string) bool) bool {
	switch x := v.(type) {
	case string:
		return fn(x)
	case []any:
		for _, e := range x {
			if walkStrings(e, fn) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if walkStrings(e, fn) {
				return true
			}
		}
	case []string:
		for _, e := range x {
			if fn(e) {
				return true
			}
		}
	}
	return false
}

// NestedEvent is a kuzet normalised event as decoded JSON: a field is
// looked up first in the source namespace (Namespace: "winlog", "zeek",
// ...) under its own name, then as a top-level key, then as a dotted path
// through nested objects ("source.ip", "kuzet.source_type").
type NestedEvent struct {
	Doc       map[string]any
	Namespace string
}

// Field implements Event.
func (e NestedEvent) Field(name string) (any, bool) {
	if e.Namespace != "" {
		if ns, ok := e.Doc[e.Namespace].(map[string]any); ok {
			if v, ok := ns[name]; ok {
				return v, true
			}
		}
	}
	if v, ok := e.Doc[name]; ok {
		return v, true
	}
	var cur any = e.Doc
	for {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			v, ok := m[name]
			return v, ok
		}
		// A key with dots (Zeek's "id.orig_h") before descending.
		if v, ok := m[name]; ok {
			return v, true
		}
		cur, ok = m[name[:i]]
		if !ok {
			return nil, false
		}
		name = name[i+1:]
	}
}

// Strings implements Event: the namespace's values, the message and the
// original record.
func (e NestedEvent) Strings(fn func(string) bool) bool {
	if e.Namespace != "" {
		if walkStrings(e.Doc[e.Namespace], fn) {
			return true
		}
	}
	if s, ok := e.Doc["message"].(string); ok && fn(s) {
		return true
	}
	if ev, ok := e.Doc["event"].(map[string]any); ok {
		if s, ok := ev["original"].(string); ok && fn(s) {
			return true
		}
	}
	return false
}

// text returns a scalar value as text and whether it is a scalar.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// appendText appends a scalar value as text (as text formats it) and
// reports whether it is a scalar.
func appendText(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return append(b, x...), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case float64:
		if x == math.Trunc(x) && x > -1e15 && x < 1e15 && (x != 0 || !math.Signbit(x)) {
			// An integer (a decoded EventID): the same digits, faster.
			return strconv.AppendInt(b, int64(x), 10), true
		}
		return strconv.AppendFloat(b, x, 'f', -1, 64), true
	case json.Number:
		return append(b, x...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case uint64:
		return strconv.AppendUint(b, x, 10), true
	}
	return b, false
}

// number returns a value as a number, if it is one or a numeric string.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		return numericString(x)
	}
	return 0, false
}

// numericString returns a numeric string's number.
func numericString(x string) (float64, bool) {
	s := strings.TrimSpace(x)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
