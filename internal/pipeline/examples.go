package pipeline

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// exampleTime is the receive time of example records: year-less dates
// resolve against it, and events without a time get it.
var exampleTime = time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)

// RunExamples runs the tests written in a pipeline's YAML and returns one
// line per failure (empty when every example passes).
func (s *Set) RunExamples(name string) []string {
	spec := s.specs[name]
	if spec == nil {
		return []string{fmt.Sprintf("no pipeline %q", name)}
	}
	var fails []string
	for i, ex := range spec.Tests {
		label := fmt.Sprintf("%s: tests[%d]", spec.file, i)
		if ex.Name != "" {
			label += " (" + ex.Name + ")"
		}
		ev, err := s.runOne(name, []byte(ex.Input))
		switch {
		case ex.Reject != "":
			if err == nil {
				fails = append(fails, fmt.Sprintf("%s: accepted, want rejection %q", label, ex.Reject))
			} else if r := ingest.ReasonOf(err); r != ex.Reject {
				fails = append(fails, fmt.Sprintf("%s: rejected as %s (%v), want %s", label, r, err, ex.Reject))
			}
			continue
		case err != nil:
			fails = append(fails, fmt.Sprintf("%s: rejected: %v", label, err))
			continue
		}
		doc := flat(ev)
		keys := make([]string, 0, len(ex.Expect))
		for k := range ex.Expect {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			got, ok := lookup(doc, k)
			if !ok {
				fails = append(fails, fmt.Sprintf("%s: %s missing, want %q", label, k, ex.Expect[k]))
			} else if got != ex.Expect[k] {
				fails = append(fails, fmt.Sprintf("%s: %s = %q, want %q", label, k, got, ex.Expect[k]))
			}
		}
		for _, k := range ex.Absent {
			if got, ok := lookup(doc, k); ok {
				fails = append(fails, fmt.Sprintf("%s: %s = %q, want it absent", label, k, got))
			}
		}
	}
	return fails
}

// runOne normalises one record with the named pipeline, received at
// exampleTime in UTC, flushing a joining pipeline.
func (s *Set) runOne(name string, data []byte) (*event.Event, error) {
	st, err := s.NewStream(name, StreamOptions{Now: func() time.Time { return exampleTime }, MaxRecord: 1 << 20})
	if err != nil {
		return nil, err
	}
	var got *event.Event
	emit := func(ev *event.Event) error { got = ev; return nil }
	if err := st.Push(ingest.Record{Data: data, Input: "example", ReceivedAt: exampleTime}, emit); err != nil {
		return nil, err
	}
	if err := st.Flush(emit); err != nil {
		return nil, err
	}
	if got == nil {
		return nil, ingest.Errorf(ingest.ReasonPipeline, "no event")
	}
	return got, nil
}

// flat returns an event's JSON form as nested maps.
func flat(ev *event.Event) map[string]any {
	data, _ := event.Marshal(ev)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

// lookup resolves a dotted path in a JSON document, also through keys that
// contain dots ("zeek.id.orig_h"), and returns the value as text (lists
// joined by commas, objects as JSON).
func lookup(doc map[string]any, path string) (string, bool) {
	var cur any = doc
	parts := strings.Split(path, ".")
	for i := 0; i < len(parts); {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		found := false
		for j := len(parts); j > i; j-- {
			if v, ok := m[strings.Join(parts[i:j], ".")]; ok {
				cur, i, found = v, j, true
				break
			}
		}
		if !found {
			return "", false
		}
	}
	if l, ok := cur.([]any); ok {
		s := make([]string, len(l))
		for i, e := range l {
			s[i] = text(e)
		}
		return strings.Join(s, ","), true
	}
	return text(cur), true
}
