// Package pipeline runs kuzet's normalisation pipelines: it turns raw
// records into normalised events (internal/event).
//
// This is the foundation's built-in set: syslog (RFC 3164 and RFC 5424, with
// CEF payloads), winevent (Windows events as evtx_dump or Winlogbeat JSON)
// and ndjson (generic JSON objects). Declarative pipelines in pipelines/
// replace and extend it.
package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
)

// normaliser fills ev from one record.
type normaliser func(rec ingest.Record, opts StreamOptions, ev *event.Event) error

// Set is a set of pipelines by name. Safe for concurrent use.
type Set struct {
	byName map[string]normaliser
}

// Default returns the built-in pipelines.
func Default() (*Set, error) {
	return &Set{byName: map[string]normaliser{
		"syslog":   normaliseSyslog,
		"winevent": normaliseWinevent,
		"ndjson":   normaliseNDJSON,
	}}, nil
}

// Names lists the pipelines.
func (s *Set) Names() []string {
	var out []string
	for n := range s.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// StreamOptions configure a stream.
type StreamOptions struct {
	// Location resolves timestamps without a zone.
	Location *time.Location
	// Now is the clock for year inference; default time.Now.
	Now func() time.Time
	// MaxRecord is the largest record accepted.
	MaxRecord int
}

// Stream normalises the records of one source.
type Stream struct {
	name string
	n    normaliser
	opts StreamOptions
}

// NewStream returns a stream of the named pipeline.
func (s *Set) NewStream(name string, opts StreamOptions) (*Stream, error) {
	n, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("pipeline: unknown pipeline %q (have %v)", name, s.Names())
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = ingest.DefaultMaxRecord
	}
	return &Stream{name: name, n: n, opts: opts}, nil
}

// Push normalises one record and emits its event. A rejected record
// returns an *ingest.Error.
func (st *Stream) Push(rec ingest.Record, emit func(*event.Event) error) error {
	if len(rec.Data) == 0 {
		return ingest.Errorf(ingest.ReasonEmpty, "empty record")
	}
	if len(rec.Data) > st.opts.MaxRecord {
		return ingest.Errorf(ingest.ReasonOversize, "record of %d bytes over the limit of %d", len(rec.Data), st.opts.MaxRecord)
	}
	ev := &event.Event{}
	ev.Kuzet.ReceivedAt = rec.ReceivedAt.UTC()
	ev.Kuzet.SourceType = st.name
	ev.Kuzet.Input = rec.Input
	ev.Kuzet.Asset = event.AssetUnknown
	if rec.Peer != "" {
		ev.Log = &event.Log{Source: &event.LogSource{Address: rec.Peer}}
	}
	if rec.File != "" {
		if ev.Log == nil {
			ev.Log = &event.Log{}
		}
		ev.Log.File = &event.LogFile{Path: rec.File}
	}
	if err := st.n(rec, st.opts, ev); err != nil {
		return err
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = ev.Kuzet.ReceivedAt
	}
	ev.Timestamp = ev.Timestamp.UTC()
	if ev.Event.Kind == "" {
		ev.Event.Kind = "event"
	}
	return emit(ev)
}

// Flush emits records held back; the built-in pipelines hold none.
func (st *Stream) Flush(func(*event.Event) error) error { return nil }
