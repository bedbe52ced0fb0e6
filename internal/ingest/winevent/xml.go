package winevent

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// maxXMLDepth bounds the nesting of an event's XML.
const maxXMLDepth = 32

// node is one XML element: its attributes, text and children in order.
type node struct {
	name     string
	attrs    []xml.Attr
	text     strings.Builder
	children []*node
}

func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// FlattenXML flattens one event in Windows' XML form, as Windows Event
// Forwarding and `wevtutil qe /f:xml` (or /f:RenderedXml) write it, to the
// same fields Flatten gives the evtx_dump JSON of the event. RenderingInfo
// children are kept as RenderingInfo_<name> (RenderingInfo_Message, ...).
func FlattenXML(s string) (Fields, time.Time, error) {
	root, err := parseXML(s)
	if err != nil {
		return nil, time.Time{}, err
	}
	if root.name != "Event" {
		return nil, time.Time{}, ingest.Errorf(ingest.ReasonBadField, "XML root element is %q, not Event", root.name)
	}
	ev := map[string]any{}
	for _, c := range root.children {
		switch c.name {
		case "System":
			sys := map[string]any{}
			for _, e := range c.children {
				sys[e.name] = systemValue(e)
			}
			ev["System"] = sys
		case "EventData":
			data := map[string]any{}
			var unnamed []any
			for _, e := range c.children {
				if name, ok := e.attr("Name"); ok && name != "" {
					data[name] = e.text.String()
					continue
				}
				if e.name == "Data" {
					unnamed = append(unnamed, e.text.String())
					continue
				}
				data[e.name] = e.text.String()
			}
			switch len(unnamed) {
			case 0:
			case 1:
				data["Data"] = unnamed[0]
			default:
				data["Data"] = unnamed
			}
			ev["EventData"] = data
		case "UserData":
			ev["UserData"] = tree(c)
		}
	}
	f, t, err := flattenEvtx(ev)
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, c := range root.children {
		if c.name != "RenderingInfo" {
			continue
		}
		for _, e := range c.children {
			if e.name == "Keywords" {
				var kw []any
				for _, k := range e.children {
					kw = append(kw, k.text.String())
				}
				f["RenderingInfo_Keywords"] = kw
				continue
			}
			f["RenderingInfo_"+e.name] = strings.TrimSpace(e.text.String())
		}
	}
	return finish(f), t, nil
}

// finish gives EventID its number, as Flatten does.
func finish(f Fields) Fields {
	if n, ok := f.EventID(); ok {
		f["EventID"] = n
	}
	return f
}

// systemValue renders a System child as evtx_dump does: its text, or
// {"#text", "#attributes"} when it has attributes.
func systemValue(e *node) any {
	text := strings.TrimSpace(e.text.String())
	if len(e.attrs) == 0 {
		return text
	}
	attrs := map[string]any{}
	for _, a := range e.attrs {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		attrs[a.Name.Local] = a.Value
	}
	m := map[string]any{"#attributes": attrs}
	if text != "" {
		m["#text"] = text
	}
	return m
}

// tree renders UserData's elements as nested maps of texts.
func tree(n *node) map[string]any {
	m := map[string]any{}
	for _, c := range n.children {
		if len(c.children) > 0 {
			m[c.name] = tree(c)
			continue
		}
		m[c.name] = c.text.String()
	}
	return m
}

// parseXML reads one element tree. Anything after the root element other
// than white space is an error, and so are DTDs (no entity expansion).
func parseXML(s string) (*node, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	dec.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(stack) > 0 && strings.Contains(err.Error(), "unexpected EOF") {
				return nil, ingest.Errorf(ingest.ReasonTruncated, "Windows event XML ends inside <%s>", stack[len(stack)-1].name)
			}
			if len(stack) > 0 || root == nil {
				return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML: %v", err)
			}
			return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML: after the Event element: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML: more than one root element")
			}
			if len(stack) >= maxXMLDepth {
				return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML nested deeper than %d", maxXMLDepth)
			}
			n := &node{name: t.Name.Local, attrs: t.Attr}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML: text outside the Event element")
			}
		case xml.Directive:
			return nil, ingest.Errorf(ingest.ReasonSyntax, "Windows event XML: directives (DTDs) are not accepted")
		}
	}
	if root == nil {
		return nil, ingest.Errorf(ingest.ReasonSyntax, "no XML element")
	}
	if len(stack) > 0 {
		return nil, ingest.Errorf(ingest.ReasonTruncated, "Windows event XML ends inside <%s>", stack[len(stack)-1].name)
	}
	return root, nil
}
