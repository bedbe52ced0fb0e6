package api

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// Limits on event queries.
const (
	defaultLimit = 100
	maxText      = 256
	maxListItems = 64
)

var (
	eventParams = []string{"from", "to", "sector", "org", "object", "oisc", "q", "limit", "cursor"}
	alertParams = []string{"from", "to", "sector", "org", "object", "oisc", "level", "rule_id", "triage", "limit", "cursor"}
)

var levels = []string{"informational", "low", "medium", "high", "critical"}

// listAlerts serves GET /api/v1/alerts: the parameters of events (without
// q) and level, rule_id, triage (statuses; a share no one triaged is new).
// Roles that read events read alerts, scoped alike; each alert carries its
// share's triage.
func (s *Server) listAlerts(c *fiber.Ctx) error {
	p := principal(c)
	if !p.ReadsEvents() {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not read alerts"}
	}
	if err := amberReader(p); err != nil {
		return err
	}
	eq, err := s.parseQuery(c, alertParams)
	if err != nil {
		return err
	}
	args := c.Context().QueryArgs()
	q := store.AlertQuery{From: eq.From, To: eq.To, Sectors: eq.Sectors, Orgs: eq.Orgs, Objects: eq.Objects, OISCs: eq.OISCs,
		Limit: eq.Limit, Cursor: eq.Cursor, Scope: p.EventScope()}
	for _, v := range queryValues(c, "level") {
		if !slices.Contains(levels, v) {
			return badParam("level", "must be one of %s", strings.Join(levels, ", "))
		}
		q.Levels = append(q.Levels, v)
	}
	for _, v := range queryValues(c, "triage") {
		if !slices.Contains(store.TriageStatuses, v) {
			return badParam("triage", "must be one of %s", strings.Join(store.TriageStatuses, ", "))
		}
		q.Triage = append(q.Triage, v)
	}
	for _, raw := range args.PeekMulti("rule_id") {
		v := string(raw)
		if len(v) > 128 || !utf8.ValidString(v) {
			return badParam("rule_id", "invalid rule id")
		}
		q.RuleIDs = append(q.RuleIDs, strings.Clone(v))
	}
	return s.servePage(c, "alerts", q.Limit, func(ctx context.Context, maxBytes int, emit func([]byte) error) (string, error) {
		q.MaxBytes = maxBytes
		return s.st.StreamAlerts(ctx, q, emit)
	})
}

// servePage runs one page query under the key's and the global concurrency
// limits and the query timeout, and writes {"<field>":[...],"next_cursor",
// "limit"} as the rows are read, into the response body: the documents are
// held once, bounded by limits.max_response_bytes. fasthttp does not cancel
// a request when its client goes away, so the query is bounded by time
// here and in ClickHouse (max_execution_time).
func (s *Server) servePage(c *fiber.Ctx, field string, limit int,
	read func(ctx context.Context, maxBytes int, emit func([]byte) error) (string, error)) error {
	p := principal(c)
	start := time.Now()
	s.m.queued.Inc()
	release, _, err := s.lim.acquire(context.Background(), p.Name)
	s.m.queued.Dec()
	s.m.wait.Observe(time.Since(start).Seconds())
	if err != nil {
		c.Set(fiber.HeaderRetryAfter, "1")
		return &Error{Status: fiber.StatusTooManyRequests, Code: CodeTooManyQueries, Err: err,
			Message: "too many queries at once for this key or in total; retry later"}
	}
	defer release()
	s.m.inFlight.Inc()
	defer s.m.inFlight.Dec()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	resp := c.Response()
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	resp.ResetBody()
	resp.AppendBodyString(`{"` + field + `":[`)
	n := 0
	next, err := read(ctx, s.cfg.Limits.MaxResponseBytes, func(doc []byte) error {
		if n > 0 {
			resp.AppendBodyString(",")
		}
		resp.AppendBody(doc)
		n++
		return nil
	})
	if err != nil {
		resp.ResetBody()
		if errors.Is(err, store.ErrBadCursor) {
			return badParam("cursor", "invalid cursor")
		}
		return err
	}
	if next != "" && n < limit {
		s.m.byteBound.Inc()
	}
	resp.AppendBodyString(`],"next_cursor":` + strconv.Quote(next) + `,"limit":` + strconv.Itoa(limit) + `}`)
	return nil
}

func (s *Server) sectors(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"sectors": registry.Sectors})
}

