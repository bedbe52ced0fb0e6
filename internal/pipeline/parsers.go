package pipeline

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/auditd"
	"github.com/kuzet-kz/kuzet/internal/ingest/box"
	"github.com/kuzet-kz/kuzet/internal/ingest/cef"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
	"github.com/kuzet-kz/kuzet/internal/ingest/kv"
	"github.com/kuzet-kz/kuzet/internal/ingest/leef"
	"github.com/kuzet-kz/kuzet/internal/ingest/syslog"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
)

// parse runs the spec's parser: it fills raw fields, and the event fields
// every record of the format has (times, host, syslog header, ...).
func parse(spec *Spec, rec ingest.Record, st *state, joined *auditd.Event) error {
	ev := st.ev
	switch spec.Parser {
	case "auditd":
		return parseAuditd(joined, st)
	case "json", "winevent":
		if spec.Parser == "winevent" && isXML(rec.Data) {
			// Windows' XML form (Windows Event Forwarding, wevtutil).
			orig, valid := textOf(rec.Data)
			if !valid {
				ev.Kuzet.OriginalB64 = b64(rec.Data)
			}
			ev.Event.Original = orig
			f, t, err := winevent.FlattenXML(orig)
			if err != nil {
				return err
			}
			st.raw = f
			if !t.IsZero() {
				st.setTime("@timestamp", t)
			}
			return nil
		}
		if spec.From == "" {
			// One copy of the record: the original, and the decoded
			// strings are its substrings. Invalid UTF-8 is replaced (it can
			// only be inside strings in valid JSON) and the exact bytes
			// kept in kuzet.original_b64, as for text formats.
			orig, valid := textOf(rec.Data)
			if !valid {
				ev.Kuzet.OriginalB64 = b64(rec.Data)
			}
			if spec.Parser == "winevent" {
				// evtx_dump's documents in one pass; any other shape, and
				// any error, by decoding then flattening.
				if f, t, ok := winevent.FlattenEvtxJSON(orig); ok {
					ev.Event.Original = orig
					st.raw = f
					if !t.IsZero() {
						st.setTime("@timestamp", t)
					}
					return nil
				}
			}
			obj, err := jsonl.DecodeValidString(orig)
			if err != nil {
				return err
			}
			ev.Event.Original = orig
			if spec.Parser == "winevent" {
				return parseWinevent(obj, st)
			}
			st.raw = obj
			return nil
		}
	}
	// Text formats: legacy devices send other encodings; keep the exact
	// bytes in kuzet.original_b64 and go on with the text.
	st.raw = make(map[string]any, max(16, st.rawHint))
	s, valid := textOf(rec.Data)
	if !valid {
		ev.Kuzet.OriginalB64 = b64(rec.Data)
	}
	ev.Event.Original = s
	body := s
	switch spec.Parser {
	case "syslog":
		_, err := parseSyslog([]byte(s), st)
		return err
	case "cef":
		if !strings.HasPrefix(s, "CEF:") {
			// Inside syslog: the header is syslog's, the message the record.
			msg, err := parseSyslog([]byte(s), st)
			if err != nil {
				return err
			}
			s = msg
			ev.Message = ""
		}
		i := cef.Index(s)
		if i < 0 {
			return ingest.Errorf(ingest.ReasonSyntax, "no CEF record")
		}
		r, err := cef.Parse(s[i:])
		if err != nil {
			return err
		}
		// Header fields under CEF's own names. The values are boxed
		// in place (internal/ingest/box): r and its pairs are not
		// changed again.
		st.raw["cefVersion"] = box.String(&r.Version)
		st.raw["deviceVendor"] = box.String(&r.DeviceVendor)
		st.raw["deviceProduct"] = box.String(&r.DeviceProduct)
		st.raw["deviceVersion"] = box.String(&r.DeviceVersion)
		st.raw["deviceEventClassId"] = box.String(&r.SignatureID)
		st.raw["name"] = box.String(&r.Name)
		st.raw["severity"] = box.String(&r.Severity)
		setPairs(st.raw, r.Extension)
		if n := r.SeverityNumber(); n >= 0 {
			ev.Event.Severity = n
		}
		return nil
	case "leef":
		if !strings.HasPrefix(s, "LEEF:") {
			msg, err := parseSyslog([]byte(s), st)
			if err != nil {
				return err
			}
			s = msg
			ev.Message = ""
		}
		i := leef.Index(s)
		if i < 0 {
			return ingest.Errorf(ingest.ReasonSyntax, "no LEEF record")
		}
		r, err := leef.Parse(s[i:])
		if err != nil {
			return err
		}
		st.raw["leefVersion"] = box.String(&r.Version)
		st.raw["vendor"] = box.String(&r.Vendor)
		st.raw["product"] = box.String(&r.Product)
		st.raw["version"] = box.String(&r.ProdVer)
		st.raw["eventId"] = box.String(&r.EventID)
		setPairs(st.raw, r.Attrs)
		if t, local, ok := r.DevTime(st.opts.Location); ok {
			st.setParsedTime("@timestamp", t, local)
		}
		return nil
	}
	if spec.From == "syslog" {
		msg, err := parseSyslog([]byte(s), st)
		if err != nil {
			return err
		}
		body = msg
	}
	switch spec.Parser {
	case "kv":
		o := kv.Options{Separator: spec.Options.Separator, Delimiter: spec.Options.Delimiter}
		if spec.Options.Quote != "" {
			o.Quote = rune(spec.Options.Quote[0])
		}
		pairs, _, err := kv.Split(body, o)
		if err != nil {
			return err
		}
		if len(pairs) == 0 {
			return ingest.Errorf(ingest.ReasonSyntax, "no key=value pairs")
		}
		setPairs(st.raw, pairs)
	case "json":
		// body is valid UTF-8 (textOf).
		obj, err := jsonl.DecodeValidString(strings.TrimSpace(body))
		if err != nil {
			return err
		}
		for k, v := range obj {
			st.raw[k] = v
		}
	case "regex":
		re := compiled(spec.Options.Pattern)
		m := re.FindStringSubmatch(body)
		if m == nil {
			return ingest.Errorf(ingest.ReasonSyntax, "the record does not match the pipeline's pattern")
		}
		for i, name := range re.re.SubexpNames() {
			if name != "" && m[i] != "" {
				st.raw[name] = m[i]
			}
		}
	case "line":
		st.raw["message"] = body
		if ev.Message == "" {
			ev.Message = body
		}
	}
	return nil
}

