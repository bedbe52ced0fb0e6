package sigma

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"
)

// lower lower-cases s, without allocating when it has no upper-case ASCII
// and is ASCII.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// lower is lower for the strings of the event being evaluated: an ASCII
// string with upper-case letters is lowered into the context's buffer, not
// onto the heap. The result is valid until the context is released (the
// buffer is reused for the next event), so it must not outlive the
// evaluation.
func (c *evalCtx) lower(s string) string {
	l, _ := c.lowerASCII(s)
	return l
}

// lowerASCII is lower that also reports whether s is ASCII. It reads
// eight bytes at a time (see upperMask).
func (c *evalCtx) lowerASCII(s string) (string, bool) {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if w := load64(s, i); w&highBits != 0 || upperMask(w) != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if b := s[i]; b >= 0x80 || b >= 'A' && b <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s, true
	}
	if cap(c.buf)-len(c.buf) < len(s) {
		// A new chunk: strings in the old one stay valid (they keep it
		// alive); the next event reuses the new one.
		c.buf = make([]byte, 0, max(4096, 2*cap(c.buf), len(s)))
	}
	start := len(c.buf)
	dst := c.buf[start : start+len(s)]
	copy(dst, s[:i])
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		if w&highBits != 0 {
			return strings.ToLower(s), false
		}
		binary.LittleEndian.PutUint64(dst[i:], w|upperMask(w)>>2)
	}
	for ; i < len(s); i++ {
		b := s[i]
		if b >= 0x80 {
			return strings.ToLower(s), false
		}
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst[i] = b
	}
	c.buf = c.buf[:start+len(s)]
	return unsafe.String(&c.buf[start], len(s)), true
}

const highBits = 0x8080808080808080

// load64 reads s[i:i+8] as a little-endian word (one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// upperMask has the high bit set in each byte of w that is an ASCII
// upper-case letter. Per byte, with the high bit cleared first so no sum
// carries into the next byte: adding 0x3f sets the high bit from 'A' on,
// adding 0x25 from 'Z'+1 on; bytes with the high bit set in w are not
// ASCII and masked out. Shifted right by 2 it is the 0x20 to add.
func upperMask(w uint64) uint64 {
	h := w &^ highBits
	return (h + 0x3f3f3f3f3f3f3f3f) &^ (h + 0x2525252525252525) & highBits &^ w
}

// text is text for the values of the event being evaluated: numbers are
// formatted into the context's buffer (valid as lower's results are).
func (c *evalCtx) text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	if cap(c.buf)-len(c.buf) < 32 {
		c.buf = make([]byte, 0, max(4096, 2*cap(c.buf)))
	}
	start := len(c.buf)
	var ok bool
	c.buf, ok = appendText(c.buf, v)
	if !ok || len(c.buf) == start {
		return "", ok
	}
	return unsafe.String(&c.buf[start], len(c.buf)-start), true
}
