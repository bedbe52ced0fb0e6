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
	// FramingAuto decides the framing once per connection, from its first
	// frame, and keeps it for the whole connection (RFC 6587 section 3.4
	// lets a sender use one method per session):
	//
	//   - 1 to 9 digits, a space and '<' (MSG-LEN SP and the PRI of a
	//     syslog message) make the connection octet-counted (FramingOctet);
	//   - otherwise the connection is line-framed, and the delimiter that
	//     ends the first frame decides which: NUL makes it FramingNUL, LF
	//     (or the end of the stream) FramingLF.
	//
	// A line that merely starts with a number ("70000 bytes transferred",
	// "0 errors found") is a line. Leading CR, LF and NUL bytes before the
	// first frame are skipped. A sender that mixes methods on one
	// connection, or that sends multi-line NUL-framed messages whose first
	// frame holds an LF, needs the framing configured.
	FramingAuto = "auto"
	// FramingLF ends every frame at LF (non-transparent framing); a
	// trailing CR is removed and empty lines are skipped. A NUL inside a
	// line is data and stays in the record.
	FramingLF = "lf"
	// FramingNUL ends every frame at NUL; an LF inside a frame is data,
	// CR and LF at either end of a frame are removed.
	FramingNUL = "nul"
	// FramingOctet reads only octet-counted frames ("MSG-LEN SP MSG");
	// CR, LF, NUL, space and tab between frames are padding. Bytes that do
	// not start a valid frame are returned, up to the next LF, as a
	// ReasonSyntax rejection, and reading goes on after them.
	FramingOctet = "octet"
)

// FrameReader splits a byte stream into records. Every byte of the stream
// ends up in a frame, in the data returned with an error (oversize frames:
// their first bytes), or is framing (delimiters, length prefixes, padding,
// empty lines). It is not safe for concurrent use.
type FrameReader struct {
	r    *bufio.Reader
	mode string // configured
	cur  string // in use; "" while an auto reader has not decided
	max  int
	buf  []byte
	nl   int  // LFs consumed outside octet-counted frames
	line int  // the line the last frame started on
	over bool // scan skipped bytes past max+1
}

// NewFrameReader returns a reader of frames of at most max bytes.
func NewFrameReader(r io.Reader, mode string, max int) *FrameReader {
	if mode == "" {
		mode = FramingAuto
	}
	if max <= 0 {
		max = DefaultMaxRecord
	}
	f := &FrameReader{r: bufio.NewReaderSize(r, 64<<10), mode: mode, max: max}
	if mode != FramingAuto {
		f.cur = mode
	}
	return f
}

// Mode returns the framing in use: the configured one, or for auto the one
// decided from the first frame ("auto" until then).
func (f *FrameReader) Mode() string {
	if f.cur == "" {
		return FramingAuto
	}
	return f.cur
}

// Line returns the 1-based line number the last frame started on, counting
// every LF outside octet-counted frames (empty lines included): for line
// framing it is the line number in the stream.
func (f *FrameReader) Line() int { return f.line }

// Next returns the next frame. The slice is valid until the next call.
//
// A frame over the size limit returns an *Error with ReasonOversize and its
// first bytes; the reader has skipped it and the next call continues with
// the following frame. In octet mode, bytes that are not a frame length
// return ReasonSyntax with the bytes up to the next LF, and reading goes on.
// A stream that ends, or fails, inside an octet-counted frame returns
// ReasonTruncated with the bytes read (wrapping the read error if any). A
// read error inside a line returns the partial line with that error. Fatal
// reports which errors end the stream. io.EOF ends the stream.
func (f *FrameReader) Next() ([]byte, error) {
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if f.padding(c) {
			if c == '\n' {
				f.nl++
			}
			continue
		}
		_ = f.r.UnreadByte()
		f.line = f.nl + 1
		if f.cur == "" && f.looksOctet() {
			f.cur = FramingOctet
		}
		if f.cur == FramingOctet {
			return f.octet()
		}
		return f.lineFrame()
	}
}

// padding reports whether c, between frames, is skipped.
func (f *FrameReader) padding(c byte) bool {
	switch c {
	case '\n', '\r':
		return true
	case 0:
		return f.cur != FramingLF
	case ' ', '\t':
		return f.cur == FramingOctet
	}
	return false
}

// Fatal reports whether err from Next leaves the stream unusable.
func Fatal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return err != nil
	}
	return e.Reason != ReasonOversize && e.Reason != ReasonSyntax
}

// looksOctet peeks at the buffered bytes: 1 to 9 digits, a space and '<'.
func (f *FrameReader) looksOctet() bool {
	for i := 1; i <= 11; i++ {
		p, _ := f.r.Peek(i)
		if len(p) < i {
			return false
		}
		c := p[i-1]
		if c == ' ' {
			if i == 1 {
				return false
			}
			q, _ := f.r.Peek(i + 1)
			return len(q) == i+1 && q[i] == '<'
		}
		if c < '0' || c > '9' || i > 9 {
			return false
		}
	}
	return false
}