// parseSyslog parses a syslog header into the event's log.syslog fields,
// @timestamp, host.name, process.name and process.pid, the raw fields
// syslog.* and message, and returns the message.
func parseSyslog(data []byte, st *state) (string, error) {
	m, err := syslog.Parse(data, syslog.Options{Location: st.opts.Location, Now: st.opts.Now()})
	if err != nil {
		return "", err
	}
	ev := st.ev
	// The header's parts of the event in one allocation.
	parts := &struct {
		log      event.Log
		sl       event.Syslog
		fac, sev event.SyslogCode
		pri      int
	}{}
	if ev.Log == nil {
		ev.Log = &parts.log
	}
	sl := &parts.sl
	*sl = event.Syslog{Hostname: m.Hostname, Appname: m.AppName, ProcID: m.ProcID, MsgID: m.MsgID}
	if m.Priority >= 0 {
		parts.pri = m.Priority
		sl.Priority = &parts.pri
		parts.fac = event.SyslogCode{Code: m.Facility(), Name: syslog.FacilityNames[m.Facility()]}
		parts.sev = event.SyslogCode{Code: m.Severity(), Name: syslog.SeverityNames[m.Severity()]}
		sl.Facility, sl.Severity = &parts.fac, &parts.sev
		ev.Log.Level = syslog.SeverityNames[m.Severity()]
		ev.Event.Severity = m.Severity()
	}
	if m.Format == syslog.RFC5424 {
		sl.Version = strconv.Itoa(m.Version)
	}
	if len(m.SD) > 0 {
		sl.StructuredData = map[string]map[string]string{}
		for _, el := range m.SD {
			params := map[string]string{}
			for _, p := range el.Params {
				params[p.Name] = p.Value
				st.raw["sd."+el.ID+"."+p.Name] = p.Value
			}
			sl.StructuredData[el.ID] = params
		}
	}
	ev.Log.Syslog = sl
	if !m.Timestamp.IsZero() {
		st.setParsedTime("@timestamp", m.Timestamp, m.LocalTime)
	}
	if m.Hostname != "" {
		st.setTarget(syslogTargets.hostName, m.Hostname)
		st.setTarget(syslogTargets.hostHostname, m.Hostname)
	}
	if m.AppName != "" {
		st.setTarget(syslogTargets.processName, m.AppName)
	}
	// Most records have no PROCID; Atoi's error for "" allocates.
	if m.ProcID != "" {
		if pid, err := strconv.Atoi(m.ProcID); err == nil && pid > 0 {
			st.setTarget(syslogTargets.processPID, pid)
		}
	}
	for _, f := range [...]struct{ k, v string }{{"syslog.hostname", m.Hostname}, {"syslog.appname", m.AppName},
		{"syslog.procid", m.ProcID}, {"syslog.msgid", m.MsgID}, {"syslog.sequence", m.Sequence}} {
		if f.v != "" {
			st.raw[f.k] = f.v
		}
	}
	st.raw["message"] = m.Msg
	ev.Message = m.Msg
	return m.Msg, nil
}

