package sigma

import (
	"slices"
	"sort"
)

// Route dispatch: an event is on few of the engine's routes (Windows
// events on one or two of some eighty), and most routes test the same
// field (Channel). Rather than testing every route's conditions, the
// engine reads each such key field once, looks its lower-cased value up
// and tests only the routes that expect that value (and the routes without
// a key field). A route whose key condition fails cannot match, so the
// routes skipped are exactly routes that would not match.

// routeKey indexes the routes whose key condition is on one field.
type routeKey struct {
	field string
	id    int32
	// byValue maps a condition value (lower-cased, as in routeCond) to the
	// indexes, ascending, of the routes expecting it.
	byValue map[string][]int32
}

type routeDispatch struct {
	keys []routeKey
	// rest are the routes with rules but no key field, ascending.
	rest []int32
}

// buildDispatch picks for each route with rules the condition field that
// most such routes share as its key.
func buildDispatch(routes []*Route, rules [][]*CompiledRule, fields *fieldTable) routeDispatch {
	count := map[string]int{}
	for i, rt := range routes {
		if len(rules[i]) == 0 {
			continue
		}
		for _, c := range rt.conds {
			count[c.field]++
		}
	}
	var d routeDispatch
	byField := map[string]int{}
	for i, rt := range routes {
		if len(rules[i]) == 0 {
			continue
		}
		var key *routeCond
		for j := range rt.conds {
			c := &rt.conds[j]
			if key == nil || count[c.field] > count[key.field] || count[c.field] == count[key.field] && c.field < key.field {
				key = c
			}
		}
		if key == nil || count[key.field] < 2 {
			d.rest = append(d.rest, int32(i))
			continue
		}
		k, ok := byField[key.field]
		if !ok {
			k = len(d.keys)
			byField[key.field] = k
			d.keys = append(d.keys, routeKey{field: key.field, id: fields.id(key.field), byValue: map[string][]int32{}})
		}
		for _, v := range key.values {
			l := d.keys[k].byValue[v]
			if !slices.Contains(l, int32(i)) {
				d.keys[k].byValue[v] = append(l, int32(i))
			}
		}
	}
	sort.Slice(d.keys, func(i, j int) bool { return d.keys[i].field < d.keys[j].field })
	return d
}

// routes appends to out the indexes, ascending and each once, of the
// routes the event may be on; the caller still tests their conditions.
func (d *routeDispatch) routes(c *evalCtx, out []int32) []int32 {
	out = append(out, d.rest...)
	for i := range d.keys {
		k := &d.keys[i]
		v, ok := c.value(k.id)
		if !ok {
			continue
		}
		switch v.(type) {
		case []any, []string:
			out = k.lookup(c, v, out)
			continue
		}
		if fv := c.prepared(k.id); fv.ok {
			out = append(out, k.byValue[fv.ls]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// lookup appends the routes expecting v or, for a list, one of its items
// (as routeCond.holds compares).
func (k *routeKey) lookup(c *evalCtx, v any, out []int32) []int32 {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = k.lookup(c, e, out)
		}
		return out
	case []string:
		for _, e := range x {
			out = k.lookup(c, e, out)
		}
		return out
	}
	s, ok := c.text(v)
	if !ok {
		return out
	}
	return append(out, k.byValue[c.lower(s)]...)
}
