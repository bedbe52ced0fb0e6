// Package jsonl decodes JSON objects into map[string]any several times
// faster than encoding/json does (no reflection, each map made at its final size):
// the decoder under the NDJSON, Suricata, Zeek, Wazuh and Windows
// pipelines. Numbers become int64 when they are integers that fit, else
// float64; strings must be valid UTF-8 (RFC 8259), escapes included;
// duplicate keys keep the last value, as encoding/json does.
//
// Decode is pure and keeps no reference to its input; the results of
// DecodeShared and DecodeValidString share their input's memory.
package jsonl

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/box"
)

// Number converts a number encoding/json decoded with UseNumber as Decode
// converts numbers: an int64 when it is an integer that fits, else a
// float64, else (out of range) its text.
func Number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return n.String()
}

// MaxDepth bounds nesting, so hostile input cannot exhaust the stack.
const MaxDepth = 128

type decoder struct {
	s string
	// b is s as bytes (the same memory, only read), for loads of eight
	// bytes at a time.
	b []byte
	i int
	// valid says s is known to be valid UTF-8: strings need no check.
	valid bool
	// text holds the strings with escapes, unescaped (strSlow).
	text []byte
	// kvs holds the pairs of the objects being decoded, innermost last,
	// so that each map is made at its final size (no growing).
	kvs []kv
	// strs boxes the string values, a block of them per allocation.
	strs box.Strings
}

type kv struct {
	k string
	v any
}

func (d *decoder) fail(reason, msg string) error {
	return &ingest.Error{Reason: reason, Offset: d.i, Err: ingest.Detail(msg)}
}

// Decode decodes one JSON object (surrounding whitespace allowed, nothing
// else after it). It copies data once: the strings in the result share
// that copy.
func Decode(data []byte) (map[string]any, error) {
	return decodeString(string(data), false)
}

// DecodeShared is Decode without the copy: the strings in the result share
// data's memory, so data must never change afterwards (a message body the
// caller owns and only reads). It checks UTF-8 as Decode does.
func DecodeShared(data []byte) (map[string]any, error) {
	return decodeString(unsafe.String(unsafe.SliceData(data), len(data)), false)
}

// DecodeValidString is Decode for a string the caller has checked
// is valid UTF-8 (utf8.ValidString): the strings in it are not checked
// again. The result is the same as Decode's.
func DecodeValidString(s string) (map[string]any, error) {
	return decodeString(s, true)
}

// kvPool keeps decoders' pair stacks (decoder.kvs) between documents.
var kvPool = sync.Pool{New: func() any { s := make([]kv, 0, 32); return &s }}

// maxPooledPairs bounds the pair stack kept for the next document.
const maxPooledPairs = 1024

func decodeString(s string, valid bool) (map[string]any, error) {
	kvs := kvPool.Get().(*[]kv)
	d := decoder{s: s, b: unsafe.Slice(unsafe.StringData(s), len(s)), valid: valid, kvs: *kvs}
	v, err := d.document()
	if err != nil {
		// object clears the pairs it moves into a map, but not the
		// ones of an object it gave up on.
		clear(d.kvs[:cap(d.kvs)])
	}
	if cap(d.kvs) <= maxPooledPairs {
		*kvs = d.kvs[:0]
		kvPool.Put(kvs)
	}
	return v, err
}

