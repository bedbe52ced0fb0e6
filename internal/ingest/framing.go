package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Framing modes of stream transports (syslog over TCP and TLS, RFC 6587).
const (
	// FramingAuto decides per frame: a frame that starts with a digit
	// followed by more digits and a space is octet-counted ("LEN SP MSG");
	// anything else ends at LF (or NUL).
	FramingAuto = "auto"
	// FramingLF ends every frame at LF (non-transparent framing); a trailing
	// CR is removed. NUL ends a frame too, as some senders use it.
	FramingLF = "lf"
	// FramingOctet reads only octet-counted frames.
	FramingOctet = "octet"
)

// FrameReader splits a byte stream into records. It is not safe for
// concurrent use.
type FrameReader struct {
	r    *bufio.Reader
	mode string
	max  int
	buf  []byte
}

// NewFrameReader returns a reader of frames of at most max bytes.
func NewFrameReader(r io.Reader, mode string, max int) *FrameReader {
	if mode == "" {
		mode = FramingAuto
	}
	if max <= 0 {
		max = DefaultMaxRecord
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), mode: mode, max: max}
}

// Next returns the next frame. The slice is valid until the next call.
//
// A frame over the size limit returns an *Error with ReasonOversize (and,
// for a line, its first bytes); the reader has skipped it and the next call
// continues with the following frame. An octet-counted frame with a bad length returns ReasonSyntax and a
// stream that ends inside a frame ReasonTruncated: the stream cannot be
// resynchronised reliably after those, so callers close the connection
// (Fatal reports which errors are so). io.EOF ends the stream.
func (f *FrameReader) Next() ([]byte, error) {
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == '\n' || c == '\r' || c == 0 || c == ' ' || c == '\t' {
			continue // empty frames and padding between records
		}
		_ = f.r.UnreadByte()
		if f.mode == FramingOctet || (f.mode == FramingAuto && f.looksOctet()) {
			return f.octet()
		}
		return f.line()
	}
}

// Fatal reports whether err from Next leaves the stream unusable.
func Fatal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return err != nil
	}
	return e.Reason != ReasonOversize
}

// looksOctet peeks at the buffered bytes: 1 to 9 digits then a space.
func (f *FrameReader) looksOctet() bool {
	for i := 1; i <= 10; i++ {
		p, err := f.r.Peek(i)
		if len(p) < i {
			return err == nil
		}
		c := p[i-1]
		if c == ' ' {
			return i > 1
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return false
}

func (f *FrameReader) octet() ([]byte, error) {
	n, digits := 0, 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &Error{Reason: ReasonTruncated, Offset: digits, Err: errors.New("stream ended in a frame length")}
			}
			return nil, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || digits >= 9 {
			return nil, &Error{Reason: ReasonSyntax, Offset: digits, Err: fmt.Errorf("bad octet count character %q", c)}
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if n == 0 {
		return nil, &Error{Reason: ReasonSyntax, Offset: digits, Err: errors.New("zero-length octet-counted frame")}
	}
	if n > f.max {
		if d, err := f.r.Discard(n); err != nil {
			return nil, &Error{Reason: ReasonTruncated, Offset: digits + d, Err: fmt.Errorf("stream ended in an oversize frame of %d bytes", n)}
		}
		return nil, &Error{Reason: ReasonOversize, Offset: -1, Err: fmt.Errorf("frame of %d bytes over the limit of %d", n, f.max)}
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if got, err := io.ReadFull(f.r, f.buf); err != nil {
		return f.buf[:got], &Error{Reason: ReasonTruncated, Offset: got, Err: fmt.Errorf("stream ended after %d of %d frame bytes", got, n)}
	}
	return f.buf, nil
}

func indexDelim(p []byte) int {
	for i, c := range p {
		if c == '\n' || c == 0 {
			return i
		}
	}
	return -1
}

func (f *FrameReader) line() ([]byte, error) {
	f.buf = f.buf[:0]
	over := false
	add := func(p []byte) {
		if over {
			return
		}
		if room := f.max + 1 - len(f.buf); len(p) > room { // +1: a CR that is trimmed
			f.buf = append(f.buf, p[:room]...) // keep the first bytes for quarantine
			over = true
			return
		}
		f.buf = append(f.buf, p...)
	}
	for {
		if f.r.Buffered() == 0 {
			if _, err := f.r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					break // a last line without LF is a frame
				}
				return nil, err
			}
		}
		data, _ := f.r.Peek(f.r.Buffered())
		if i := indexDelim(data); i >= 0 {
			add(data[:i])
			_, _ = f.r.Discard(i + 1)
			break
		}
		add(data)
		_, _ = f.r.Discard(len(data))
	}
	line := bytes.TrimRight(f.buf, "\r")
	if over || len(line) > f.max {
		// The frame's first bytes come back with the error, for quarantine.
		return f.buf, &Error{Reason: ReasonOversize, Offset: -1, Err: fmt.Errorf("line over the limit of %d bytes", f.max)}
	}
	return line, nil
}
