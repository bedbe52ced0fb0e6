package api

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/incident"
)

// Bounds of silences.
const (
	maxSilenceBody     = 16 << 10
	maxMatchers        = 16
	maxMatcherValue    = 256
	maxSilenceDuration = 90 * 24 * time.Hour
)

var silenceStates = []string{"pending", "active", "expired"}

// matcherName is a label a matcher may test: rule_id, org, tag, or an
// entity field such as source.ip (incident.Matcher).
var matcherName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// silenceRequest is the body of POST /api/v1/silences.
type silenceRequest struct {
	Matchers []incident.Matcher `json:"matchers"`
	Reason   string             `json:"reason"`
	// StartsAt (RFC 3339) defaults to now; EndsAt (RFC 3339) or Duration
	// (a Go duration, "2h30m"), not both, is required.
	StartsAt string `json:"starts_at"`
	EndsAt   string `json:"ends_at"`
	Duration string `json:"duration"`
}

// decodeSilenceRequest decodes and checks a silence at now; the caller's
// forced matcher is added afterwards.
func decodeSilenceRequest(body []byte, now time.Time) (bus.SilenceRecord, *Error) {
	var r silenceRequest
	if err := decodeStrict(body, maxSilenceBody, &r); err != nil {
		return bus.SilenceRecord{}, err
	}
	if len(r.Matchers) == 0 || len(r.Matchers) > maxMatchers {
		return bus.SilenceRecord{}, badParam("matchers", "1 to %d matchers", maxMatchers)
	}
	for i, m := range r.Matchers {
		if len(m.Name) > 64 || !matcherName.MatchString(m.Name) {
			return bus.SilenceRecord{}, badParam("matchers", "matcher %d: %q is not a label name (rule_id, org, tag, source.ip ...)", i, truncate(m.Name, 64))
		}
		if utf8.RuneCountInString(m.Value) > maxMatcherValue {
			return bus.SilenceRecord{}, badParam("matchers", "matcher %d: a value of at most %d characters", i, maxMatcherValue)
		}
	}
	r.Reason = strings.TrimSpace(r.Reason)
	switch {
	case r.Reason == "":
		return bus.SilenceRecord{}, badParam("reason", "a silence needs a reason")
	case utf8.RuneCountInString(r.Reason) > maxReason:
		return bus.SilenceRecord{}, badParam("reason", "at most %d characters", maxReason)
	case strings.ContainsFunc(r.Reason, func(c rune) bool { return unicode.IsControl(c) && c != '\n' && c != '\t' }):
		return bus.SilenceRecord{}, badParam("reason", "control characters are not allowed")
	}
	rec := bus.SilenceRecord{Matchers: r.Matchers, Reason: r.Reason, StartsAt: now, CreatedAt: now}
	if r.StartsAt != "" {
		t, err := time.Parse(time.RFC3339Nano, r.StartsAt)
		if err != nil {
			return bus.SilenceRecord{}, badParam("starts_at", "must be an RFC 3339 time such as 2026-11-24T10:00:00Z")
		}
		if t.Before(now) {
			t = now
		}
		rec.StartsAt = t.UTC()
	}
	switch {
	case r.EndsAt != "" && r.Duration != "":
		return bus.SilenceRecord{}, badParam("ends_at", "give ends_at or duration, not both")
	case r.EndsAt != "":
		t, err := time.Parse(time.RFC3339Nano, r.EndsAt)
		if err != nil {
			return bus.SilenceRecord{}, badParam("ends_at", "must be an RFC 3339 time such as 2026-11-24T10:00:00Z")
		}
		rec.EndsAt = t.UTC()
	case r.Duration != "":
		d, err := time.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			return bus.SilenceRecord{}, badParam("duration", "must be a positive duration such as 2h or 90m")
		}
		if d > maxSilenceDuration {
			return bus.SilenceRecord{}, badParam("duration", "at most %s", maxSilenceDuration)
		}
		rec.EndsAt = rec.StartsAt.Add(d)
	default:
		return bus.SilenceRecord{}, badParam("ends_at", "a silence needs an expiry: ends_at or duration")
	}
	field := "ends_at"
	if r.Duration != "" {
		field = "duration"
	}
	if !rec.EndsAt.After(rec.StartsAt) {
		return bus.SilenceRecord{}, badParam(field, "the silence must end after it starts")
	}
	if rec.EndsAt.Sub(now) > maxSilenceDuration {
		return bus.SilenceRecord{}, badParam(field, "a silence ends within %s", maxSilenceDuration)
	}
	// Validate compiles the regexps; the id and creator are placeholders.
	probe := incident.Silence{ID: "x", Matchers: slices.Clone(rec.Matchers), Owner: "x", Reason: rec.Reason, EndsAt: rec.EndsAt}
	if err := probe.Validate(); err != nil {
		return bus.SilenceRecord{}, badParam("matchers", "%s", strings.TrimPrefix(err.Error(), "silence x: "))
	}
	return rec, nil
}

