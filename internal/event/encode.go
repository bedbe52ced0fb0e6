package event

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// This file is the event encoder: by hand, without reflection, the bytes
// that encoding/json's Encoder with SetEscapeHTML(false) writes for an
// Event (without its trailing newline). Every struct field is written in
// declaration order under its JSON name, omitempty as encoding/json
// applies it; map keys are sorted; strings escaped as encoding/json
// escapes them. A namespace value of a type the encoder does not know,
// and any value that encoding/json rejects, is handed to encoding/json,
// so that the result (or the error) is encoding/json's.
//
// encode_test.go keeps the encoding/json encoder as the reference and
// compares the two over randomly filled events: a field added to a struct
// without a line here fails that test.
//
// Objects are written member by member, each member starting with a comma;
// end replaces the first comma by '{' (or writes "{}" when no member was
// written), so omitted members need no bookkeeping.

// AppendJSON appends the JSON form of ev (the bytes Marshal returns) to dst
// and returns the extended buffer. On error it returns dst unchanged and
// encoding/json's error for the same event.
func AppendJSON(dst []byte, ev *Event) ([]byte, error) {
	b, err := appendEvent(dst, ev)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// Marshal returns the JSON form of ev. Unlike json.Marshal it does not
// escape <, > and & (syslog priorities stay "<38>", so text search finds
// them). The bytes are what encoding/json's Encoder writes with
// SetEscapeHTML(false), without the trailing newline. The result is a new
// slice of exactly its length, which the caller owns; callers that encode
// many events into buffers of their own use AppendJSON.
func Marshal(ev *Event) ([]byte, error) {
	p := scratch.Get().(*[]byte)
	b, err := AppendJSON((*p)[:0], ev)
	var out []byte
	if err == nil {
		out = append([]byte(nil), b...)
	}
	if cap(b) <= maxScratch {
		*p = b
		scratch.Put(p)
	}
	return out, err
}

// scratch holds Marshal's encoding buffers; one that grew past maxScratch
// (an event with a huge record) is dropped instead of kept.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxScratch = 256 << 10

// Unmarshal parses the JSON form of an event.
func Unmarshal(data []byte, ev *Event) error { return json.Unmarshal(data, ev) }

func appendEvent(b []byte, ev *Event) ([]byte, error) {
	var err error
	start := len(b)
	b = append(b, `,"@timestamp":`...)
	if b, err = timeValue(b, ev.Timestamp); err != nil {
		return nil, err
	}
	b = append(b, `,"event":`...)
	if b, err = appendMeta(b, &ev.Event); err != nil {
		return nil, err
	}
	b = endpointMember(b, "source", ev.Source)
	b = endpointMember(b, "destination", ev.Destination)
	if n := ev.Network; n != nil {
		s := member(&b, "network")
		b = strMember(b, "transport", n.Transport)
		b = strMember(b, "protocol", n.Protocol)
		b = strMember(b, "direction", n.Direction)
		b = intMember(b, "bytes", n.Bytes)
		b = intMember(b, "packets", n.Packets)
		b = end(b, s)
	}
	if ev.User != nil {
		b = appendUser(append(b, `,"user":`...), ev.User)
	}
	if h := ev.Host; h != nil {
		s := member(&b, "host")
		b = strMember(b, "name", h.Name)
		b = strMember(b, "hostname", h.Hostname)
		b = strsMember(b, "ip", h.IP)
		b = strMember(b, "os", h.OS)
		b = strMember(b, "architecture", h.Architecture)
		b = end(b, s)
	}
	if ev.Process != nil {
		b = appendProcess(append(b, `,"process":`...), ev.Process)
	}
	if f := ev.File; f != nil {
		s := member(&b, "file")
		b = strMember(b, "path", f.Path)
		b = strMember(b, "name", f.Name)
		b = hashMember(b, f.Hash)
		b = strMember(b, "mime_type", f.MimeType)
		b = intMember(b, "size", f.Size)
		b = strMember(b, "directory", f.Directory)
		b = strMember(b, "extension", f.Extension)
		b = peMember(b, f.PE)
		b = signatureMember(b, f.CodeSignature)
		b = end(b, s)
	}
	if u := ev.URL; u != nil {
		s := member(&b, "url")
		b = strMember(b, "original", u.Original)
		b = strMember(b, "domain", u.Domain)
		b = strMember(b, "path", u.Path)
		b = strMember(b, "query", u.Query)
		b = strMember(b, "scheme", u.Scheme)
		b = strMember(b, "full", u.Full)
		b = strMember(b, "username", u.Username)
		b = end(b, s)
	}
	if d := ev.DNS; d != nil {
		s := member(&b, "dns")
		q := member(&b, "question")
		b = strMember(b, "name", d.Question.Name)
		b = strMember(b, "type", d.Question.Type)
		b = strMember(b, "class", d.Question.Class)
		b = end(b, q)
		b = strMember(b, "response_code", d.ResponseCode)
		b = strsMember(b, "answers", d.Answers)
		b = strMember(b, "id", d.ID)
		b = strMember(b, "type", d.Type)
		b = strsMember(b, "header_flags", d.HeaderFlags)
		b = strsMember(b, "resolved_ip", d.ResolvedIP)
		b = end(b, s)
	}
	if r := ev.Rule; r != nil {
		s := member(&b, "rule")
		b = strMember(b, "name", r.Name)
		b = strMember(b, "id", r.ID)
		b = strMember(b, "category", r.Category)
		b = strMember(b, "description", r.Description)
		b = strMember(b, "ruleset", r.Ruleset)
		b = end(b, s)
	}
	if o := ev.Observer; o != nil {
		s := member(&b, "observer")
		b = strMember(b, "vendor", o.Vendor)
		b = strMember(b, "product", o.Product)
		b = strMember(b, "version", o.Version)
		b = strMember(b, "hostname", o.Hostname)
		b = strMember(b, "ip", o.IP)
		b = strMember(b, "type", o.Type)
		b = strMember(b, "name", o.Name)
		b = strMember(b, "serial_number", o.SerialNumber)
		b = end(b, s)
	}
	b = strMember(b, "message", ev.Message)
	if ev.Log != nil {
		b = appendLog(append(b, `,"log":`...), ev.Log)
	}
	b = endpointMember(b, "client", ev.Client)
	b = endpointMember(b, "server", ev.Server)
	b = groupMember(b, ev.Group)
	if h := ev.HTTP; h != nil {
		s := member(&b, "http")
		b = strMember(b, "version", h.Version)
		if r := h.Request; r != nil {
			rs := member(&b, "request")
			b = strMember(b, "method", r.Method)
			b = bodyMember(b, r.Body)
			b = end(b, rs)
		}
		if r := h.Response; r != nil {
			rs := member(&b, "response")
			b = intMember(b, "status_code", int64(r.StatusCode))
			b = bodyMember(b, r.Body)
			b = end(b, rs)
		}
		b = end(b, s)
	}
	if ev.TLS != nil {
		b = appendTLS(append(b, `,"tls":`...), ev.TLS)
	}
	if u := ev.UserAgent; u != nil {
		s := member(&b, "user_agent")
		b = strMember(b, "original", u.Original)
		b = end(b, s)
	}
	if d := ev.DLL; d != nil {
		s := member(&b, "dll")
		b = strMember(b, "name", d.Name)
		b = strMember(b, "path", d.Path)
		b = hashMember(b, d.Hash)
		b = peMember(b, d.PE)
		b = signatureMember(b, d.CodeSignature)
		b = end(b, s)
	}
	b = strsMember(b, "tags", ev.Tags)
	if len(ev.Labels) > 0 {
		b = appendStringMap(append(b, `,"labels":`...), ev.Labels)
	}
	b = append(b, `,"kuzet":`...)
	if b, err = appendKuzet(b, &ev.Kuzet); err != nil {
		return nil, err
	}
	for _, ns := range [...]struct {
		key string
		m   map[string]any
	}{
		{`,"winlog":`, ev.Winlog}, {`,"zeek":`, ev.Zeek}, {`,"suricata":`, ev.Suricata}, {`,"cef":`, ev.CEF},
		{`,"leef":`, ev.LEEF}, {`,"auditd":`, ev.Auditd}, {`,"wazuh":`, ev.Wazuh}, {`,"fields":`, ev.Fields},
	} {
		if len(ns.m) == 0 {
			continue
		}
		if b, err = appendMap(append(b, ns.key...), ns.m, 0); err != nil {
			return nil, err
		}
	}
	return end(b, start), nil
}

func appendMeta(b []byte, m *Meta) ([]byte, error) {
	var err error
	s := len(b)
	b = strMember(b, "kind", m.Kind)
	b = strsMember(b, "category", m.Category)
	b = strsMember(b, "type", m.Type)
	b = strMember(b, "action", m.Action)
	b = strMember(b, "outcome", m.Outcome)
	b = intMember(b, "severity", int64(m.Severity))
	b = strMember(b, "code", m.Code)
	b = strMember(b, "provider", m.Provider)
	b = strMember(b, "module", m.Module)
	b = strMember(b, "dataset", m.Dataset)
	if b, err = timeMember(b, "created", m.Created); err != nil {
		return nil, err
	}
	b = strMember(b, "original", m.Original)
	b = strMember(b, "id", m.ID)
	b = intMember(b, "sequence", m.Sequence)
	b = strMember(b, "timezone", m.Timezone)
	b = intMember(b, "duration", m.Duration)
	if b, err = timeMember(b, "start", m.Start); err != nil {
		return nil, err
	}
	if b, err = timeMember(b, "end", m.End); err != nil {
		return nil, err
	}
	b = strMember(b, "reason", m.Reason)
	b = strMember(b, "reference", m.Reference)
	return end(b, s), nil
}

func appendKuzet(b []byte, k *Kuzet) ([]byte, error) {
	var err error
	b = append(b, `{"event_id":`...)
	b = jsonl.AppendString(b, k.EventID)
	b = append(b, `,"received_at":`...)
	if b, err = timeValue(b, k.ReceivedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"collector":`...)
	b = jsonl.AppendString(b, k.Collector)
	b = append(b, `,"oisc":`...)
	b = jsonl.AppendString(b, k.OISC)
	b = strMember(b, "input", k.Input)
	b = strMember(b, "source_type", k.SourceType)
	b = strMember(b, "org", k.Org)
	b = strMember(b, "object", k.Object)
	b = strMember(b, "sector", k.Sector)
	b = intMember(b, "criticality", int64(k.Criticality))
	if k.EGov {
		b = append(b, `,"egov":true`...)
	}
	b = strsMember(b, "object_tags", k.ObjectTags)
	b = append(b, `,"asset":`...)
	b = jsonl.AppendString(b, k.Asset)
	b = strMember(b, "original_b64", k.OriginalB64)
	b = strMember(b, "time_source", k.TimeSource)
	b = strMember(b, "time_zone", k.TimeZone)
	return append(b, '}'), nil
}

func endpointMember(b []byte, key string, e *Endpoint) []byte {
	if e == nil {
		return b
	}
	s := member(&b, key)
	b = strMember(b, "ip", e.IP)
	b = intMember(b, "port", int64(e.Port))
	b = strMember(b, "domain", e.Domain)
	b = strMember(b, "address", e.Address)
	b = strMember(b, "mac", e.MAC)
	b = intMember(b, "bytes", e.Bytes)
	b = intMember(b, "packets", e.Packets)
	if e.User != nil {
		b = appendUser(append(b, `,"user":`...), e.User)
	}
	return end(b, s)
}

func appendUser(b []byte, u *User) []byte {
	s := len(b)
	b = strMember(b, "name", u.Name)
	b = strMember(b, "domain", u.Domain)
	b = strMember(b, "id", u.ID)
	b = userRefMember(b, "audit", u.Audit)
	b = userRefMember(b, "effective", u.Effective)
	b = userRefMember(b, "filesystem", u.Filesystem)
	b = userRefMember(b, "saved", u.Saved)
	b = groupMember(b, u.Group)
	return end(b, s)
}

func userRefMember(b []byte, key string, u *UserRef) []byte {
	if u == nil {
		return b
	}
	s := member(&b, key)
	b = strMember(b, "id", u.ID)
	b = strMember(b, "name", u.Name)
	b = groupMember(b, u.Group)
	return end(b, s)
}

func groupMember(b []byte, g *Group) []byte {
	if g == nil {
		return b
	}
	s := member(&b, "group")
	b = strMember(b, "id", g.ID)
	b = strMember(b, "name", g.Name)
	return end(b, s)
}

func appendProcess(b []byte, p *Process) []byte {
	s := len(b)
	b = strMember(b, "name", p.Name)
	b = intMember(b, "pid", int64(p.PID))
	b = strMember(b, "executable", p.Executable)
	b = strMember(b, "command_line", p.CommandLine)
	if p.Parent != nil {
		b = appendProcess(append(b, `,"parent":`...), p.Parent)
	}
	b = strMember(b, "working_directory", p.WorkingDirectory)
	b = strMember(b, "title", p.Title)
	b = intMember(b, "exit_code", int64(p.ExitCode))
	b = strMember(b, "entity_id", p.EntityID)
	return end(b, s)
}

func hashMember(b []byte, h *Hash) []byte {
	if h == nil {
		return b
	}
	s := member(&b, "hash")
	b = strMember(b, "md5", h.MD5)
	b = strMember(b, "sha1", h.SHA1)
	b = strMember(b, "sha256", h.SHA256)
	return end(b, s)
}

func peMember(b []byte, p *PE) []byte {
	if p == nil {
		return b
	}
	s := member(&b, "pe")
	b = strMember(b, "original_file_name", p.OriginalFileName)
	b = strMember(b, "imphash", p.Imphash)
	b = strMember(b, "company", p.Company)
	b = strMember(b, "description", p.Description)
	b = strMember(b, "file_version", p.FileVersion)
	b = strMember(b, "product", p.Product)
	return end(b, s)
}

func signatureMember(b []byte, c *CodeSignature) []byte {
	if c == nil {
		return b
	}
	s := member(&b, "code_signature")
	b = strMember(b, "status", c.Status)
	b = boolMember(b, "signed", c.Signed)
	b = boolMember(b, "trusted", c.Trusted)
	return end(b, s)
}

func bodyMember(b []byte, h *HTTPBody) []byte {
	if h == nil {
		return b
	}
	s := member(&b, "body")
	b = intMember(b, "bytes", h.Bytes)
	return end(b, s)
}

func appendTLS(b []byte, t *TLS) []byte {
	s := len(b)
	b = strMember(b, "version", t.Version)
	b = strMember(b, "version_protocol", t.VersionProtocol)
	b = strMember(b, "cipher", t.Cipher)
	b = strMember(b, "curve", t.Curve)
	b = boolMember(b, "established", t.Established)
	b = boolMember(b, "resumed", t.Resumed)
	if c := t.Client; c != nil {
		cs := member(&b, "client")
		b = strMember(b, "server_name", c.ServerName)
		b = strMember(b, "ja3", c.JA3)
		b = end(b, cs)
	}
	if v := t.Server; v != nil {
		vs := member(&b, "server")
		b = strMember(b, "ja3s", v.JA3S)
		b = strMember(b, "issuer", v.Issuer)
		b = strMember(b, "subject", v.Subject)
		b = strMember(b, "not_before", v.NotBefore)
		b = strMember(b, "not_after", v.NotAfter)
		b = hashMember(b, v.Hash)
		if x := v.X509; x != nil {
			xs := member(&b, "x509")
			b = strMember(b, "serial_number", x.SerialNumber)
			b = strMember(b, "not_before", x.NotBefore)
			b = strMember(b, "not_after", x.NotAfter)
			b = x509NameMember(b, "subject", x.Subject)
			b = x509NameMember(b, "issuer", x.Issuer)
			b = end(b, xs)
		}
		b = end(b, vs)
	}
	return end(b, s)
}

func x509NameMember(b []byte, key string, n *X509Name) []byte {
	if n == nil {
		return b
	}
	s := member(&b, key)
	b = strMember(b, "common_name", n.CommonName)
	b = strMember(b, "country", n.Country)
	b = strMember(b, "organization", n.Organization)
	b = strMember(b, "organizational_unit", n.OrganizationalUnit)
	b = strMember(b, "locality", n.Locality)
	b = strMember(b, "state_or_province", n.StateOrProvince)
	return end(b, s)
}

func appendLog(b []byte, l *Log) []byte {
	s := len(b)
	b = strMember(b, "level", l.Level)
	b = strMember(b, "logger", l.Logger)
	if l.File != nil {
		fs := member(&b, "file")
		b = strMember(b, "path", l.File.Path)
		b = end(b, fs)
	}
	if l.Source != nil {
		ss := member(&b, "source")
		b = strMember(b, "address", l.Source.Address)
		b = end(b, ss)
	}
	if y := l.Syslog; y != nil {
		ys := member(&b, "syslog")
		if y.Priority != nil {
			b = append(b, `,"priority":`...)
			b = strconv.AppendInt(b, int64(*y.Priority), 10)
		}
		b = syslogCodeMember(b, "facility", y.Facility)
		b = syslogCodeMember(b, "severity", y.Severity)
		b = strMember(b, "hostname", y.Hostname)
		b = strMember(b, "appname", y.Appname)
		b = strMember(b, "procid", y.ProcID)
		b = strMember(b, "msgid", y.MsgID)
		b = strMember(b, "version", y.Version)
		if len(y.StructuredData) > 0 {
			b = append(b, `,"structured_data":`...)
			b = appendNestedStringMap(b, y.StructuredData)
		}
		b = end(b, ys)
	}
	return end(b, s)
}

func syslogCodeMember(b []byte, key string, c *SyslogCode) []byte {
	if c == nil {
		return b
	}
	member(&b, key)
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	b = strMember(b, "name", c.Name)
	return append(b, '}')
}

// member writes `,"key":` and returns where the member's object starts
// (for end).
func member(b *[]byte, key string) int {
	*b = append(*b, ',', '"')
	*b = append(*b, key...)
	*b = append(*b, '"', ':')
	return len(*b)
}

// end closes an object whose members, written from start on, each begin
// with a comma.
func end(b []byte, start int) []byte {
	if len(b) == start {
		return append(b, '{', '}')
	}
	b[start] = '{'
	return append(b, '}')
}

// strMember writes an omitempty string member.
func strMember(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	member(&b, key)
	return jsonl.AppendString(b, v)
}

// intMember writes an omitempty integer member.
func intMember(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	member(&b, key)
	return strconv.AppendInt(b, v, 10)
}

// strsMember writes an omitempty string slice member.
func strsMember(b []byte, key string, v []string) []byte {
	if len(v) == 0 {
		return b
	}
	member(&b, key)
	return jsonl.AppendStrings(b, v)
}

// boolMember writes an omitempty *bool member.
func boolMember(b []byte, key string, v *bool) []byte {
	if v == nil {
		return b
	}
	member(&b, key)
	return strconv.AppendBool(b, *v)
}

// timeMember writes an omitempty *time.Time member.
func timeMember(b []byte, key string, t *time.Time) ([]byte, error) {
	if t == nil {
		return b, nil
	}
	member(&b, key)
	if out, ok := appendTime(b, *t); ok {
		return out, nil
	}
	return fallback(b, t) // encoding/json's error, naming *time.Time
}

// timeValue writes t, or returns encoding/json's error for a time
// MarshalJSON rejects.
func timeValue(b []byte, t time.Time) ([]byte, error) {
	if out, ok := appendTime(b, t); ok {
		return out, nil
	}
	return fallback(b, t)
}

// appendTime writes t as time.Time.MarshalJSON does: RFC 3339 with
// nanoseconds, quoted. It reports false for a time MarshalJSON rejects
// (a year outside 0..9999, a zone offset of 24 hours or more).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}

// sortedKeys returns m's keys in ascending byte order, in keys (which it
// may grow).
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(arr[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonl.AppendString(b, k)
		b = append(b, ':')
		b = jsonl.AppendString(b, m[k])
	}
	return append(b, '}')
}

func appendNestedStringMap(b []byte, m map[string]map[string]string) []byte {
	var arr [8]string
	b = append(b, '{')
	for i, k := range sortedKeys(arr[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonl.AppendString(b, k)
		b = append(b, ':')
		b = appendStringMap(b, m[k])
	}
	return append(b, '}')
}

// maxDepth is how deep appendMap and appendValue go before they hand a
// value to encoding/json, which detects cycles.
const maxDepth = 64

// appendMap writes a namespace or a nested object.
func appendMap(b []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	if depth >= maxDepth {
		return fallback(b, m)
	}
	var arr [48]string
	keys := sortedKeys(arr[:0], m)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonl.AppendString(b, k)
		b = append(b, ':')
		if b, err = appendValue(b, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendValue writes the types namespace maps hold as encoding/json does,
// and leaves every other type to encoding/json.
func appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return jsonl.AppendString(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case float64:
		return appendFloat(b, v)
	case bool:
		return strconv.AppendBool(b, v), nil
	case nil:
		return append(b, "null"...), nil
	case map[string]any:
		return appendMap(b, v, depth)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		if depth >= maxDepth {
			return fallback(b, v)
		}
		b = append(b, '[')
		var err error
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		return jsonl.AppendStrings(b, v), nil
	case map[string]string:
		return appendStringMap(b, v), nil
	case json.Number:
		if v == "" {
			return append(b, '0'), nil
		}
		if !validNumber(string(v)) {
			return fallback(b, v)
		}
		return append(b, v...), nil
	}
	return fallback(b, v)
}

// appendFloat writes f as encoding/json writes a float64: like
// strconv 'f', or 'e' below 1e-6 and from 1e21 on, with a one-digit
// negative exponent unpadded.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fallback(b, f)
	}
	b = jsonl.AppendFloat(b, f)
	return b, nil
}

// validNumber reports whether s is a JSON number, as encoding/json checks
// a json.Number before writing it.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}

// fallback appends what encoding/json writes for v (HTML not escaped), or
// returns its error.
func fallback(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}
