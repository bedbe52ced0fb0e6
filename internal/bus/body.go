package bus

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// decodeBody parses an envelope body: the header fields with encoding/json,
// the events by finding each one's extent, without decoding it. An event's
// own JSON is checked by whoever decodes it (the ncc rejects a malformed
// event alone, not its whole envelope). Several times faster than
// encoding/json, which validates and copies every event.
func decodeBody(data []byte) (*Batch, error) {
	var b Batch
	s := scanner{data: data}
	s.ws()
	if !s.eat('{') {
		return nil, s.errorf("not a JSON object")
	}
	s.ws()
	if s.eat('}') {
		return &b, nil
	}
	for {
		s.ws()
		ks := s.i
		if err := s.skipString(); err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(data[ks:s.i], &key); err != nil {
			return nil, s.errorf("object key: %v", err)
		}
		s.ws()
		if !s.eat(':') {
			return nil, s.errorf("':' expected")
		}
		s.ws()
		vs := s.i
		// Keys match case-insensitively, as encoding/json matches them.
		for _, known := range batchKeys {
			if strings.EqualFold(key, known) {
				key = known
				break
			}
		}
		if key == "events" && s.peek() == '[' {
			evs, err := s.events()
			if err != nil {
				return nil, err
			}
			b.Events = evs
		} else {
			if err := s.skipValue(0); err != nil {
				return nil, err
			}
			var dst any
			switch key {
			case "id":
				dst = &b.ID
			case "collector":
				dst = &b.Collector
			case "oisc":
				dst = &b.OISC
			case "seq":
				dst = &b.Seq
			case "created_at":
				dst = &b.CreatedAt
			case "events":
				dst = &b.Events // null, or not an array: encoding/json decides
			}
			if dst != nil {
				if err := json.Unmarshal(data[vs:s.i], dst); err != nil {
					return nil, fmt.Errorf("field %q: %w", key, err)
				}
			}
		}
		s.ws()
		if s.eat('}') {
			break
		}
		if !s.eat(',') {
			return nil, s.errorf("',' or '}' expected")
		}
	}
	s.ws()
	if s.i != len(data) {
		return nil, s.errorf("data after the object")
	}
	return &b, nil
}

// batchKeys are the JSON keys of Batch.
var batchKeys = [...]string{"id", "collector", "oisc", "seq", "created_at", "events"}

type scanner struct {
	data []byte
	i    int
}

var errTruncated = errors.New("unexpected end of input")

func (s *scanner) errorf(format string, args ...any) error {
	if s.i >= len(s.data) {
		return fmt.Errorf("offset %d: %w", s.i, errTruncated)
	}
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// events reads an array of values, each as its exact bytes.
func (s *scanner) events() ([]json.RawMessage, error) {
	s.i++ // [
	out := []json.RawMessage{}
	s.ws()
	if s.eat(']') {
		return out, nil
	}
	for {
		s.ws()
		start := s.i
		if err := s.skipValue(0); err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(s.data[start:s.i:s.i]))
		s.ws()
		if s.eat(']') {
			return out, nil
		}
		if !s.eat(',') {
			return nil, s.errorf("',' or ']' expected")
		}
	}
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 256

// skipValue moves past one JSON value, checking its structure (brackets,
// strings, separators) but not the spelling of literals and numbers.
func (s *scanner) skipValue(depth int) error {
	if depth > maxDepth {
		return s.errorf("nested too deeply")
	}
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		s.ws()
		if s.eat(closer) {
			return nil
		}
		for {
			s.ws()
			if c == '{' {
				if err := s.skipString(); err != nil {
					return err
				}
				s.ws()
				if !s.eat(':') {
					return s.errorf("':' expected")
				}
				s.ws()
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat(closer) {
				return nil
			}
			if !s.eat(',') {
				return s.errorf("',' or %q expected", closer)
			}
		}
	case 0:
		return s.errorf("value expected")
	}
	// A literal or a number: up to the next separator.
	start := s.i
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if s.i == start {
				return s.errorf("value expected")
			}
			return nil
		case '"', '{', '[', ':':
			return s.errorf("invalid character %q", s.data[s.i])
		}
		s.i++
	}
	return nil
}

func (s *scanner) skipString() error {
	if !s.eat('"') {
		return s.errorf("string expected")
	}
	data, i := s.data, s.i
	for i < len(data) {
		// Eight bytes at a time while none is '"', '\\' or a control
		// character; events are mostly long runs of such bytes.
		for i+8 <= len(data) {
			if m := stringStop(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			i += 2
		case c < 0x20:
			s.i = i
			return s.errorf("control character in a string")
		default:
			i++
		}
	}
	s.i = len(data)
	return s.errorf("unterminated string")
}

// stringStop returns, for eight bytes in little-endian order, a mask with
// the high bit set in the first byte that is '"', '\\' or below 0x20, and
// in none before it (bits after the first may be set spuriously, by
// borrows).
func stringStop(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ ('"' * ones)
	slash := x ^ ('\\' * ones)
	return ((x-0x20*ones)&^x | (quote-ones)&^quote | (slash-ones)&^slash) & highs
}

// encodeBody writes an envelope body: what json.Marshal(b) writes, with
// each event copied as it is instead of re-validated and compacted
// (events are event.Marshal's compact output). Each event is checked to be
// exactly one JSON value, so one bad event cannot break the envelope's
// framing.
func encodeBody(b *Batch) ([]byte, error) {
	size := 160 + len(b.ID) + len(b.Collector) + len(b.OISC)
	for _, ev := range b.Events {
		size += len(ev) + 1
	}
	buf := make([]byte, 0, size)
	buf = append(buf, `{"id":`...)
	buf = appendJSON(buf, b.ID)
	buf = append(buf, `,"collector":`...)
	buf = appendJSON(buf, b.Collector)
	buf = append(buf, `,"oisc":`...)
	buf = appendJSON(buf, b.OISC)
	buf = append(buf, `,"seq":`...)
	buf = strconv.AppendUint(buf, b.Seq, 10)
	buf = append(buf, `,"created_at":`...)
	ts, err := b.CreatedAt.MarshalJSON()
	if err != nil {
		return nil, err
	}
	buf = append(buf, ts...)
	buf = append(buf, `,"events":`...)
	if b.Events == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, ev := range b.Events {
			s := scanner{data: ev}
			s.ws()
			start := s.i
			if err := s.skipValue(0); err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			end := s.i
			if s.ws(); s.i != len(ev) {
				return nil, fmt.Errorf("event %d: %w", i, s.errorf("data after the value"))
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, ev[start:end]...)
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), nil
}

func appendJSON(buf []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(buf, q...)
}