// document decodes the one object of s.
func (d *decoder) document() (map[string]any, error) {
	d.ws()
	if d.i >= len(d.s) {
		return nil, d.fail(ingest.ReasonEmpty, "empty input")
	}
	if d.s[d.i] != '{' {
		return nil, d.fail(ingest.ReasonSyntax, "not a JSON object")
	}
	v, err := d.object(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.s) {
		return nil, d.fail(ingest.ReasonSyntax, "data after the JSON object")
	}
	return v, nil
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, d.fail(ingest.ReasonSyntax, "nested too deeply")
	}
	d.ws()
	if d.i >= len(d.s) {
		return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input")
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return d.strs.Box(s), nil
	case c == 't':
		return d.lit("true", true)
	case c == 'f':
		return d.lit("false", false)
	case c == 'n':
		return d.lit("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.fail(ingest.ReasonSyntax, "invalid character "+strconv.QuoteRune(rune(d.s[d.i])))
}

func (d *decoder) lit(word string, v any) (any, error) {
	if len(d.s)-d.i < len(word) {
		return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input")
	}
	if d.s[d.i:d.i+len(word)] != word {
		return nil, d.fail(ingest.ReasonSyntax, "invalid literal")
	}
	d.i += len(word)
	return v, nil
}

func (d *decoder) object(depth int) (map[string]any, error) {
	d.i++ // {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return map[string]any{}, nil
	}
	base := len(d.kvs)
	for {
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input in an object")
		}
		if d.s[d.i] != '"' {
			return nil, d.fail(ingest.ReasonSyntax, "object key is not a string")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input after a key")
		}
		if d.s[d.i] != ':' {
			return nil, d.fail(ingest.ReasonSyntax, "':' expected after an object key")
		}
		d.i++
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.kvs = append(d.kvs, kv{k, v})
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input in an object")
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			pairs := d.kvs[base:]
			m := make(map[string]any, len(pairs))
			for i := range pairs {
				m[pairs[i].k] = pairs[i].v
				pairs[i] = kv{}
			}
			d.kvs = d.kvs[:base]
			return m, nil
		default:
			return nil, d.fail(ingest.ReasonSyntax, "',' or '}' expected in an object")
		}
	}
}

func (d *decoder) array(depth int) ([]any, error) {
	d.i++ // [
	out := make([]any, 0, 4)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return out, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		d.ws()
		if d.i >= len(d.s) {
			return nil, d.fail(ingest.ReasonTruncated, "unexpected end of input in an array")
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return out, nil
		default:
			return nil, d.fail(ingest.ReasonSyntax, "',' or ']' expected in an array")
		}
	}
}

func (d *decoder) str() (string, error) {
	d.i++ // "
	start := d.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for d.i < len(d.s) {
		// Eight bytes at a time while none is '"', '\\' or a control
		// character.
		for d.i+8 <= len(d.b) {
			if m := stringStop(binary.LittleEndian.Uint64(d.b[d.i:])); m != 0 {
				d.i += bits.TrailingZeros64(m) / 8
				break
			}
			d.i += 8
		}
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		if plain[c] {
			d.i++
			continue
		}
		switch {
		case c == '"':
			s := d.s[start:d.i]
			d.i++
			if !d.valid && !utf8.ValidString(s) {
				d.i = start
				return "", d.fail(ingest.ReasonInvalidUTF8, "string is not valid UTF-8")
			}
			return s, nil
		case c == '\\':
			return d.strSlow(start)
		case c < 0x20:
			return "", d.fail(ingest.ReasonSyntax, "control character in a string")
		}
		d.i++
	}
	return "", d.fail(ingest.ReasonTruncated, "unterminated string")
}

// stringStop returns, for eight bytes in little-endian order, a mask with
// the high bit set in the first byte that is '"', '\\' or below 0x20 and
// in none before it (bits after the first may be set spuriously, by
// borrows): the bytes plain does not mark.
func stringStop(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ ('"' * ones)
	slash := x ^ ('\\' * ones)
	return ((x-0x20*ones)&^x | (quote-ones)&^quote | (slash-ones)&^slash) & highs
}

// plain marks the bytes a string's fast path steps over: all but the
// quote, the backslash and control characters.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

