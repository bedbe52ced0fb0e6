package winevent

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
)

// errShape stops FlattenEvtxJSON at a document it leaves to Flatten.
var errShape = errors.New("not the plain evtx_dump shape")

// FlattenEvtxJSON is Flatten for an evtx_dump document given as JSON text
// (valid UTF-8), read in one pass without the maps of its objects. It
// takes the shape evtx_dump writes: one Event object whose System comes
// before EventData and UserData, no key twice in Event, System or
// EventData. For any other document, and for invalid JSON, ok is false
// and nothing is returned: the caller decodes the document and calls
// Flatten, which gives the same fields for the documents this reads.
func FlattenEvtxJSON(s string) (f Fields, t time.Time, ok bool) {
	r := readers.Get().(*evtxReader)
	r.dec = *jsonl.NewValidDecoder(s)
	r.d = &r.dec
	out, err := r.document()
	if err == nil {
		err = r.d.End()
	}
	r.reset()
	readers.Put(r)
	if err != nil {
		return nil, time.Time{}, false
	}
	if _, ok := out["EventID"]; !ok {
		return nil, time.Time{}, false
	}
	t, _ = parseTime(out["TimeCreated_SystemTime"])
	eventIDNumber(out)
	return out, t, true
}

// readers keeps evtxReaders, and the memory of their key lists, between
// documents.
var readers = sync.Pool{New: func() any { return new(evtxReader) }}

type evtxReader struct {
	d   *jsonl.Decoder
	dec jsonl.Decoder
	// seen holds the keys of the object being read (System, EventData).
	seen []string
	// attrs holds a System element's #attributes.
	attrs []attr
}

// reset drops the reader's references into the document it read.
func (r *evtxReader) reset() {
	clear(r.seen)
	clear(r.attrs)
	r.seen, r.attrs = r.seen[:0], r.attrs[:0]
	r.dec, r.d = jsonl.Decoder{}, nil
}

type attr struct {
	k string
	v any
}

func (r *evtxReader) document() (Fields, error) {
	d := r.d
	if err := d.Open(); err != nil {
		return nil, err
	}
	var out Fields
	for {
		k, more, err := d.Key()
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if k != "Event" {
			if _, err := d.Value(); err != nil {
				return nil, err
			}
			continue
		}
		if out != nil || d.Peek() != '{' {
			return nil, errShape
		}
		out = make(Fields, 40)
		if err := r.event(out); err != nil {
			return nil, err
		}
	}
	if out == nil {
		return nil, errShape
	}
	return out, nil
}

// event reads the Event object as flattenEvtx reads its map.
func (r *evtxReader) event(out Fields) error {
	d := r.d
	if err := d.Open(); err != nil {
		return err
	}
	var sys, data, user bool
	for {
		key, more, err := d.Key()
		if err != nil || !more {
			if err == nil && !sys {
				err = errShape
			}
			return err
		}
		switch key {
		case "System":
			if sys || data || user || d.Peek() != '{' {
				return errShape
			}
			sys = true
			if err := r.system(out); err != nil {
				return err
			}
			continue
		case "EventData", "UserData":
			if !sys || user || (key == "EventData" && data) {
				return errShape
			}
			user = key == "UserData"
			data = true
			if key == "EventData" && d.Peek() == '{' {
				if err := r.eventData(out); err != nil {
					return err
				}
				continue
			}
			v, err := d.Value()
			if err != nil {
				return err
			}
			switch x := v.(type) {
			case map[string]any:
				flattenData(x, out)
			case nil:
			default:
				out[key] = normalize(x)
			}
			continue
		}
		if _, err := d.Value(); err != nil {
			return err
		}
	}
}

func (r *evtxReader) system(out Fields) error {
	return r.eachKey(func(k string) error {
		if err := r.once(k); err != nil {
			return err
		}
		return r.systemChild(k, out)
	})
}

// eachKey reads the object that comes next, calling f at each key (f
// reads or skips its value), with r.seen emptied for once.
func (r *evtxReader) eachKey(f func(k string) error) error {
	r.seen = r.seen[:0]
	if err := r.d.Open(); err != nil {
		return err
	}
	for {
		k, more, err := r.d.Key()
		if err != nil || !more {
			return err
		}
		if err := f(k); err != nil {
			return err
		}
	}
}