// listEvents serves GET /api/v1/events.
//
// Parameters: from, to (RFC 3339, bound received_at: from inclusive, to
// exclusive), sector, org, object, oisc (comma-separated or repeated), q (free
// text, case-insensitive), limit (1..max_limit, default 100), cursor (from
// next_cursor). Unknown parameters are errors. Results are newest first; a
// page ends early, with next_cursor, once its events reach
// limits.max_response_bytes.
func (s *Server) listEvents(c *fiber.Ctx) error {
	p := principal(c)
	if !p.ReadsEvents() {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not read raw events"}
	}
	if err := amberReader(p); err != nil {
		return err
	}
	q, err := s.parseQuery(c, eventParams)
	if err != nil {
		return err
	}
	q.Scope = p.EventScope()
	return s.servePage(c, "events", q.Limit, func(ctx context.Context, maxBytes int, emit func([]byte) error) (string, error) {
		q.MaxBytes = maxBytes
		return s.st.StreamEvents(ctx, q, emit)
	})
}

// parseQuery parses the parameters events and alerts share; any parameter
// outside allowed is an error.
func (s *Server) parseQuery(c *fiber.Ctx, allowed []string) (store.EventQuery, error) {
	var q store.EventQuery
	var perr error
	args := c.Context().QueryArgs()
	args.VisitAll(func(k, v []byte) {
		if perr == nil && !slices.Contains(allowed, string(k)) {
			perr = badParam(string(k), "unknown parameter %q (accepted: %s)", truncate(string(k), 40), strings.Join(allowed, ", "))
		}
	})
	if perr != nil {
		return q, perr
	}
	list := func(name string, check func(string) bool, what string) ([]string, error) {
		var out []string
		for _, v := range queryValues(c, name) {
			if !check(v) {
				return nil, badParam(name, "%q is not a valid %s", truncate(v, 64), what)
			}
			out = append(out, v)
		}
		if len(out) > maxListItems {
			return nil, badParam(name, "at most %d values", maxListItems)
		}
		return out, nil
	}
	var err error
	if q.Sectors, err = list("sector", registry.ValidSector, "sector id"); err != nil {
		return q, err
	}
	if q.Orgs, err = list("org", event.ValidID, "organisation id"); err != nil {
		return q, err
	}
	if q.Objects, err = list("object", event.ValidID, "object id"); err != nil {
		return q, err
	}
	if q.OISCs, err = list("oisc", event.ValidID, "OISC id"); err != nil {
		return q, err
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := string(args.Peek(f.name)); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, badParam(f.name, "must be an RFC 3339 time such as 2026-11-24T10:00:00Z")
			}
			if !store.ValidTime(t) {
				return q, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidTime, Field: f.name,
					Message: f.name + " must be from " + store.MinTime.Format(time.RFC3339) + " to " + store.MaxTime.Format(time.RFC3339)}
			}
			*f.dst = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, badParam("from", "from must be before to")
	}
	q.Limit = defaultLimit
	if v := string(args.Peek("limit")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.cfg.MaxLimit {
			return q, badParam("limit", "must be an integer from 1 to %d", s.cfg.MaxLimit)
		}
		q.Limit = n
	}
	if v := string(args.Peek("q")); v != "" {
		if !utf8.ValidString(v) {
			return q, badParam("q", "must be valid UTF-8")
		}
		if utf8.RuneCountInString(v) > maxText {
			return q, badParam("q", "at most %d characters", maxText)
		}
		q.Text = strings.Clone(v)
	}
	if v := string(args.Peek("cursor")); v != "" {
		if len(v) > 128 {
			return q, badParam("cursor", "invalid cursor")
		}
		q.Cursor = strings.Clone(v)
	}
	return q, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// amberReader refuses a key whose TLP ceiling is below AMBER: events and
// alerts are TLP:AMBER (owner data and indicators, DOMAIN.md's TLP policy).
func amberReader(p access.Principal) error {
	if access.TLPRank(p.Ceiling()) < access.TLPRank("AMBER") {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden,
			Message: "events and alerts are TLP:AMBER, above this key's TLP ceiling " + p.Ceiling()}
	}
	return nil
}

// queryValues are the values of a list parameter: every occurrence
// (sector=a&sector=b) split at commas, trimmed, the empty ones dropped.
func queryValues(c *fiber.Ctx, name string) []string {
	var out []string
	for _, raw := range c.Context().QueryArgs().PeekMulti(name) {
		for _, v := range strings.Split(string(raw), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}
