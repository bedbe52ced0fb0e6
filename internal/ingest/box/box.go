// Package box puts strings in interface values without copying them: the
// parsers hand their fields on as map[string]any, and boxing each string
// value the usual way (any(s)) allocates a copy of its header, one
// allocation per field. String instead makes the interface refer to a
// string the parser already holds in a slice, so the fields of a record
// cost the slice's one allocation.
package box

import "unsafe"

// eface is the layout of an empty interface: its type and a pointer to
// its value (a string is not stored in the interface word itself).
type eface struct {
	typ, data unsafe.Pointer
}

// stringType is the type word of an interface holding a string.
var stringType = func() unsafe.Pointer {
	var v any = ""
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// String returns *p as an any, equal to any(*p), that refers to *p
// itself instead of a copy: *p must not change afterwards (it stays
// alive as long as the interface does).
func String(p *string) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = stringType, unsafe.Pointer(p)
	return v
}

// Strings is a block of strings for String, for a decoder that boxes its
// strings one at a time: Box appends a string to the block and boxes it,
// so that a block of n strings costs one allocation. The zero Strings is
// ready to use.
type Strings struct {
	block []string
}

// blockSize is the number of strings a block holds.
const blockSize = 16

// Box returns s as an any, equal to any(s), held in the block.
func (b *Strings) Box(s string) any {
	if s == "" {
		return "" // no allocation
	}
	if len(b.block) == cap(b.block) {
		b.block = make([]string, 0, blockSize)
	}
	b.block = append(b.block, s)
	return String(&b.block[len(b.block)-1])
}