// silencer checks that p may manage silences and returns the matcher its
// silences must carry: none for an ncc-analyst, oisc = its OISC for an
// oisc-analyst; every other role is 403.
func silencer(p access.Principal) (*incident.Matcher, *Error) {
	switch p.Role {
	case access.NCCAnalyst:
		return nil, nil
	case access.OISCAnalyst:
		return &incident.Matcher{Name: "oisc", Op: incident.MatchEqual, Value: p.OISC}, nil
	}
	// Owners do not silence the monitoring of their own objects: the OISC
	// and the NCC must see what it finds (ARCHITECTURE.md, roles).
	return nil, &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not manage silences"}
}

// inScope reports whether a silence carries the forced matcher (nil: any).
func inScope(r bus.SilenceRecord, forced *incident.Matcher) bool {
	if forced == nil {
		return true
	}
	return slices.ContainsFunc(r.Matchers, func(m incident.Matcher) bool {
		return m.Name == forced.Name && m.Op == forced.Op && m.Value == forced.Value
	})
}

// silenceView is a silence as the API shows it.
type silenceView struct {
	bus.SilenceRecord
	State string `json:"state"`
}

// silences opens the silences bucket: 503 without NATS or before an ncc
// made it.
func (s *Server) silences(ctx context.Context) (*bus.SilenceKV, error) {
	if s.bus == nil {
		return nil, s.noBus()
	}
	kv, err := bus.LookupSilences(ctx, s.bus.JetStream())
	if err != nil {
		return nil, s.partitionsError(err)
	}
	return kv, nil
}

func (s *Server) noBus() *Error {
	return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "silences need NATS (nats.url), which this API is not connected to"}
}

func busUnavailable(err error) *Error {
	return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "JetStream is unavailable; retry later", Err: err}
}

// listSilences serves GET /api/v1/silences: {"silences":[...]}, newest
// first, each with its state (pending, active, expired); state filters
// (comma-separated or repeated). An oisc-analyst lists the silences of its
// OISC (the ones it may make); owners manage none.
func (s *Server) listSilences(c *fiber.Ctx) error {
	forced, perr := silencer(principal(c))
	if perr != nil {
		return perr
	}
	var states []string
	var aerr *Error
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		if aerr != nil {
			return
		}
		if string(k) != "state" {
			aerr = badParam(truncate(string(k), 40), "unknown parameter (accepted: state)")
			return
		}
		for _, st := range strings.Split(string(v), ",") {
			if st = strings.TrimSpace(st); st == "" {
				continue
			}
			if !slices.Contains(silenceStates, st) {
				aerr = badParam("state", "must be one of %s", strings.Join(silenceStates, ", "))
				return
			}
			states = append(states, st)
		}
	})
	if aerr != nil {
		return aerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	if s.bus == nil {
		return s.noBus()
	}
	var all []bus.SilenceRecord
	kv, err := bus.LookupSilences(ctx, s.bus.JetStream())
	switch {
	case errors.Is(err, bus.ErrNoPartitions): // no ncc yet: none
	case err != nil:
		return busUnavailable(err)
	default:
		if all, err = kv.List(ctx); err != nil {
			return busUnavailable(err)
		}
	}
	now := s.now()
	out := []silenceView{}
	for _, r := range all {
		st := r.State(now)
		if inScope(r, forced) && (len(states) == 0 || slices.Contains(states, st)) {
			out = append(out, silenceView{r, st})
		}
	}
	return c.JSON(fiber.Map{"silences": out})
}

