// Package ingest holds what every input of the collector shares: the raw
// Record taken off a transport, the typed parse Error with a stable reason
// (the "reason" label of the rejected-records metrics), and size limits.
// Wire-format parsers live in subpackages (syslog, cef, leef, ...); they are
// pure: bytes in, fields or an *Error out.
package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is one raw record as an input accepted it, before parsing.
type Record struct {
	// Data is the record's bytes without transport framing. Parsers must not
	// keep a reference to it after they return.
	Data []byte
	// Input is the configured name of the input that accepted the record.
	Input string
	// Pipeline names the normalisation pipeline to run (pipelines/<name>.yaml).
	Pipeline string
	// Peer is the sender's network address ("ip:port"), empty for files.
	Peer string
	// File is the path of the file the record was read from, if any.
	File string
	// ReceivedAt is when the input accepted the record.
	ReceivedAt time.Time
}

// Reasons for rejecting a record. They are label values of the
// kuzet_*_rejected_total metrics: keep them few and stable.
const (
	ReasonInvalidUTF8 = "invalid_utf8"
	ReasonOversize    = "oversize"
	ReasonTruncated   = "truncated"
	ReasonSyntax      = "syntax"
	ReasonEmpty       = "empty"
	ReasonBadField    = "bad_field"
	ReasonDropped     = "dropped" // a pipeline's drop condition matched: not an error, but counted
	ReasonPipeline    = "pipeline"
	ReasonPanic       = "parser_panic" // a parser bug met this record: recovered, the record quarantined
	ReasonInvalid     = "invalid_event"
	ReasonOverload    = "overload"
)

// Error is a rejected record: a stable Reason and a human-readable detail.
type Error struct {
	Reason string
	// Offset is the byte offset in the record where parsing failed, or -1.
	Offset int
	Err    error
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s at byte %d: %v", e.Reason, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the reason, no offset and a formatted detail.
func Errorf(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Offset: -1, Err: fmt.Errorf(format, args...)}
}

// Detail is a fixed error text, for the Err of an *Error whose detail needs
// no formatting.
type Detail string

func (d Detail) Error() string { return string(d) }

// IndexAtWord returns the position of marker in s where it starts s or
// follows a space (a CEF: or LEEF: record inside a syslog message), or -1.
func IndexAtWord(s, marker string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], marker)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || s[i-1] == ' ' {
			return i
		}
		off = i + len(marker)
	}
}

// CutField reads s from p up to the next unescaped sep (a pipe-separated
// CEF or LEEF header field). A backslash escapes sep and the bytes in
// escapable: the byte is kept, the backslash dropped; any other backslash
// is kept. It returns the field and the position after sep, or ok false
// when no unescaped sep follows.
func CutField(s string, p int, sep byte, escapable string) (field string, next int, ok bool) {
	var b []byte
	start, escaped := p, false
	for i := p; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 < len(s) && (s[i+1] == sep || strings.IndexByte(escapable, s[i+1]) >= 0) {
				b = append(append(b, s[start:i]...), s[i+1])
				i++
				start, escaped = i+1, true
			}
		case c == sep:
			v := s[start:i]
			if escaped {
				v = string(append(b, v...))
			}
			return v, i + 1, true
		}
	}
	return "", 0, false
}

// ReasonOf returns the reason of err if it is (or wraps) an *Error, and
// ReasonSyntax otherwise.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonSyntax
}

// DefaultMaxRecord is the default largest record an input accepts (64 KiB,
// the usual syslog relay limit); inputs make it configurable.
const DefaultMaxRecord = 64 << 10
