package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/demo"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// docs are marshalled events: the full event, a minimal one, and the
// demo feed's events through the real pipelines.
func docs(tb testing.TB) [][]byte {
	tb.Helper()
	full, err := event.Marshal(fullEvent(tb))
	if err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{full}
	set, err := pipeline.Default()
	if err != nil {
		tb.Fatal(err)
	}
	gen := demo.NewGenerator(11, nil)
	streams := map[string]*pipeline.Stream{}
	for range 40 {
		r := gen.Next()
		if streams[r.Input] == nil {
			streams[r.Input], _ = set.NewStream(r.Input, pipeline.StreamOptions{})
		}
		err := streams[r.Input].Push(ingest.Record{Data: r.Data, ReceivedAt: time.Now()}, func(ev *event.Event) error {
			if err := event.Stamp(ev, time.Now(), "c1", r.OISC, r.Input); err != nil {
				return err
			}
			doc, err := event.Marshal(ev)
			out = append(out, doc)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// checkFromDoc: where FromDoc takes a document, it agrees with Unmarshal.
// It reports whether FromDoc took it.
func checkFromDoc(t *testing.T, data []byte) bool {
	t.Helper()
	var want event.Event
	if event.Unmarshal(data, &want) != nil || hasDuplicateKeys(data) {
		return false
	}
	doc, err := jsonl.Decode(data)
	if err != nil {
		return false
	}
	got, ok := event.FromDoc(doc)
	if !ok {
		return false
	}
	for _, ns := range event.Namespaces {
		// encoding/json decodes every number in a map[string]any as float64.
		if m := got.Namespace(ns); m != nil {
			floats(m)
		}
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("%s\nFromDoc   %+v\nUnmarshal %+v", data, *got, want)
	}
	return true
}

func floats(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = floats(e)
		}
	case []any:
		for i := range x {
			x[i] = floats(x[i])
		}
	}
	return v
}

// hasDuplicateKeys reports whether an object in data repeats a key:
// encoding/json merges repeated objects, decoders into maps keep the last.
func hasDuplicateKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				if seen[k.(string)] {
					return true
				}
				seen[k.(string)] = true
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			_, _ = dec.Token()
		}
		return false
	}
	for {
		if walk() {
			return true
		}
		if _, err := dec.Token(); errors.Is(err, io.EOF) || err != nil {
			return false
		}
	}
}

func TestFromDocAgreesWithUnmarshal(t *testing.T) {
	taken := 0
	all := docs(t)
	for _, d := range all {
		if checkFromDoc(t, d) {
			taken++
		}
	}
	// Everything Marshal writes is taken, not left to the fallback.
	if taken != len(all) {
		t.Fatalf("FromDoc took %d of %d marshalled events", taken, len(all))
	}
	for _, d := range []string{
		`{"kuzet":{"event_id":1}}`, `{"source":{}}`, `{"source":{"ip":null}}`, `{"Message":"x"}`, `{"labels":{}}`,
		`{"event":{"severity":1.5}}`, `{"tags":["a",1]}`, `{"@timestamp":"yesterday"}`, `{"winlog":[]}`, `{"nope":1}`,
		`{"kuzet":{"object_tags":"scada"}}`, `{"kuzet":{"object_tags":["scada",1]}}`, `{"kuzet":{"object_tags":null}}`,
	} {
		doc, err := jsonl.Decode([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := event.FromDoc(doc); ok {
			t.Errorf("%s: taken; Unmarshal would differ or fail", d)
		}
	}
}

func FuzzFromDoc(f *testing.F) {
	for _, d := range docs(f) {
		f.Add(d)
	}
	f.Add([]byte(`{"event":{},"dns":{"question":{}},"log":{"syslog":{"structured_data":{"a@1":{"k":"v"}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFromDoc(t, data)
	})
}