// createSilence serves POST /api/v1/silences: {matchers, reason, ends_at
// or duration, starts_at?} makes a silence (the caller's forced matcher
// added), records it in the silences bucket with its creator and reason,
// and publishes it to every grouping partition; 201 with the silence. 503
// without NATS, or before an ncc has recorded its partitions.
func (s *Server) createSilence(c *fiber.Ctx) error {
	p := principal(c)
	forced, perr := silencer(p)
	if perr != nil {
		return perr
	}
	now := s.now().UTC()
	rec, derr := decodeSilenceRequest(c.Body(), now)
	if derr != nil {
		return derr
	}
	if forced != nil && !inScope(rec, forced) {
		if len(rec.Matchers) >= maxMatchers {
			return badParam("matchers", "1 to %d matchers, with the %s=%s matcher your key adds", maxMatchers-1, forced.Name, forced.Value)
		}
		rec.Matchers = append(rec.Matchers, *forced)
	}
	rec.ID, rec.CreatedBy = uuid.NewString(), p.Name
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	kv, err := s.silences(ctx)
	if err != nil {
		return err
	}
	parts, err := kv.Partitions(ctx)
	if err != nil {
		return s.partitionsError(err)
	}
	if rec, err = kv.Put(ctx, rec, 0); err != nil {
		return busUnavailable(err)
	}
	if err := bus.PublishSilence(ctx, s.bus.JetStream(), parts, rec); err != nil {
		// Not every partition may have it: expire it at once, so that
		// nothing stays half-made (if this fails too, the listed silence
		// can be expired by hand, which publishes to every partition).
		if _, xerr := s.expire(ctx, kv, parts, rec.ID, "system:api", s.now().UTC()); xerr != nil {
			s.log.Warn("silence published partly and not expired", "silence", rec.ID, "err", xerr)
		}
		return busUnavailable(err)
	}
	s.log.Info("silence created", "silence", rec.ID, "actor", p.Name, "ends_at", rec.EndsAt)
	return c.Status(fiber.StatusCreated).JSON(silenceView{rec, rec.State(s.now())})
}

func (s *Server) partitionsError(err error) error {
	if errors.Is(err, bus.ErrNoPartitions) {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Err: err,
			Message: "no ncc has started the incident stage yet; silences can be changed once one has"}
	}
	return busUnavailable(err)
}

// expireSilence serves DELETE /api/v1/silences/{id} and POST
// /api/v1/silences/{id}/expire: the silence ends now (who and when are
// recorded) on every grouping partition; a silence that ended already is
// answered as it is. A silence out of the caller's scope is 404.
func (s *Server) expireSilence(c *fiber.Ctx) error {
	p := principal(c)
	forced, perr := silencer(p)
	if perr != nil {
		return perr
	}
	if len(c.Body()) > 0 && len(strings.TrimSpace(string(c.Body()))) > 0 {
		var none struct{}
		if err := decodeStrict(c.Body(), maxSilenceBody, &none); err != nil {
			return err
		}
	}
	id := c.Params("id")
	notFound := &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such silence"}
	if _, err := uuid.Parse(id); err != nil {
		return notFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	kv, err := s.silences(ctx)
	if err != nil {
		return err
	}
	cur, err := kv.Get(ctx, id)
	if errors.Is(err, bus.ErrSilenceNotFound) || err == nil && !inScope(cur, forced) {
		return notFound
	}
	if err != nil {
		return busUnavailable(err)
	}
	parts, err := kv.Partitions(ctx)
	if err != nil {
		return s.partitionsError(err)
	}
	rec, err := s.expire(ctx, kv, parts, id, p.Name, s.now().UTC())
	if err != nil {
		return err
	}
	s.log.Info("silence expired", "silence", id, "actor", p.Name)
	return c.JSON(silenceView{rec, rec.State(s.now())})
}

// expire ends silence id at now by compare-and-set (retrying on a
// concurrent change) and publishes it to every partition. A silence that
// ended already is published again (harmless) and returned as it is.
func (s *Server) expire(ctx context.Context, kv *bus.SilenceKV, parts int, id, actor string, now time.Time) (bus.SilenceRecord, error) {
	for attempt := 0; ; attempt++ {
		cur, err := kv.Get(ctx, id)
		if err != nil {
			return bus.SilenceRecord{}, busUnavailable(err)
		}
		if cur.EndsAt.After(now) {
			cur.EndsAt, cur.ExpiredAt, cur.ExpiredBy = now, now, actor
			if cur.StartsAt.After(now) {
				cur.StartsAt = now
			}
			cur, err = kv.Put(ctx, cur, cur.Version)
			if errors.Is(err, bus.ErrRevisionConflict) && attempt < 5 {
				continue
			}
			if err != nil {
				return bus.SilenceRecord{}, busUnavailable(err)
			}
		}
		if err := bus.PublishSilence(ctx, s.bus.JetStream(), parts, cur); err != nil {
			return bus.SilenceRecord{}, busUnavailable(err)
		}
		return cur, nil
	}
}
