// Package syslog parses syslog messages as real devices send them: RFC 5424
// (structured data with escapes, BOM, nil values, fractional seconds and
// offsets) and RFC 3164 with its common variations (no priority, no host
// name, ISO 8601 timestamps, year-less dates resolved with a zone and the
// receive time, dates with a year, Cisco sequence numbers and "*" or "."
// time markers with milliseconds and a trailing zone name).
//
// Parse is pure: bytes in, a Message or an *ingest.Error out. It does not
// keep a reference to its input.
package syslog

import (
	"errors"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// Format is the syslog dialect a message was parsed as.
type Format uint8

// Formats.
const (
	RFC3164 Format = iota + 1
	RFC5424
)

func (f Format) String() string {
	switch f {
	case RFC3164:
		return "rfc3164"
	case RFC5424:
		return "rfc5424"
	}
	return "unknown"
}

// Param is one SD-PARAM.
type Param struct{ Name, Value string }

// Element is one SD-ELEMENT.
type Element struct {
	ID     string
	Params []Param
}

// Message is a parsed syslog message. Empty strings stand for absent (or
// RFC 5424 nil "-") values.
type Message struct {
	Format Format
	// Priority is the PRI value, or -1 when the message had none.
	Priority int
	Version  int
	// Timestamp is zero when the message had none.
	Timestamp time.Time
	// LocalTime reports that Timestamp carried no zone (RFC 3164, ISO 8601
	// without an offset) and was read in Options.Location.
	LocalTime bool
	Hostname  string
	AppName   string
	ProcID    string
	MsgID     string
	SD        []Element
	// Msg is the free-form message (BOM removed).
	Msg string
	// BOM reports whether the RFC 5424 MSG began with a UTF-8 BOM.
	BOM bool
	// Sequence is a Cisco-style sequence number, if any.
	Sequence string
}

// Facility returns the facility number (PRI / 8), or -1.
func (m *Message) Facility() int {
	if m.Priority < 0 {
		return -1
	}
	return m.Priority / 8
}

// Severity returns the severity number (PRI % 8), or -1.
func (m *Message) Severity() int {
	if m.Priority < 0 {
		return -1
	}
	return m.Priority % 8
}

// FacilityNames and SeverityNames name the codes (RFC 5424 tables 1 and 2).
var (
	FacilityNames = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
		"authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
		"local4", "local5", "local6", "local7"}
	SeverityNames = []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}
)

// Options guide the parsing of RFC 3164 timestamps.
type Options struct {
	// Location is the zone of timestamps that carry none; default UTC.
	Location *time.Location
	// Now is the receive time: it gives year-less dates their year (the
	// year that puts the date nearest to Now). Default time.Now().
	Now time.Time
}

func fail(reason string, off int, format string, args ...any) *ingest.Error {
	e := ingest.Errorf(reason, format, args...)
	e.Offset = off
	return e
}

// Parse parses one message. Invalid UTF-8 is not an error here: callers
// decide (text from legacy devices is often in a legacy code page).
func Parse(data []byte, o Options) (Message, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	s := string(trimEnd(data))
	if len(s) == 0 {
		return Message{}, fail(ingest.ReasonEmpty, 0, "empty message")
	}
	m := Message{Priority: -1}
	p := 0
	if s[0] == '<' {
		end := strings.IndexByte(s[:min(len(s), 6)], '>')
		if end < 2 {
			return m, fail(ingest.ReasonSyntax, 0, "priority not closed by '>' within 3 digits")
		}
		pri, ok := atoi(s[1:end])
		if !ok || pri > 191 || (end > 2 && s[1] == '0') {
			return m, fail(ingest.ReasonSyntax, 1, "invalid priority %q", s[1:end])
		}
		m.Priority = pri
		p = end + 1
	}
	rest := s[p:]
	// RFC 5424: VERSION SP right after PRI.
	if m.Priority >= 0 && len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' {
		sp := strings.IndexByte(rest, ' ')
		if sp > 0 && sp <= 3 {
			if v, ok := atoi(rest[:sp]); ok {
				if err := parse5424(&m, v, rest[sp+1:], p+sp+1); err != nil {
					return m, err
				}
				return m, nil
			}
		}
	}
	parse3164(&m, rest, o)
	return m, nil
}

func trimEnd(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// field cuts the next space-separated field.
func field(s string) (f, rest string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], true
}