func (d *decoder) strSlow(start int) (string, error) {
	// The string is unescaped onto the end of d.text, whose bytes are
	// never written again once a string holds them: the strings of a
	// document share its allocations. Unescaped text is never longer
	// than the JSON that has it, so the rest of the document bounds it.
	if d.text == nil {
		d.text = make([]byte, 0, min(len(d.s)-start, maxText))
	}
	b := d.text
	from := len(b)
	b = append(b, d.s[start:d.i]...)
	for d.i < len(d.s) {
		// A run of plain bytes, eight at a time.
		run := d.i
		for d.i+8 <= len(d.b) {
			if m := stringStop(binary.LittleEndian.Uint64(d.b[d.i:])); m != 0 {
				d.i += bits.TrailingZeros64(m) / 8
				break
			}
			d.i += 8
		}
		for d.i < len(d.s) && plain[d.s[d.i]] {
			d.i++
		}
		b = append(b, d.s[run:d.i]...)
		if d.i >= len(d.s) {
			break
		}
		switch c := d.s[d.i]; {
		case c == '"':
			d.i++
			out := b[from:]
			if !d.valid && !utf8.Valid(out) {
				return "", d.fail(ingest.ReasonInvalidUTF8, "string is not valid UTF-8")
			}
			d.text = b
			if len(out) == 0 {
				return "", nil
			}
			return unsafe.String(&out[0], len(out)), nil
		case c < 0x20:
			return "", d.fail(ingest.ReasonSyntax, "control character in a string")
		}
		// A backslash (plain marks every other byte).
		var reason, msg string
		if b, d.i, reason, msg = AppendEscape(b, d.s, d.i); reason != "" {
			return "", d.fail(reason, msg)
		}
	}
	return "", d.fail(ingest.ReasonTruncated, "unterminated string")
}

// maxText bounds the first allocation of a document's unescaped strings.
const maxText = 4096

// AppendEscape appends what the escape at s[i] (a backslash) of a JSON
// string stands for, as encoding/json reads it (a broken surrogate pair
// is U+FFFD, and its second escape then stands on its own), and returns
// the index after it; or, for a malformed escape, an ingest reason and a
// message, with i unchanged.
func AppendEscape[T string | []byte](b []byte, s T, i int) (out []byte, next int, reason, msg string) {
	if i+1 >= len(s) {
		return b, i, ingest.ReasonTruncated, "unterminated escape"
	}
	switch e := s[i+1]; e {
	case '"', '\\', '/':
		return append(b, e), i + 2, "", ""
	case 'b':
		return append(b, '\b'), i + 2, "", ""
	case 'f':
		return append(b, '\f'), i + 2, "", ""
	case 'n':
		return append(b, '\n'), i + 2, "", ""
	case 'r':
		return append(b, '\r'), i + 2, "", ""
	case 't':
		return append(b, '\t'), i + 2, "", ""
	case 'u':
		r, ok := hex4(s, i+2)
		if !ok {
			return b, i, ingest.ReasonSyntax, "invalid \\u escape"
		}
		next = i + 6
		if utf16.IsSurrogate(r) {
			r2 := rune(-1)
			if next+1 < len(s) && s[next] == '\\' && s[next+1] == 'u' {
				if r2, ok = hex4(s, next+2); !ok {
					r2 = -1
				}
			}
			if r = utf16.DecodeRune(r, r2); r != utf8.RuneError {
				next += 6
			}
		}
		return utf8.AppendRune(b, r), next, "", ""
	default:
		return b, i, ingest.ReasonSyntax, "invalid escape \\" + string(e)
	}
}