// setPairs sets a raw field for each pair, in order (a later pair of a key
// wins). The values are boxed in place (internal/ingest/box): the pairs
// must not change afterwards.
func setPairs(raw map[string]any, pairs kv.Pairs) {
	for i := range pairs {
		raw[pairs[i].Key] = box.String(&pairs[i].Value)
	}
}

// syslogTargets are the event fields parseSyslog writes, resolved once.
var syslogTargets = struct{ hostName, hostHostname, processName, processPID *writeTarget }{
	newTarget("host.name"), newTarget("host.hostname"), newTarget("process.name"), newTarget("process.pid"),
}

// isXML reports whether a record starts, after white space, with "<".
func isXML(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '<'
	}
	return false
}

func parseWinevent(obj map[string]any, st *state) error {
	f, t, err := winevent.Flatten(obj)
	if err != nil {
		return err
	}
	st.raw = f
	if !t.IsZero() {
		st.setTime("@timestamp", t)
	}
	return nil
}

func parseAuditd(e *auditd.Event, st *state) error {
	if e == nil {
		return ingest.Errorf(ingest.ReasonPipeline, "auditd pipeline without a joined event")
	}
	// The joined event's map becomes the raw fields: nothing else uses it
	// once the event is complete.
	st.raw = e.Fields
	if st.raw == nil {
		st.raw = make(map[string]any, 3)
	}
	st.raw["type"] = e.Types
	st.raw["serial"] = strconv.FormatUint(e.Serial, 10)
	if e.Node != "" {
		st.raw["node"] = e.Node
	}
	st.setTime("@timestamp", e.Time)
	// e.Raw holds the lines as received; invalid UTF-8 is replaced in the
	// original and the exact bytes kept in kuzet.original_b64.
	orig := strings.Join(e.Raw, "\n")
	if !utf8.ValidString(orig) {
		st.ev.Kuzet.OriginalB64 = b64([]byte(orig))
		orig = strings.ToValidUTF8(orig, "\uFFFD")
	}
	st.ev.Event.Original = orig
	return nil
}
