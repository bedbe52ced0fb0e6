// Package winevent flattens Windows events to the field names Sigma rules
// use: the System children (EventID, Channel, Computer, Provider_Name,
// Provider_Guid, TimeCreated_SystemTime, Execution_ProcessID, ...) and the
// EventData or UserData children under their own names (Image,
// CommandLine, TargetUserName, ...).
//
// It reads the JSON shapes real collectors produce: evtx_dump's
// (Event.System with "#attributes" and "#text", Event.EventData),
// Winlogbeat's (winlog.event_id, winlog.channel, winlog.event_data, ...) and
// NXLog's (EventID, Hostname, SourceName, Channel, ... flat), and Windows'
// own XML (FlattenXML: Windows Event Forwarding, wevtutil qe /f:xml).
// Numbers Windows renders in hex keep the form of its XML: lower-case "0x",
// no zero padding ("0x3e7", "0xc000006d"), whatever padding or case the
// exporter used, because SigmaHQ rules match that form.
//
// Flatten is pure.
package winevent

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// Fields is a flattened event.
type Fields map[string]any

// Flatten flattens a decoded event document. It returns the fields and the
// event's creation time (zero when absent).
func Flatten(doc map[string]any) (Fields, time.Time, error) {
	f, t, err := flatten(doc)
	if err == nil {
		eventIDNumber(f)
	}
	return f, t, err
}

// eventIDNumber makes EventID a number, also where an exporter wrote it as
// text.
func eventIDNumber(f Fields) {
	if s, ok := f["EventID"].(string); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			f["EventID"] = n
		}
	}
}

func flatten(doc map[string]any) (Fields, time.Time, error) {
	if ev, ok := doc["Event"].(map[string]any); ok {
		return flattenEvtx(ev)
	}
	if wl, ok := doc["winlog"].(map[string]any); ok {
		return flattenWinlogbeat(doc, wl)
	}
	if _, ok := doc["EventID"]; ok {
		// Already flat (Sigma field names, or NXLog's to_json): keep it,
		// minus metadata keys, NXLog's names renamed to Sigma's.
		nx := isNXLog(doc)
		out := Fields{}
		for k, v := range doc {
			if strings.HasPrefix(k, "_") {
				continue
			}
			if to, ok := nxlogNames[k]; ok && nx {
				k = to
			}
			out[k] = normalize(v)
		}
		t, _ := parseTime(out["TimeCreated_SystemTime"])
		return out, t, nil
	}
	return nil, time.Time{}, ingest.Errorf(ingest.ReasonBadField, "neither an evtx_dump event (Event.System), a Winlogbeat event (winlog) nor a flat one (EventID)")
}

// nxlogNames maps NXLog's im_msvistalog field names to the Sigma names of
// the same System values; EventData children keep their names in NXLog.
var nxlogNames = map[string]string{
	"Hostname": "Computer", "SourceName": "Provider_Name", "ProviderGuid": "Provider_Guid", "RecordNumber": "EventRecordID",
	"ProcessID": "Execution_ProcessID", "ThreadID": "Execution_ThreadID", "UserID": "Security_UserID", "ActivityID": "Correlation_ActivityID",
}

// isNXLog reports whether a flat event is NXLog's JSON (im_msvistalog with
// to_json): it names the provider SourceName, and carries NXLog's own
// EventReceivedTime or SourceModuleType.
func isNXLog(doc map[string]any) bool {
	_, src := doc["SourceName"]
	_, recv := doc["EventReceivedTime"]
	_, mod := doc["SourceModuleType"]
	return src && (recv || mod)
}

