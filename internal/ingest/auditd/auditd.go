// Package auditd parses Linux audit records and joins the records of one
// event (SYSCALL, EXECVE, CWD, PATH, PROCTITLE, ... sharing the serial of
// msg=audit(<time>:<serial>)) into one event.
//
// Records come as auditd writes them to audit.log, optionally with a
// "node=<host> " prefix (audisp remote, syslog forwarding) and with the
// interpreted fields that "log_format = ENRICHED" appends after a 0x1D
// separator (kept under their upper-case names). Values auditd encodes in
// hex because they hold untrusted characters (EXECVE arguments, proctitle,
// comm, exe, cwd, name, ...) are decoded; proctitle's NUL separators become
// spaces.
//
// ParseRecord is pure; Joiner holds the records of the event in progress.
package auditd

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/box"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
)

// Record is one audit record (one line).
type Record struct {
	Type   string
	Time   time.Time
	Serial uint64
	Node   string
	Fields kv.Pairs
}

// ParseRecord parses one record line.
func ParseRecord(line string) (Record, error) {
	var r Record
	s := strings.TrimRight(line, "\r\n")
	if i := strings.Index(s, "type="); i > 0 {
		// A prefix: "node=host ", a syslog header, "audispd: ".
		pre := s[:i]
		if j := strings.Index(pre, "node="); j >= 0 {
			if f := strings.Fields(pre[j+5:]); len(f) > 0 {
				r.Node = f[0]
			}
		}
		s = s[i:]
	} else if i < 0 {
		return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 0, Err: ingest.Detail("no type= field")}
	}
	enriched := ""
	if i := strings.IndexByte(s, 0x1d); i >= 0 {
		s, enriched = s[:i], s[i+1:]
	}
	typ, rest, _ := strings.Cut(s, " ")
	r.Type = strings.TrimPrefix(typ, "type=")
	if r.Type == "" {
		return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 5, Err: ingest.Detail("empty record type")}
	}
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, "msg=audit(") {
		return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: len(typ) + 1, Err: ingest.Detail("no msg=audit(<time>:<serial>)")}
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return r, &ingest.Error{Reason: ingest.ReasonTruncated, Offset: len(typ) + 1, Err: ingest.Detail("msg=audit( not closed")}
	}
	stamp := rest[len("msg=audit("):end]
	ts, serial, ok := strings.Cut(stamp, ":")
	sec, frac, _ := strings.Cut(ts, ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	n, err2 := strconv.ParseUint(serial, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: len(typ) + 11, Err: ingest.Detail("bad audit stamp " + strconv.Quote(stamp))}
	}
	ms := 0
	if frac != "" {
		f, err := strconv.Atoi((frac + "000")[:3])
		if err != nil {
			return r, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: len(typ) + 11, Err: ingest.Detail("bad audit time " + strconv.Quote(ts))}
		}
		ms = f
	}
	r.Time, r.Serial = time.Unix(secs, int64(ms)*1e6).UTC(), n
	body := strings.TrimLeft(strings.TrimPrefix(rest[end+1:], ":"), " ")
	// USER_* records wrap their fields in msg='...'. The pairs in one
	// allocation: each has an "=" (a value may have more).
	r.Fields = appendFields(make(kv.Pairs, 0, strings.Count(body, "=")+strings.Count(enriched, "=")), body)
	if enriched != "" {
		r.Fields = appendFields(r.Fields, enriched)
	}
	return r, nil
}

// appendFields splits "k=v k2="quoted v" k3='single'" into fields; a
// msg='...' value is split into fields too.
func appendFields(out kv.Pairs, s string) kv.Pairs {
	i := 0
	for i < len(s) {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		sp := strings.IndexByte(s[i:], ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp < 0 {
				break
			}
			i += sp
			continue
		}
		key := s[i : i+eq]
		j := i + eq + 1
		var val string
		quoted := false
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			q := s[j]
			k := strings.IndexByte(s[j+1:], q)
			if k < 0 {
				val, j = s[j+1:], len(s)
			} else {
				val, j = s[j+1:j+1+k], j+1+k+1
			}
			quoted = true
		} else {
			k := strings.IndexByte(s[j:], ' ')
			if k < 0 {
				val, j = s[j:], len(s)
			} else {
				val, j = s[j:j+k], j+k
			}
		}
		if key == "msg" && quoted && strings.Contains(val, "=") {
			out = appendFields(out, val)
		} else {
			if !quoted && hexField(key) {
				val = decodeHex(key, val)
			}
			out = append(out, kv.Pair{Key: key, Value: val})
		}
		i = j
	}
	return out
}