func hex4[T string | []byte](s T, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for j := i; j < i+4; j++ {
		c := s[j]
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (d *decoder) number() (any, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if digits() == 0 {
		return nil, d.fail(ingest.ReasonSyntax, "invalid number")
	}
	if d.s[intStart] == '0' && d.i-intStart > 1 {
		return nil, d.fail(ingest.ReasonSyntax, "number with a leading zero")
	}
	isInt := true
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		isInt = false
		if digits() == 0 {
			return nil, d.fail(ingest.ReasonSyntax, "invalid number")
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		isInt = false
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.fail(ingest.ReasonSyntax, "invalid number")
		}
	}
	text := d.s[start:d.i]
	if isInt {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, d.fail(ingest.ReasonSyntax, "number out of range")
	}
	return f, nil
}

// Decoder reads one JSON object a piece at a time, for a caller that takes
// what it needs from a document of a known shape without making a map of
// every object in it:
//
//	if err := d.Open(); err != nil { ... }
//	for {
//		k, ok, err := d.Key()
//		if err != nil || !ok { ... }
//		// read k's value: Value, or Open and Key to its end
//	}
//
// It checks the whole document as Decode does; its errors are Decode's
// kinds of errors, not always at the same offset.
type Decoder struct {
	d     decoder
	depth int
	// first says the object just opened has had no key yet.
	first bool
}

// NewValidDecoder returns a Decoder of s, which the caller has checked is
// valid UTF-8 (see DecodeValidString).
func NewValidDecoder(s string) *Decoder {
	return &Decoder{d: decoder{s: s, b: unsafe.Slice(unsafe.StringData(s), len(s)), valid: true}}
}

// Peek returns the next byte after white space, or 0 at the end.
func (d *Decoder) Peek() byte {
	d.d.ws()
	if d.d.i >= len(d.d.s) {
		return 0
	}
	return d.d.s[d.d.i]
}

// Value decodes the next value as Decode would.
func (d *Decoder) Value() (any, error) { return d.d.value(d.depth) }

// Open starts reading the object that comes next.
func (d *Decoder) Open() error { return d.open('{', "not a JSON object") }

func (d *Decoder) open(c byte, what string) error {
	if d.Peek() != c {
		return d.d.fail(ingest.ReasonSyntax, what)
	}
	if d.depth++; d.depth > MaxDepth {
		return d.d.fail(ingest.ReasonSyntax, "nested too deeply")
	}
	d.d.i++
	d.first = true
	return nil
}

// Key returns the next key of the innermost open object, its value next,
// or ok false at the object's end (which closes it).
func (d *Decoder) Key() (key string, ok bool, err error) {
	const truncated = "unexpected end of input in an object"
	if more, err := d.next('}', truncated, "',' or '}' expected in an object"); !more || err != nil {
		return "", false, err
	}
	dd := &d.d
	dd.ws()
	if dd.i >= len(dd.s) {
		return "", false, dd.fail(ingest.ReasonTruncated, truncated)
	}
	if dd.s[dd.i] != '"' {
		return "", false, dd.fail(ingest.ReasonSyntax, "object key is not a string")
	}
	if key, err = dd.str(); err != nil {
		return "", false, err
	}
	dd.ws()
	if dd.i >= len(dd.s) {
		return "", false, dd.fail(ingest.ReasonTruncated, "unexpected end of input after a key")
	}
	if dd.s[dd.i] != ':' {
		return "", false, dd.fail(ingest.ReasonSyntax, "':' expected after an object key")
	}
	dd.i++
	return key, true, nil
}

// Str decodes the next value, which must be a string (any other value is
// an error, and is not read).
func (d *Decoder) Str() (string, error) {
	if d.Peek() != '"' {
		return "", d.d.fail(ingest.ReasonSyntax, "string expected")
	}
	return d.d.str()
}

// OpenArray starts reading the array that comes next; Elem moves to each
// of its elements.
func (d *Decoder) OpenArray() error { return d.open('[', "not a JSON array") }

// Elem reports whether the innermost open array has another element, its
// value next, or ok false at the array's end (which closes it).
func (d *Decoder) Elem() (ok bool, err error) {
	return d.next(']', "unexpected end of input in an array", "',' or ']' expected in an array")
}

// next moves past the ',' before the innermost open object's or array's
// next member (more true), or past its end, close, which closes it.
func (d *Decoder) next(close byte, truncated, expected string) (more bool, err error) {
	dd := &d.d
	dd.ws()
	if dd.i >= len(dd.s) {
		return false, dd.fail(ingest.ReasonTruncated, truncated)
	}
	switch c := dd.s[dd.i]; {
	case c == close:
		dd.i++
		d.first = false
		d.depth--
		return false, nil
	case d.first:
	case c == ',':
		dd.i++
	default:
		return false, dd.fail(ingest.ReasonSyntax, expected)
	}
	d.first = false
	return true, nil
}

// Offset is the position in the input of the next byte to read: with
// Peek before a value and Offset after it, the caller has its text.
func (d *Decoder) Offset() int { return d.d.i }

// End reports an error unless only white space is left.
func (d *Decoder) End() error {
	if d.d.ws(); d.d.i != len(d.d.s) {
		return d.d.fail(ingest.ReasonSyntax, "data after the JSON object")
	}
	return nil
}