func flattenEvtx(ev map[string]any) (Fields, time.Time, error) {
	sys, ok := ev["System"].(map[string]any)
	if !ok {
		return nil, time.Time{}, ingest.Errorf(ingest.ReasonBadField, "Event.System missing")
	}
	data, _ := ev["EventData"].(map[string]any)
	out := make(Fields, len(sys)+len(data)+8)
	for k, v := range sys {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["#text"]; ok {
				out[k] = normalize(t)
			}
			if a, ok := x["#attributes"].(map[string]any); ok {
				for ak, av := range a {
					if k == "EventID" && ak != "Qualifiers" {
						continue
					}
					out[k+"_"+ak] = normalize(av)
				}
			}
		default:
			out[k] = normalize(v)
		}
	}
	if _, ok := out["EventID"]; !ok {
		return nil, time.Time{}, ingest.Errorf(ingest.ReasonBadField, "Event.System.EventID missing")
	}
	for _, sec := range []string{"EventData", "UserData"} {
		switch d := ev[sec].(type) {
		case map[string]any:
			flattenData(d, out)
		case nil:
		default:
			out[sec] = normalize(d)
		}
	}
	t, _ := parseTime(out["TimeCreated_SystemTime"])
	return out, t, nil
}

// flattenData copies data children to out under their names; nested
// elements (UserData's wrapper element) are descended into.
func flattenData(d map[string]any, out Fields) {
	for k, v := range d {
		if k == "#attributes" {
			continue
		}
		flattenDatum(k, v, out)
	}
}

// flattenDatum copies one data child to out.
func flattenDatum(k string, v any, out Fields) {
	// Names with spaces ("Product Name" in Defender events) lose them,
	// as in SigmaHQ's field names ("ProductName").
	if strings.IndexByte(k, ' ') >= 0 {
		k = strings.ReplaceAll(k, " ", "")
	}
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["#text"]; ok {
			out[k] = normalize(t)
			return
		}
		flattenData(x, out)
	default:
		out[k] = normalize(v)
	}
}

func flattenWinlogbeat(doc, wl map[string]any) (Fields, time.Time, error) {
	out := Fields{}
	id, ok := wl["event_id"]
	if !ok {
		return nil, time.Time{}, ingest.Errorf(ingest.ReasonBadField, "winlog.event_id missing")
	}
	out["EventID"] = normalize(id)
	for src, dst := range map[string]string{
		"channel": "Channel", "computer_name": "Computer", "provider_name": "Provider_Name", "provider_guid": "Provider_Guid",
		"record_id": "EventRecordID", "version": "Version", "opcode": "Opcode", "task": "Task", "keywords": "Keywords",
		"activity_id": "Correlation_ActivityID",
	} {
		if v, ok := wl[src]; ok {
			out[dst] = normalize(v)
		}
	}
	if p, ok := wl["process"].(map[string]any); ok {
		out["Execution_ProcessID"] = normalize(p["pid"])
		if th, ok := p["thread"].(map[string]any); ok {
			out["Execution_ThreadID"] = normalize(th["id"])
		}
	}
	if u, ok := wl["user"].(map[string]any); ok {
		out["Security_UserID"] = u["identifier"]
	}
	for _, sec := range []string{"event_data", "user_data"} {
		if d, ok := wl[sec].(map[string]any); ok {
			flattenData(d, out)
		}
	}
	var t time.Time
	if s, ok := wl["time_created"].(string); ok {
		t, _ = time.Parse(time.RFC3339Nano, s)
		out["TimeCreated_SystemTime"] = s
	}
	if s, ok := doc["@timestamp"].(string); ok && t.IsZero() {
		t, _ = time.Parse(time.RFC3339Nano, s)
		out["TimeCreated_SystemTime"] = s
	}
	return out, t, nil
}

// normalize turns JSON numbers into int64 (or float64) and hex strings into
// Windows' XML form.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		return jsonl.Number(x)
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case string:
		if h := hex(x); h != x {
			return h
		}
		return v // the same string: no new interface value
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	}
	return v
}

// hex rewrites "0x000003E7" as "0x3e7"; other strings are returned as they
// are.
func hex(s string) string {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || len(s) > 34 {
		return s
	}
	digits := s[2:]
	lower := true
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			lower = false
		default:
			return s
		}
	}
	trimmed := strings.TrimLeft(digits, "0")
	if trimmed == "" {
		trimmed = "0"
	}
	if lower && s[1] == 'x' && len(trimmed) == len(digits) {
		return s
	}
	return "0x" + strings.ToLower(trimmed)
}

func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// EventID returns the event's numeric id, if it has one.
func (f Fields) EventID() (int64, bool) {
	switch v := f["EventID"].(type) {
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}
