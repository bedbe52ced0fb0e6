package pipeline

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

var facilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
	"ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
var severities = []string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// text returns the record as text: invalid UTF-8 is replaced, the exact
// bytes are kept in kuzet.original_b64 by the caller.
func text(data []byte) (string, bool) {
	if utf8.Valid(data) {
		return string(data), true
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), false
}

func normaliseSyslog(rec ingest.Record, opts StreamOptions, ev *event.Event) error {
	data := bytes.TrimRight(rec.Data, "\r\n\x00")
	s, ok := text(data)
	if !ok {
		ev.Kuzet.OriginalB64 = b64(data)
	}
	ev.Event.Original = s
	sl := &event.Syslog{}
	if ev.Log == nil {
		ev.Log = &event.Log{}
	}
	ev.Log.Syslog = sl
	rest := s
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 2 || end > 4 {
			return &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 0, Err: errf("bad priority")}
		}
		pri, err := strconv.Atoi(rest[1:end])
		if err != nil || pri < 0 || pri > 191 {
			return &ingest.Error{Reason: ingest.ReasonSyntax, Offset: 1, Err: errf("bad priority %q", rest[1:end])}
		}
		sl.Priority = &pri
		sl.Facility = &event.SyslogCode{Code: pri / 8, Name: facilities[pri/8]}
		sl.Severity = &event.SyslogCode{Code: pri % 8, Name: severities[pri%8]}
		ev.Event.Severity = pri % 8
		ev.Log.Level = severities[pri%8]
		rest = rest[end+1:]
	}
	if len(rest) > 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == ' ' {
		parse5424(rest, ev, sl)
	} else {
		parse3164(rest, opts, ev, sl)
	}
	if sl.Hostname != "" {
		ev.Set("host.name", sl.Hostname)
	}
	if i := strings.Index(ev.Message, "CEF:"); i >= 0 && (i == 0 || ev.Message[i-1] == ' ') {
		parseCEF(ev.Message[i:], ev)
	}
	return nil
}

