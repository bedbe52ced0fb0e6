package collector

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/ingest"
	"github.com/kuzet-kz/kuzet/internal/pipeline"
)

// source is the per-source state of an input: its normalisation stream and
// the emit function that stamps, enriches and batches events.
type source struct {
	c      *Collector
	input  config.Input
	stream Stream
	emit   func(*event.Event) error
	// ctx bounds a record's wait for room in the publish queue: the
	// request's context for HTTP, the collector's intake otherwise. A source
	// lives for one connection, request, file or UDP input, so it carries
	// its caller's context as an http.Request does.
	ctx context.Context
	// markKey and markValue, when set, are written to the spool with each
	// event accepted (a file input's position).
	markKey, markValue string
}

func (c *Collector) newSource(ctx context.Context, in config.Input) (*source, error) {
	// A time without a zone is read in the device's zone (its registry
	// object's), else the input's, else the collector's.
	zone, from := in.Zone, event.ZoneInput
	if zone == "" {
		zone, from = c.cfg.Zone, event.ZoneCollector
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, err
	}
	maxRec := in.MaxRecord
	if maxRec == 0 {
		maxRec = ingest.DefaultMaxRecord
	}
	st, err := c.opts.Streams(in.Pipeline, pipeline.StreamOptions{Location: loc, ZoneSource: from,
		DeviceZone: c.deviceZone, MaxRecord: maxRec})
	if err != nil {
		return nil, err
	}
	s := &source{c: c, input: in, stream: st, ctx: ctx}
	s.emit = s.accept
	return s, nil
}

// deviceZone is the zone of the registry object an event belongs to, in
// the registry snapshot applied now; nil when none matched or it has no
// zone.
func (c *Collector) deviceZone(ev *event.Event) *time.Location { return c.matcher.Load().Zone(ev) }

// accept stamps identity, enriches and batches one normalised event.
func (s *source) accept(ev *event.Event) error {
	c := s.c
	if err := event.Stamp(ev, c.now(), c.cfg.ID, c.cfg.OISC, s.input.Name); err != nil {
		return err
	}
	c.matcher.Load().Enrich(ev)
	c.checkSkew(s.input.Name, ev)
	if ev.Kuzet.OriginalB64 != "" && !slices.Contains(ev.Tags, tagInvalidUTF8) {
		ev.Tags = append(ev.Tags, tagInvalidUTF8)
	}
	if err := ev.Validate(); err != nil {
		return &ingest.Error{Reason: ingest.ReasonInvalid, Offset: -1, Err: err}
	}
	doc, err := event.Marshal(ev)
	if err != nil {
		return &ingest.Error{Reason: ingest.ReasonInvalid, Offset: -1, Err: err}
	}
	if err := c.batch.addMarked(s.ctx, doc, s.markKey, s.markValue); err != nil {
		return err
	}
	c.m.accepted.WithLabelValues(s.input.Name, ev.Kuzet.Asset).Inc()
	if ev.Kuzet.OriginalB64 != "" {
		c.m.invalidUTF8.WithLabelValues(s.input.Name).Inc()
	}
	return nil
}

// tagInvalidUTF8 marks an event whose record was not valid UTF-8. The
// policy is the same for every input and pipeline: the record is kept, its
// invalid bytes are replaced by U+FFFD in event.original and the parsed
// fields, its exact bytes are in kuzet.original_b64, and it is counted in
// kuzet_collector_records_invalid_utf8_total.
const tagInvalidUTF8 = "invalid_utf8"

// handle normalises one record; a rejected record is counted, quarantined
// and returned as rejected. err is set only when the collector cannot take
// more (stopping).
func (s *source) handle(rec ingest.Record) (rejected *ingest.Error, err error) {
	s.c.m.received.WithLabelValues(s.input.Name).Inc()
	perr := s.stream.Push(rec, s.emit)
	if perr == nil {
		return nil, nil
	}
	var ie *ingest.Error
	if !errors.As(perr, &ie) {
		return nil, perr // batching failed: ctx ended
	}
	s.reject(rec, ie)
	return ie, nil
}

// reject counts a rejected record and keeps it as a pipeline_error event.
func (s *source) reject(rec ingest.Record, ie *ingest.Error) {
	c := s.c
	c.m.rejected.WithLabelValues(s.input.Name, ie.Reason).Inc()
	if ie.Reason == ingest.ReasonDropped {
		return
	}
	c.log.Debug("record rejected", "input", s.input.Name, "peer", rec.Peer, "reason", ie.Reason, "err", ie.Err)
	ev := quarantineEvent(rec, ie, s.input.Pipeline)
	if err := s.accept(ev); err != nil {
		c.log.Warn("quarantine event not accepted", "input", s.input.Name, "err", err)
		return
	}
	c.m.quarantined.WithLabelValues(s.input.Name, ie.Reason).Inc()
}

// quarantineMax bounds how much of a rejected record is kept.
const quarantineMax = 8 << 10

// quarantineEvent wraps a rejected record: kind pipeline_error, the reason
// in message and labels, the record (its first 8 KiB) in event.original;
// when it is not UTF-8, invalid bytes replaced there and the exact bytes
// in kuzet.original_b64.
func quarantineEvent(rec ingest.Record, ie *ingest.Error, pipelineName string) *event.Event {
	ev := pipeline.NewEvent(rec, pipelineName)
	ev.Timestamp = ev.Kuzet.ReceivedAt
	ev.Event.Kind = "pipeline_error"
	ev.Message = fmt.Sprintf("rejected by pipeline %s: %v", pipelineName, ie)
	ev.Tags = []string{"quarantine"}
	ev.Labels = map[string]string{"reject_reason": ie.Reason, "record_bytes": fmt.Sprint(len(rec.Data))}
	data := rec.Data
	valid := utf8.Valid(data)
	if len(data) > quarantineMax {
		n := quarantineMax
		for valid && n > 0 && !utf8.RuneStart(data[n]) {
			n-- // do not cut a valid record inside a character
		}
		data = data[:n]
		ev.Labels["truncated"] = "true"
	}
	if valid {
		ev.Event.Original = string(data)
	} else {
		ev.Event.Original = strings.ToValidUTF8(string(data), "\uFFFD")
		ev.Kuzet.OriginalB64 = base64.StdEncoding.EncodeToString(data)
	}
	return ev
}

// flush flushes the source's stream (records held back by a joining
// pipeline), quarantining what cannot be completed.
func (s *source) flush() {
	if err := s.stream.Flush(s.emit); err != nil {
		var ie *ingest.Error
		if errors.As(err, &ie) {
			s.c.m.rejected.WithLabelValues(s.input.Name, ie.Reason).Inc()
		}
	}
}

// setMark makes every event accepted from now on carry the spool mark
// key=value; an empty key stops marking.
func (s *source) setMark(key, value string) { s.markKey, s.markValue = key, value }

// joining reports whether the stream holds records back (auditd).
func (s *source) joining() bool {
	j, ok := s.stream.(interface{ Joining() bool })
	return ok && j.Joining()
}

// tick lets a joining stream emit the events whose linger time is over.
func (s *source) tick(now time.Time) {
	if t, ok := s.stream.(interface {
		Tick(time.Time, func(*event.Event) error) error
	}); ok {
		_ = t.Tick(now, s.emit)
	}
}

// drain emits what a joining stream still holds, as flush does, but
// without counting what it cannot complete (a file input's old behaviour).
func (s *source) drain() { _ = s.stream.Flush(s.emit) }