func (f *FrameReader) octet() ([]byte, error) {
	n, digits := 0, 0
	f.buf = f.buf[:0]
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return f.buf, &Error{Reason: ReasonTruncated, Offset: digits, Err: fmt.Errorf("stream ended in a frame length: %w", io.ErrUnexpectedEOF)}
			}
			return f.buf, &Error{Reason: ReasonTruncated, Offset: digits, Err: err}
		}
		if c == ' ' && digits > 0 {
			break
		}
		f.buf = append(f.buf, c)
		if c < '0' || c > '9' || digits >= 9 {
			return f.resync(fmt.Errorf("bad octet count character %q", c))
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if n == 0 {
		f.buf = append(f.buf, ' ')
		return f.resync(errors.New("zero-length octet-counted frame"))
	}
	keep := min(n, f.max)
	if cap(f.buf) < keep {
		f.buf = make([]byte, keep)
	}
	f.buf = f.buf[:keep]
	if got, err := io.ReadFull(f.r, f.buf); err != nil {
		err = unexpected(err)
		return f.buf[:got], &Error{Reason: ReasonTruncated, Offset: got, Err: fmt.Errorf("stream ended after %d of %d frame bytes: %w", got, n, err)}
	}
	if n > f.max {
		if d, err := f.r.Discard(n - keep); err != nil {
			err = unexpected(err)
			return f.buf, &Error{Reason: ReasonTruncated, Offset: keep + d,
				Err: fmt.Errorf("stream ended in an oversize frame of %d bytes: %w", n, err)}
		}
		return f.buf, &Error{Reason: ReasonOversize, Offset: -1, Err: fmt.Errorf("frame of %d bytes over the limit of %d", n, f.max)}
	}
	return f.buf, nil
}

// unexpected turns io.EOF inside a frame into io.ErrUnexpectedEOF, so that
// only a clean end of the stream is io.EOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// resync returns what f.buf holds and the rest of its line (its first max
// bytes; the LF is consumed) as a ReasonSyntax rejection.
func (f *FrameReader) resync(cause error) ([]byte, error) {
	prefix := len(f.buf)
	if f.buf[prefix-1] == '\n' { // the bad character ended the line
		return f.buf[:prefix-1], &Error{Reason: ReasonSyntax, Offset: prefix - 1, Err: cause}
	}
	rest, rerr := f.scan('\n', prefix)
	if rerr != nil && !errors.Is(rerr, io.EOF) {
		cause = fmt.Errorf("%w (then %w)", cause, rerr)
	}
	return rest, &Error{Reason: ReasonSyntax, Offset: prefix - 1, Err: cause}
}

// scan appends to f.buf, after its first keep bytes, the bytes up to the
// delimiter (consumed, not appended) or the end of the stream, keeping at
// most max+1 bytes (the rest is skipped). The error is the read error, or
// io.EOF when the stream ended before a delimiter.
func (f *FrameReader) scan(delim byte, keep int) ([]byte, error) {
	f.buf, f.over = f.buf[:keep], false
	add := func(p []byte) {
		if f.cur != FramingOctet {
			f.nl += bytes.Count(p, []byte{'\n'})
		}
		if room := max(f.max+1-len(f.buf), 0); room < len(p) {
			// Skipped bytes make the frame oversize unless they are
			// trailing CR (or CR and LF in NUL framing), which is trimmed.
			cut := "\r"
			if f.cur == FramingNUL {
				cut = "\r\n"
			}
			if len(bytes.Trim(p[room:], cut)) > 0 {
				f.over = true
			}
			p = p[:room]
		}
		f.buf = append(f.buf, p...)
	}
	for {
		if f.r.Buffered() == 0 {
			if _, err := f.r.Peek(1); err != nil {
				return f.buf, err
			}
		}
		data, _ := f.r.Peek(f.r.Buffered())
		i := -1
		if delim == 0 && f.cur == "" {
			i = indexLineEnd(data)
		} else {
			i = bytes.IndexByte(data, delim)
		}
		if i >= 0 {
			add(data[:i])
			if data[i] == '\n' {
				f.nl++
			}
			if f.cur == "" { // auto: the first frame's delimiter decides
				f.cur = FramingLF
				if data[i] == 0 {
					f.cur = FramingNUL
				}
			}
			_, _ = f.r.Discard(i + 1)
			return f.buf, nil
		}
		add(data)
		_, _ = f.r.Discard(len(data))
	}
}

// indexLineEnd returns the index of the first LF or NUL in p, or -1.
func indexLineEnd(p []byte) int {
	for i, c := range p {
		if c == '\n' || c == 0 {
			return i
		}
	}
	return -1
}

func (f *FrameReader) lineFrame() ([]byte, error) {
	delim := byte('\n')
	if f.cur != FramingLF {
		delim = 0 // NUL, or either while auto has not decided
	}
	buf, err := f.scan(delim, 0)
	if f.cur == "" {
		f.cur = FramingLF // the stream ended inside the first frame
	}
	cut := "\r"
	if f.cur == FramingNUL {
		cut = "\r\n"
	}
	line := bytes.TrimRight(buf, cut)
	if err != nil && !errors.Is(err, io.EOF) {
		return line, err // a partial line, for the caller to keep
	}
	if f.over || len(line) > f.max {
		// The frame's first bytes come back with the error, for quarantine.
		return buf, &Error{Reason: ReasonOversize, Offset: -1, Err: fmt.Errorf("line over the limit of %d bytes", f.max)}
	}
	if len(line) == 0 && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	return line, nil
}
