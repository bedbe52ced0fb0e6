package api

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

var (
	incidentParams = []string{"from", "to", "sector", "org", "status", "severity", "national", "limit", "cursor"}
	severities     = []string{string(incident.SeverityNone), string(incident.SeverityLow), string(incident.SeverityModerate),
		string(incident.SeverityHigh), string(incident.SeverityCritical)}
)

// incidentReader checks that the principal may read incidents: every role
// that reads events; a regulator reads aggregates only.
func incidentReader(c *fiber.Ctx) error {
	if p := principal(c); !p.ReadsEvents() {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not read incidents"}
	}
	return nil
}

// listIncidents answers GET /api/v1/incidents: {"incidents":[...],
// "next_cursor":...}, newest detected first, scoped inside the query (a
// scoped role never sees a national incident).
func (s *Server) listIncidents(c *fiber.Ctx) error {
	if err := incidentReader(c); err != nil {
		return err
	}
	eq, err := s.parseQuery(c, incidentParams)
	if err != nil {
		return err
	}
	q := store.IncidentQuery{From: eq.From, To: eq.To, Orgs: eq.Orgs, Sectors: eq.Sectors, Limit: eq.Limit, Cursor: eq.Cursor,
		Scope: principal(c).EventScope()}
	args := c.Context().QueryArgs()
	enum := func(name string, allowed []string) ([]string, error) {
		var out []string
		for _, v := range queryValues(c, name) {
			if !slices.Contains(allowed, v) {
				return nil, badParam(name, "must be one of %s", strings.Join(allowed, ", "))
			}
			out = append(out, v)
		}
		return out, nil
	}
	statuses := make([]string, len(incident.Statuses))
	for i, st := range incident.Statuses {
		statuses[i] = string(st)
	}
	if q.Statuses, err = enum("status", statuses); err != nil {
		return err
	}
	if q.Severities, err = enum("severity", severities); err != nil {
		return err
	}
	switch v := string(args.Peek("national")); v {
	case "":
	case "true", "false":
		b := v == "true"
		q.National = &b
	default:
		return badParam("national", "must be true or false")
	}
	return s.servePage(c, "incidents", q.Limit, func(ctx context.Context, maxBytes int, emit func([]byte) error) (string, error) {
		q.MaxBytes = maxBytes
		return s.st.StreamIncidents(ctx, q, emit)
	})
}

// getIncident answers GET /api/v1/incidents/{id}: the incident with its
// timeline (its alerts, the caller's shares, and its history). An incident
// out of scope answers 404 like one that does not exist.
func (s *Server) getIncident(c *fiber.Ctx) error {
	if err := incidentReader(c); err != nil {
		return err
	}
	id := c.Params("id")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	d, err := s.st.GetIncident(ctx, id, principal(c).EventScope(), s.cfg.MaxLimit)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such incident"}
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(d)
}

// incidentNotifications answers GET /api/v1/incidents/{id}/notifications:
// {"notifications":[...]}, the incident's delivery log (every attempt,
// acknowledgement and overdue finding, with the payload sent and its
// SHA-256), scoped like the incident: out of scope answers 404.
func (s *Server) incidentNotifications(c *fiber.Ctx) error {
	if err := incidentReader(c); err != nil {
		return err
	}
	id := c.Params("id")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	sc := principal(c).EventScope()
	// The incident first, in scope: a log of an incident out of scope is
	// as absent as the incident.
	if _, err := s.st.GetIncident(ctx, id, sc, 0); errors.Is(err, store.ErrNotFound) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such incident"}
	} else if err != nil {
		return err
	}
	log, err := s.st.NotificationLog(ctx, id, sc)
	if err != nil {
		return err
	}
	if log == nil {
		log = []store.NotificationLogEntry{}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"notifications": log})
}