func nilv(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func parse5424(s string, ev *event.Event, sl *event.Syslog) {
	f := strings.SplitN(s, " ", 7)
	for len(f) < 7 {
		f = append(f, "-")
	}
	sl.Version = f[0]
	if t, err := time.Parse(time.RFC3339Nano, f[1]); err == nil {
		ev.Timestamp = t
	}
	sl.Hostname, sl.Appname, sl.ProcID, sl.MsgID = nilv(f[2]), nilv(f[3]), nilv(f[4]), nilv(f[5])
	rest := f[6]
	if strings.HasPrefix(rest, "[") {
		sd, after := parseSD(rest)
		sl.StructuredData = sd
		rest = after
	} else {
		rest = strings.TrimPrefix(rest, "-")
	}
	rest = strings.TrimPrefix(strings.TrimPrefix(rest, " "), "\uFEFF")
	ev.Message = rest
	if sl.Appname != "" {
		ev.Set("process.name", sl.Appname)
	}
	if pid, err := strconv.Atoi(sl.ProcID); err == nil {
		ev.Set("process.pid", pid)
	}
}

// parseSD parses RFC 5424 structured data elements.
func parseSD(s string) (map[string]map[string]string, string) {
	out := map[string]map[string]string{}
	for strings.HasPrefix(s, "[") {
		end := -1
		inQ := false
		for i := 1; i < len(s); i++ {
			switch {
			case s[i] == '\\' && inQ:
				i++
			case s[i] == '"':
				inQ = !inQ
			case s[i] == ']' && !inQ:
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return out, s
		}
		elem := s[1:end]
		s = s[end+1:]
		id, params, _ := strings.Cut(elem, " ")
		m := map[string]string{}
		for params != "" {
			params = strings.TrimLeft(params, " ")
			name, rest, ok := strings.Cut(params, "=\"")
			if !ok {
				break
			}
			var val strings.Builder
			i := 0
			for ; i < len(rest); i++ {
				if rest[i] == '\\' && i+1 < len(rest) && strings.IndexByte(`"\]`, rest[i+1]) >= 0 {
					val.WriteByte(rest[i+1])
					i++
					continue
				}
				if rest[i] == '"' {
					break
				}
				val.WriteByte(rest[i])
			}
			m[name] = val.String()
			if i+1 > len(rest) {
				break
			}
			params = rest[i+1:]
		}
		out[id] = m
	}
	return out, s
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

func parse3164(s string, opts StreamOptions, ev *event.Event, sl *event.Syslog) {
	rest := s
	// Timestamp: "Mmm dd hh:mm:ss" or RFC 3339.
	if len(rest) >= 15 && months[rest[:3]] != 0 && rest[3] == ' ' {
		day, _ := strconv.Atoi(strings.TrimSpace(rest[4:6]))
		t, err := time.ParseInLocation("15:04:05", rest[7:15], opts.Location)
		if err == nil && day > 0 {
			now := opts.Now().In(opts.Location)
			year := now.Year()
			ts := time.Date(year, months[rest[:3]], day, t.Hour(), t.Minute(), t.Second(), 0, opts.Location)
			if ts.Sub(now) > 31*24*time.Hour { // December record received in January
				ts = ts.AddDate(-1, 0, 0)
			}
			ev.Timestamp = ts
			rest = strings.TrimPrefix(rest[15:], " ")
		}
	} else if sp := strings.IndexByte(rest, ' '); sp > 0 {
		if t, err := time.Parse(time.RFC3339Nano, rest[:sp]); err == nil {
			ev.Timestamp = t
			rest = rest[sp+1:]
		}
	}
	// Hostname, then TAG[pid]: MSG.
	if sp := strings.IndexByte(rest, ' '); sp > 0 && !strings.ContainsAny(rest[:sp], ":[") {
		sl.Hostname = rest[:sp]
		rest = rest[sp+1:]
	}
	if colon := strings.Index(rest, ": "); colon > 0 && colon < 64 && !strings.Contains(rest[:colon], " ") {
		tag := rest[:colon]
		if lb := strings.IndexByte(tag, '['); lb > 0 && strings.HasSuffix(tag, "]") {
			sl.ProcID = tag[lb+1 : len(tag)-1]
			tag = tag[:lb]
		}
		sl.Appname = tag
		rest = rest[colon+2:]
		ev.Set("process.name", tag)
		if pid, err := strconv.Atoi(sl.ProcID); err == nil {
			ev.Set("process.pid", pid)
		}
	}
	ev.Message = rest
}

// parseCEF parses "CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension".
func parseCEF(s string, ev *event.Event) {
	var fields []string
	var cur strings.Builder
	i := len("CEF:")
	for ; i < len(s) && len(fields) < 7; i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '|' {
			fields = append(fields, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if len(fields) < 7 {
		return
	}
	ext := s[i:]
	cef := map[string]any{"version": fields[0], "device_vendor": fields[1], "device_product": fields[2],
		"device_version": fields[3], "signature_id": fields[4], "name": fields[5], "severity": fields[6]}
	for k, v := range cefExtension(ext) {
		cef[k] = v
	}
	ev.CEF = cef
	ev.Set("observer.vendor", fields[1])
	ev.Set("observer.product", fields[2])
	ev.Set("rule.id", fields[4])
	ev.Set("rule.name", fields[5])
	ev.Event.Kind = "alert"
	if n, err := strconv.Atoi(fields[6]); err == nil {
		ev.Event.Severity = n
	}
	for k, path := range map[string]string{"src": "source.ip", "dst": "destination.ip", "spt": "source.port", "dpt": "destination.port",
		"act": "event.action", "suser": "source.user.name", "duser": "user.name", "request": "url.original"} {
		if v, ok := cef[k]; ok {
			if err := ev.Set(path, v); err != nil {
				continue
			}
		}
	}
	if v, ok := cef["proto"].(string); ok {
		ev.Set("network.transport", strings.ToLower(v))
	}
}

// cefExtension splits "k=v k2=v with spaces" with \= \\ \n \r escapes.
func cefExtension(s string) map[string]string {
	out := map[string]string{}
	type kv struct{ k, v string }
	var keys []kv
	// Find key starts: a word followed by '=' not escaped, preceded by start or space.
	i := 0
	var curKey string
	var val strings.Builder
	flush := func() {
		if curKey != "" {
			keys = append(keys, kv{curKey, strings.TrimRight(val.String(), " ")})
		}
		val.Reset()
	}
	for i < len(s) {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case 'n':
				val.WriteByte('\n')
			case 'r':
				val.WriteByte('\r')
			default:
				val.WriteByte(s[i+1])
			}
			i += 2
			continue
		}
		if i == 0 || s[i-1] == ' ' {
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '.') {
				j++
			}
			if j > i && j < len(s) && s[j] == '=' {
				flush()
				curKey = s[i:j]
				i = j + 1
				continue
			}
		}
		val.WriteByte(s[i])
		i++
	}
	flush()
	for _, e := range keys {
		out[e.k] = e.v
	}
	return out
}