// once records a name of the object being read; a name seen before is
// errShape (Flatten keeps one of the two, in map order).
func (r *evtxReader) once(name string) error {
	if slices.Contains(r.seen, name) {
		return errShape
	}
	r.seen = append(r.seen, name)
	return nil
}

// systemChild reads one child of System as flattenEvtx does: an element
// with "#text" and "#attributes", or a value.
func (r *evtxReader) systemChild(k string, out Fields) error {
	d := r.d
	if d.Peek() != '{' {
		v, err := d.Value()
		if err != nil {
			return err
		}
		return r.put(out, k, normalize(v))
	}
	if err := d.Open(); err != nil {
		return err
	}
	var text any
	var hasText, hasAttrs bool
	for {
		ck, more, err := d.Key()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch ck {
		case "#text":
			if text, err = d.Value(); err != nil {
				return err
			}
			hasText = true
		case "#attributes":
			// The last #attributes counts, as in a map.
			r.attrs, hasAttrs = r.attrs[:0], d.Peek() == '{'
			if !hasAttrs {
				if _, err := d.Value(); err != nil {
					return err
				}
				continue
			}
			if err := d.Open(); err != nil {
				return err
			}
			for {
				ak, more, err := d.Key()
				if err != nil {
					return err
				}
				if !more {
					break
				}
				v, err := d.Value()
				if err != nil {
					return err
				}
				r.attrs = append(r.attrs, attr{ak, v})
			}
		default:
			if _, err := d.Value(); err != nil {
				return err
			}
		}
	}
	if hasText {
		if err := r.put(out, k, normalize(text)); err != nil {
			return err
		}
	}
	if hasAttrs {
		for _, a := range r.attrs {
			if k == "EventID" && a.k != "Qualifiers" {
				continue
			}
			if err := r.put(out, attrName(k, a.k), normalize(a.v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// attrName is k+"_"+attr, without a new string for the attributes of
// System children evtx_dump writes.
func attrName(k, attr string) string {
	switch k + "_" + attr {
	case "Provider_Name":
		return "Provider_Name"
	case "Provider_Guid":
		return "Provider_Guid"
	case "Provider_EventSourceName":
		return "Provider_EventSourceName"
	case "TimeCreated_SystemTime":
		return "TimeCreated_SystemTime"
	case "Execution_ProcessID":
		return "Execution_ProcessID"
	case "Execution_ThreadID":
		return "Execution_ThreadID"
	case "Security_UserID":
		return "Security_UserID"
	case "Correlation_ActivityID":
		return "Correlation_ActivityID"
	case "Correlation_RelatedActivityID":
		return "Correlation_RelatedActivityID"
	case "EventID_Qualifiers":
		return "EventID_Qualifiers"
	}
	return k + "_" + attr
}

// put stores a System field. Two children that make the same name
// ("Provider_Name" and Provider's Name attribute) are Flatten's: it takes
// them in map order.
func (r *evtxReader) put(out Fields, k string, v any) error {
	// A duplicate replaces the first value, but the document is then
	// left to Flatten and out dropped.
	n := len(out)
	if out[k] = v; len(out) == n {
		return errShape
	}
	return nil
}

// eventData reads EventData as flattenData reads its map.
func (r *evtxReader) eventData(out Fields) error {
	return r.eachKey(func(k string) error {
		// Names lose their spaces (flattenDatum); two that become one
		// are Flatten's, which takes them in map order.
		name := k
		if strings.IndexByte(k, ' ') >= 0 {
			name = strings.ReplaceAll(k, " ", "")
		}
		if err := r.once(name); err != nil {
			return err
		}
		v, err := r.d.Value()
		if err != nil {
			return err
		}
		if k == "#attributes" {
			return nil
		}
		if m, ok := v.(map[string]any); ok {
			// A nested element without text spreads its children among
			// the others, in map order: Flatten's.
			if _, ok := m["#text"]; !ok {
				return errShape
			}
		}
		flattenDatum(k, v, out)
		return nil
	})
}
