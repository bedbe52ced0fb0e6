package sigma

// Field ids: the compiler gives every field name it reads (rule fields,
// the targets of route field maps, route conditions) an integer id, and
// each route a table from a rule's field id to the event field id it reads
// there. An event's field is then fetched from the event and prepared
// (formatted and lower-cased) at most once per event, whatever the number
// of rules, routes and prefilter scans that read it.

// fieldTable interns field names.
type fieldTable struct {
	ids   map[string]int32
	names []string
}

func newFieldTable() *fieldTable { return &fieldTable{ids: map[string]int32{}} }

// id returns the name's id, giving it the next one when new.
func (t *fieldTable) id(name string) int32 {
	if id, ok := t.ids[name]; ok {
		return id
	}
	id := int32(len(t.names))
	t.ids[name] = id
	t.names = append(t.names, name)
	return id
}

// mapTable returns the table from field id to the id a field map renames
// it to (nil when the map renames nothing). Every name must be interned.
func (t *fieldTable) mapTable(fmap map[string]string) []int32 {
	if len(fmap) == 0 {
		return nil
	}
	tbl := make([]int32, len(t.names))
	for i := range tbl {
		tbl[i] = int32(i)
	}
	for from, to := range fmap {
		tbl[t.ids[from]] = t.ids[to]
	}
	return tbl
}

// fieldSlot is one field of the event being evaluated: fetched when gen is
// the context's, prepared when pgen is.
type fieldSlot struct {
	gen, pgen uint32
	ok        bool
	v         any
	fv        fieldValue
}

// startEvent makes every slot stale, for a new event.
func (c *evalCtx) startEvent(names []string) {
	if len(c.fields) != len(names) {
		c.fields = make([]fieldSlot, len(names))
	}
	c.names = names
	c.gen++
	if c.gen == 0 { // wrapped: stamps of 4 billion events ago would match
		clear(c.fields)
		c.gen = 1
	}
}

// endEvent drops the slots' references to the event.
func (c *evalCtx) endEvent() {
	for _, id := range c.touched {
		s := &c.fields[id]
		s.v, s.fv = nil, fieldValue{}
	}
	c.touched = c.touched[:0]
}

// mapID is the event field a rule's field id reads on the current route.
func (c *evalCtx) mapID(id int32) int32 {
	if c.fmap != nil {
		return c.fmap[id]
	}
	return id
}

// value returns event field id's value and whether the event has it.
func (c *evalCtx) value(id int32) (any, bool) {
	s := &c.fields[id]
	if s.gen != c.gen {
		s.gen = c.gen
		s.v, s.ok = c.ev.Field(c.names[id])
		c.touched = append(c.touched, id)
	}
	return s.v, s.ok
}

// prepared returns event field id's value prepared for matchers; value
// must have been called for it in this event. The result stays valid
// (and in place) until the event ends.
func (c *evalCtx) prepared(id int32) *fieldValue {
	s := &c.fields[id]
	if s.pgen != c.gen {
		s.pgen = c.gen
		s.fv = c.prepare(s.v)
	}
	return &s.fv
}
