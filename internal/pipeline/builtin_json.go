package pipeline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

func errf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeObject(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, ingest.Errorf(ingest.ReasonInvalidUTF8, "record is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: int(dec.InputOffset()), Err: err}
	}
	if dec.More() {
		return nil, &ingest.Error{Reason: ingest.ReasonSyntax, Offset: int(dec.InputOffset()), Err: errf("data after the JSON object")}
	}
	if m == nil {
		return nil, ingest.Errorf(ingest.ReasonSyntax, "not a JSON object")
	}
	return m, nil
}

func normaliseNDJSON(rec ingest.Record, _ StreamOptions, ev *event.Event) error {
	m, err := decodeObject(rec.Data)
	if err != nil {
		return err
	}
	ev.Event.Original = string(rec.Data)
	for _, k := range []string{"@timestamp", "timestamp", "time", "ts"} {
		if s, ok := m[k].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				ev.Timestamp = t
				delete(m, k)
				break
			}
		}
	}
	for _, k := range []string{"message", "msg"} {
		if s, ok := m[k].(string); ok {
			ev.Message = s
			delete(m, k)
			break
		}
	}
	for _, k := range []string{"host", "hostname", "host.name"} {
		if s, ok := m[k].(string); ok {
			ev.Set("host.name", s)
			break
		}
	}
	ev.Fields = m
	return nil
}

// normaliseWinevent handles the evtx_dump shape (Event.System,
// Event.EventData) and the Winlogbeat shape (winlog.*).
func normaliseWinevent(rec ingest.Record, _ StreamOptions, ev *event.Event) error {
	m, err := decodeObject(rec.Data)
	if err != nil {
		return err
	}
	ev.Event.Original = string(rec.Data)
	w := map[string]any{}
	if e, ok := m["Event"].(map[string]any); ok {
		sys, _ := e["System"].(map[string]any)
		if sys == nil {
			return ingest.Errorf(ingest.ReasonBadField, "Event.System missing")
		}
		for k, v := range sys {
			switch k {
			case "Provider":
				if a := attrs(v); a != nil {
					if n, ok := a["Name"]; ok {
						w[event.WinProvider] = n
					}
					if g, ok := a["Guid"]; ok {
						w["Provider_Guid"] = g
					}
				}
			case "TimeCreated":
				if a := attrs(v); a != nil {
					if s, ok := a["SystemTime"].(string); ok {
						if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
							ev.Timestamp = t
						}
					}
				}
			case "EventID":
				if mm, ok := v.(map[string]any); ok {
					v = mm["#text"]
				}
				w[k] = num(v)
			case "Execution", "Security", "Correlation":
				if a := attrs(v); a != nil {
					for ak, av := range a {
						w[k+"_"+ak] = av
					}
				}
			default:
				if _, ok := v.(map[string]any); !ok {
					w[k] = v
				}
			}
		}
		for _, sec := range []string{"EventData", "UserData"} {
			if d, ok := e[sec].(map[string]any); ok {
				flatten(d, w)
			}
		}
	} else if wl, ok := m["winlog"].(map[string]any); ok {
		w[event.WinEventID] = num(wl["event_id"])
		w[event.WinChannel] = wl["channel"]
		w[event.WinProvider] = wl["provider_name"]
		w[event.WinComputer] = wl["computer_name"]
		if d, ok := wl["event_data"].(map[string]any); ok {
			flatten(d, w)
		}
		if s, ok := m["@timestamp"].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				ev.Timestamp = t
			}
		}
	} else {
		return ingest.Errorf(ingest.ReasonBadField, "neither an evtx_dump (Event.System) nor a Winlogbeat (winlog) event")
	}
	ev.Winlog = w
	if c, ok := w[event.WinComputer].(string); ok {
		ev.Set("host.name", c)
	}
	ev.Set("event.code", w[event.WinEventID])
	ev.Set("event.provider", w[event.WinProvider])
	for k, path := range map[string]string{"Image": "process.executable", "CommandLine": "process.command_line",
		"ParentImage": "process.parent.executable", "TargetUserName": "user.name", "IpAddress": "source.ip"} {
		if v, ok := w[k].(string); ok && v != "" && v != "-" {
			_ = ev.Set(path, v)
		}
	}
	if img, ok := w["Image"].(string); ok {
		ev.Set("process.name", img[strings.LastIndexAny(img, `\/`)+1:])
	}
	return nil
}

func attrs(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	a, _ := m["#attributes"].(map[string]any)
	return a
}

func num(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n
		}
	}
	return v
}

// flatten copies EventData children to w under their own names.
func flatten(d map[string]any, w map[string]any) {
	for k, v := range d {
		if k == "#attributes" {
			continue
		}
		if mm, ok := v.(map[string]any); ok {
			if t, ok := mm["#text"]; ok {
				w[k] = t
				continue
			}
			flatten(mm, w)
			continue
		}
		w[k] = v
	}
}