func nilValue(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

var errSD = errors.New("structured data")

func parse5424(m *Message, version int, s string, off int) error {
	m.Format, m.Version = RFC5424, version
	ts, s, ok := field(s)
	if !ok {
		return fail(ingest.ReasonTruncated, off, "RFC 5424 header ends before TIMESTAMP")
	}
	if ts != "-" {
		t, err := parse5424Time(ts)
		if err != nil {
			return fail(ingest.ReasonSyntax, off, "invalid RFC 5424 timestamp %q", ts)
		}
		m.Timestamp = t
	}
	var hdr [4]string
	for i := range hdr {
		f, rest, ok := field(s)
		if !ok {
			return fail(ingest.ReasonTruncated, off, "RFC 5424 header ends early")
		}
		if len(f) > 255 {
			return fail(ingest.ReasonSyntax, off, "RFC 5424 header field over 255 characters")
		}
		hdr[i], s = nilValue(f), rest
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID = hdr[0], hdr[1], hdr[2], hdr[3]
	switch {
	case s == "" || s == "-":
		s = ""
	case strings.HasPrefix(s, "- "):
		s = s[2:]
	case s[0] == '[':
		rest, err := parseSD(m, s)
		if err != nil {
			return fail(ingest.ReasonSyntax, off, "invalid structured data: %v", err)
		}
		s = strings.TrimPrefix(rest, " ")
	default:
		return fail(ingest.ReasonSyntax, off, "structured data must be '-' or start with '['")
	}
	if strings.HasPrefix(s, "\uFEFF") {
		m.BOM, s = true, s[3:]
	}
	m.Msg = s
	return nil
}

func parse5424Time(s string) (time.Time, error) {
	// Layout: YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm); time.Parse accepts it.
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, errors.New("layout")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseSD parses SD-ELEMENTs and returns what follows them.
func parseSD(m *Message, s string) (string, error) {
	for len(s) > 0 && s[0] == '[' {
		i := 1
		for i < len(s) && s[i] != ' ' && s[i] != ']' {
			i++
		}
		if i == 1 || i >= len(s) {
			return "", errSD
		}
		el := Element{ID: s[1:i]}
		for i < len(s) && s[i] == ' ' {
			i++
			j := i
			for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != ']' {
				j++
			}
			if j == i || j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
				return "", errSD
			}
			name := s[i:j]
			j += 2
			var b []byte
			start, escaped := j, false
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\' || s[j+1] == ']') {
					b = append(append(b, s[start:j]...), s[j+1])
					j += 2
					start, escaped = j, true
					continue
				}
				j++
			}
			if j >= len(s) {
				return "", errSD
			}
			val := s[start:j]
			if escaped {
				val = string(append(b, val...))
			}
			el.Params = append(el.Params, Param{Name: name, Value: val})
			i = j + 1
		}
		if i >= len(s) || s[i] != ']' {
			return "", errSD
		}
		m.SD = append(m.SD, el)
		s = s[i+1:]
	}
	return s, nil
}

var monthIndex = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func month(s string) time.Month {
	if len(s) < 3 {
		return 0
	}
	for i, m := range monthIndex {
		if s[0] == m[0] && s[1] == m[1] && s[2] == m[2] {
			return time.Month(i + 1)
		}
	}
	return 0
}

func parse3164(m *Message, s string, o Options) {
	m.Format = RFC3164
	// Cisco: "123: " sequence number, sometimes "123: host: ".
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 10 && i+1 < len(s) && s[i+1] == ' ' {
		if _, ok := atoi(s[:i]); ok {
			m.Sequence, s = s[:i], s[i+2:]
		}
	}
	s = strings.TrimLeft(s, " ")
	if t, n, local := parseTimestamp3164(s, o); n > 0 {
		m.Timestamp, m.LocalTime, s = t, local, strings.TrimLeft(s[n:], " ")
	} else if m.Sequence != "" {
		// "123: host: *Nov 24 ..." puts the host first.
		if h, rest, ok := strings.Cut(s, ": "); ok && !strings.ContainsAny(h, " []") {
			if t, n, local := parseTimestamp3164(rest, o); n > 0 {
				m.Hostname, m.Timestamp, m.LocalTime, s = h, t, local, strings.TrimLeft(rest[n:], " ")
			}
		}
	}
	// HOSTNAME, unless the next token is already the TAG ("sshd[12]:",
	// "su:") or a Cisco mnemonic ("%SYS-5-CONFIG_I:").
	if m.Hostname == "" && s != "" {
		tok, rest, _ := field(s)
		if tok != "" && !isTag(tok) && isHostname(tok) && rest != "" {
			m.Hostname, s = tok, rest
		}
	}
	// Cisco ASA writes "host : %ASA-6-302013: ...": an empty field first.
	if m.Hostname != "" && strings.HasPrefix(s, ": %") {
		s = s[2:]
	}
	// TAG[PID]: MSG (the colon followed by a space or the end). A tag may
	// hold % and - (Cisco's "%ASA-6-302013", "%SEC-6-IPACCESSLOGP").
	if i := strings.IndexByte(s, ':'); i > 0 && i <= 48 && (i+1 == len(s) || s[i+1] == ' ') &&
		!strings.ContainsAny(s[:i], " \t") {
		tag := s[:i]
		if lb := strings.IndexByte(tag, '['); lb > 0 && tag[len(tag)-1] == ']' {
			m.ProcID, tag = tag[lb+1:len(tag)-1], tag[:lb]
		}
		if tag != "" && !strings.ContainsAny(tag, "[]") {
			m.AppName = tag
			s = strings.TrimPrefix(s[i+1:], " ")
		}
	}
	m.Msg = s
}