// hexField reports whether auditd may hex-encode the field's value.
func hexField(k string) bool {
	switch k {
	case "proctitle", "comm", "exe", "cwd", "name", "path", "data", "cmd", "acct", "new", "old", "ocomm", "key", "argv":
		return true
	}
	if len(k) >= 2 && k[0] == 'a' {
		for i := 1; i < len(k); i++ {
			if (k[i] < '0' || k[i] > '9') && k[i] != '[' && k[i] != ']' {
				return false
			}
		}
		return true
	}
	return false
}

func decodeHex(key, v string) string {
	if len(v) < 2 || len(v)%2 != 0 || v == "(null)" {
		return v
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return v
		}
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	if key == "proctitle" || key == "data" || key == "cmd" {
		return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	}
	return string(b)
}

// Event is the records of one audit event, joined.
type Event struct {
	Time   time.Time
	Serial uint64
	Node   string
	// Types lists the record types in the order they came, once each.
	Types []string
	// Fields holds every field; a field that several records carry with
	// different values (PATH items' name) is a []string. EXECVE's a0, a1,
	// ... (the arguments) take the place of SYSCALL's register values.
	Fields map[string]any
	// Raw holds the original lines.
	Raw []string
	// received is when the first record was received (for Expire).
	received time.Time
}

func (e *Event) add(r Record, raw string) {
	seen := false
	for _, t := range e.Types {
		if t == r.Type {
			seen = true
		}
	}
	if !seen {
		e.Types = append(e.Types, r.Type)
	}
	// The values are boxed in place (internal/ingest/box): r's pairs are
	// not changed again.
	for i := range r.Fields {
		f := &r.Fields[i]
		old, ok := e.Fields[f.Key]
		switch {
		case !ok:
			e.Fields[f.Key] = box.String(&f.Value)
		case r.Type == "EXECVE" && len(f.Key) > 1 && f.Key[0] == 'a':
			e.Fields[f.Key] = box.String(&f.Value) // an argument replaces a syscall register
		default:
			switch o := old.(type) {
			case string:
				if o != f.Value {
					e.Fields[f.Key] = []string{o, f.Value}
				}
			case []string:
				e.Fields[f.Key] = append(o, f.Value)
			}
		}
	}
	e.Raw = append(e.Raw, raw)
}

// Joiner joins records into events. Not safe for concurrent use.
type Joiner struct {
	// Linger is how long an event waits for more records (default 2s).
	Linger time.Duration
	cur    *Event
}

// Add adds a record and returns the events it completed: the previous one
// when the serial changes, this one on its EOE record. The event's fields
// refer to r.Fields' values, which must not change afterwards.
func (j *Joiner) Add(r Record, raw string, now time.Time) []Event {
	var done []Event
	if j.cur != nil && (j.cur.Serial != r.Serial || j.cur.Node != r.Node) {
		done = append(done, *j.cur)
		j.cur = nil
	}
	if r.Type == "EOE" {
		if j.cur != nil {
			done = append(done, *j.cur)
			j.cur = nil
		}
		return done
	}
	if j.cur == nil {
		// Room for this record's fields and a few more records' (the map
		// grows from there).
		j.cur = &Event{Time: r.Time, Serial: r.Serial, Node: r.Node, Fields: make(map[string]any, len(r.Fields)+8), received: now}
	}
	j.cur.add(r, raw)
	return done
}

// Expire returns the event in progress if it has waited Linger.
func (j *Joiner) Expire(now time.Time) []Event {
	linger := j.Linger
	if linger == 0 {
		linger = 2 * time.Second
	}
	if j.cur != nil && now.Sub(j.cur.received) >= linger {
		e := *j.cur
		j.cur = nil
		return []Event{e}
	}
	return nil
}

// Flush returns the event in progress, if any.
func (j *Joiner) Flush() []Event {
	if j.cur == nil {
		return nil
	}
	e := *j.cur
	j.cur = nil
	return []Event{e}
}