// isHostname reports whether a token can be a host name or address.
func isHostname(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return !strings.HasPrefix(tok, "CEF:") && !strings.HasPrefix(tok, "LEEF:")
}

// isTag reports whether a token is a TAG (ends with ':' or has "[pid]").
func isTag(tok string) bool {
	return strings.HasSuffix(tok, ":") || strings.Contains(tok, "[")
}

// parseTimestamp3164 parses a timestamp at the start of s and returns it
// with the number of bytes it used (0: none) and whether it had no zone
// (local: read in o.Location). Forms: "Mmm dd hh:mm:ss", "Mmm dd yyyy
// hh:mm:ss", optional "*" or "." marker, ".mmm" fraction, a trailing zone
// abbreviation and ':' (Cisco; only UTC and GMT are taken as zones), and
// RFC 3339.
func parseTimestamp3164(s string, o Options) (t time.Time, n int, local bool) {
	p := 0
	if len(s) > 0 && (s[0] == '*' || s[0] == '.') {
		p = 1
	}
	if len(s) >= p+15 && month(s[p:]) != 0 && s[p+3] == ' ' {
		mo := month(s[p:])
		i := p + 4
		if s[i] == ' ' {
			i++
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		day, ok := atoi(s[i:j])
		if !ok || day < 1 || day > 31 || j >= len(s) || s[j] != ' ' {
			return time.Time{}, 0, false
		}
		i = j + 1
		year := -1
		if len(s) >= i+5 && s[i+4] == ' ' {
			if y, ok := atoi(s[i : i+4]); ok {
				year, i = y, i+5
			}
		}
		if len(s) < i+8 || s[i+2] != ':' || s[i+5] != ':' {
			return time.Time{}, 0, false
		}
		hh, ok1 := atoi(s[i : i+2])
		mm, ok2 := atoi(s[i+3 : i+5])
		ss, ok3 := atoi(s[i+6 : i+8])
		if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 {
			return time.Time{}, 0, false
		}
		i += 8
		nsec := 0
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && j < i+10 && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j > i+1 {
				frac, _ := atoi(s[i+1 : j])
				for k := j - i - 1; k < 9; k++ {
					frac *= 10
				}
				nsec, i = frac, j
			}
		}
		loc, local := o.Location, true
		// Cisco "show-timezone": " UTC:" or " ALMT:" after the time.
		if i+1 < len(s) && s[i] == ' ' {
			k := i + 1
			for k < len(s) && k < i+7 && s[k] >= 'A' && s[k] <= 'Z' {
				k++
			}
			if k > i+2 && k < len(s) && s[k] == ':' {
				if z := s[i+1 : k]; z == "UTC" || z == "GMT" {
					loc, local = time.UTC, false
				}
				i = k
			}
		}
		if i < len(s) && s[i] == ':' {
			i++ // Cisco ends the timestamp with ':'
		}
		if year < 0 {
			return nearestYear(mo, day, hh, mm, ss, nsec, loc, o.Now), i, local
		}
		return time.Date(year, mo, day, hh, mm, ss, nsec, loc), i, local
	}
	// RFC 3339 / ISO 8601 ("2026-11-24T10:00:00.123+05:00", also with a
	// space instead of T and without a zone).
	if len(s) >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') {
		end := strings.IndexByte(s[11:], ' ')
		if end < 0 {
			end = len(s)
		} else {
			end += 11
		}
		tok := s[:end]
		if t, err := time.Parse(time.RFC3339Nano, tok); err == nil {
			return t, end, false
		}
		if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", tok, o.Location); err == nil {
			return t, end, true
		}
		if s[10] == ' ' && len(s) >= 19 {
			if t, err := time.ParseInLocation("2006-01-02 15:04:05", s[:19], o.Location); err == nil {
				return t, 19, true
			}
		}
	}
	return time.Time{}, 0, false
}

// nearestYear gives a year-less date the year that puts it nearest to now:
// a December record received in January is last year's.
func nearestYear(mo time.Month, day, hh, mm, ss, nsec int, loc *time.Location, now time.Time) time.Time {
	y := now.In(loc).Year()
	best := time.Date(y, mo, day, hh, mm, ss, nsec, loc)
	for _, c := range []int{y - 1, y + 1} {
		t := time.Date(c, mo, day, hh, mm, ss, nsec, loc)
		if abs(t.Sub(now)) < abs(best.Sub(now)) {
			best = t
		}
	}
	return best
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
