package api

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// Triage error codes.
const (
	// CodeOrgMismatch: the incident to attach to belongs to none of the
	// selected alert shares' organisations (409).
	CodeOrgMismatch = "org_mismatch"
	// CodeTooManyAlerts: a bulk triage selects more than maxBulkTriage
	// alert shares (400); narrow the filter.
	CodeTooManyAlerts = "too_many_alerts"
)

// Bounds of triage requests.
const (
	// maxBulkTriage is the most alert shares (and ids) one triage request
	// changes.
	maxBulkTriage = 1000
	// maxTriageBody bounds a triage request's body (1000 ids fit).
	maxTriageBody = 64 << 10
	// maxReason bounds a reason, in characters.
	maxReason = 1024
)

// triageFields are the triage a request sets.
type triageFields struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
	// IncidentID attaches the shares to this incident (in the caller's
	// scope, of the shares' organisation).
	IncidentID string `json:"incident_id"`
}

// triageRequest is the body of POST /api/v1/alerts/{id}/triage.
type triageRequest struct {
	triageFields
	// Org limits the triage to that organisation's share of the alert;
	// empty: every share in the caller's scope.
	Org string `json:"org"`
}

// bulkTriageRequest is the body of POST /api/v1/alerts/triage: the triage
// and either ids or a filter.
type bulkTriageRequest struct {
	triageFields
	IDs    []string     `json:"ids"`
	Filter *alertFilter `json:"filter"`
}

// alertFilter selects alerts as GET /api/v1/alerts's parameters do.
type alertFilter struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Sector []string `json:"sector"`
	Org    []string `json:"org"`
	Object []string `json:"object"`
	OISC   []string `json:"oisc"`
	Level  []string `json:"level"`
	RuleID []string `json:"rule_id"`
	Triage []string `json:"triage"`
}

// validate checks the triage: a known status, a reason for a false
// positive (why it is none), no incident for a false positive, a valid
// incident id.
func (t *triageFields) validate() *Error {
	t.Reason = strings.TrimSpace(t.Reason)
	if !slices.Contains(store.TriageStatuses, t.Status) {
		return badParam("status", "must be one of %s", strings.Join(store.TriageStatuses, ", "))
	}
	if utf8.RuneCountInString(t.Reason) > maxReason {
		return badParam("reason", "at most %d characters", maxReason)
	}
	if strings.ContainsFunc(t.Reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return badParam("reason", "control characters are not allowed")
	}
	if t.Status == store.TriageFalsePositive && t.Reason == "" {
		return badParam("reason", "a false positive needs a reason")
	}
	if t.IncidentID != "" {
		id, err := uuid.Parse(t.IncidentID)
		if err != nil {
			return badParam("incident_id", "must be an incident id (a UUID)")
		}
		t.IncidentID = id.String()
		if t.Status == store.TriageFalsePositive || t.Status == store.TriageNew {
			return badParam("incident_id", "an alert attached to an incident cannot be %s", t.Status)
		}
	}
	return nil
}

// decodeTriageRequest decodes and checks the body of a single triage.
func decodeTriageRequest(body []byte) (triageRequest, *Error) {
	var r triageRequest
	if err := decodeStrict(body, maxTriageBody, &r); err != nil {
		return r, err
	}
	if err := r.validate(); err != nil {
		return r, err
	}
	if r.Org != "" && !event.ValidID(r.Org) {
		return r, badParam("org", "not a valid organisation id")
	}
	return r, nil
}

// decodeBulkTriageRequest decodes and checks a bulk triage's body into its
// triage and the alert query it selects (without the caller's scope).
func decodeBulkTriageRequest(body []byte) (triageFields, store.AlertQuery, *Error) {
	var r bulkTriageRequest
	if err := decodeStrict(body, maxTriageBody, &r); err != nil {
		return r.triageFields, store.AlertQuery{}, err
	}
	if err := r.validate(); err != nil {
		return r.triageFields, store.AlertQuery{}, err
	}
	switch {
	case r.IDs != nil && r.Filter != nil:
		return r.triageFields, store.AlertQuery{}, badParam("ids", "give ids or a filter, not both")
	case r.IDs != nil:
		if len(r.IDs) == 0 || len(r.IDs) > maxBulkTriage {
			return r.triageFields, store.AlertQuery{}, badParam("ids", "1 to %d alert ids", maxBulkTriage)
		}
		q := store.AlertQuery{IDs: make([]string, 0, len(r.IDs))}
		for _, s := range r.IDs {
			id, err := uuid.Parse(s)
			if err != nil {
				return r.triageFields, store.AlertQuery{}, badParam("ids", "%q is not an alert id", truncate(s, 40))
			}
			q.IDs = append(q.IDs, id.String())
		}
		return r.triageFields, q, nil
	case r.Filter != nil:
		q, err := r.Filter.query()
		return r.triageFields, q, err
	}
	return r.triageFields, store.AlertQuery{}, badParam("ids", "give ids or a filter")
}

// query checks the filter as listAlerts checks its parameters.
func (f *alertFilter) query() (store.AlertQuery, *Error) {
	var q store.AlertQuery
	list := func(name string, in []string, check func(string) bool, what string) ([]string, *Error) {
		if len(in) > maxListItems {
			return nil, badParam("filter."+name, "at most %d values", maxListItems)
		}
		for _, v := range in {
			if !check(v) {
				return nil, badParam("filter."+name, "%q is not a valid %s", truncate(v, 64), what)
			}
		}
		return in, nil
	}
	oneOf := func(allowed []string) func(string) bool {
		return func(v string) bool { return slices.Contains(allowed, v) }
	}
	ruleID := func(v string) bool { return v != "" && len(v) <= 128 }
	var err *Error
	for _, l := range []struct {
		name  string
		in    []string
		dst   *[]string
		check func(string) bool
		what  string
	}{
		{"sector", f.Sector, &q.Sectors, registry.ValidSector, "sector id"},
		{"org", f.Org, &q.Orgs, event.ValidID, "organisation id"},
		{"object", f.Object, &q.Objects, event.ValidID, "object id"},
		{"oisc", f.OISC, &q.OISCs, event.ValidID, "OISC id"},
		{"level", f.Level, &q.Levels, oneOf(levels), "level (" + strings.Join(levels, ", ") + ")"},
		{"rule_id", f.RuleID, &q.RuleIDs, ruleID, "rule id"},
		{"triage", f.Triage, &q.Triage, oneOf(store.TriageStatuses), "triage status (" + strings.Join(store.TriageStatuses, ", ") + ")"},
	} {
		if *l.dst, err = list(l.name, l.in, l.check, l.what); err != nil {
			return q, err
		}
	}
	for _, t := range []struct {
		name string
		in   string
		dst  *time.Time
	}{{"from", f.From, &q.From}, {"to", f.To, &q.To}} {
		if t.in == "" {
			continue
		}
		v, perr := time.Parse(time.RFC3339Nano, t.in)
		if perr != nil {
			return q, badParam("filter."+t.name, "must be an RFC 3339 time such as 2026-11-24T10:00:00Z")
		}
		if !store.ValidTime(v) {
			return q, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidTime, Field: "filter." + t.name,
				Message: t.name + " must be from " + store.MinTime.Format(time.RFC3339) + " to " + store.MaxTime.Format(time.RFC3339)}
		}
		*t.dst = v
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, badParam("filter.from", "from must be before to")
	}
	return q, nil
}

// triager checks that the principal may triage alerts: the roles that read
// them (and triage only what they read).
func triager(p access.Principal) *Error {
	if p.Role != access.NCCAnalyst && p.Role != access.OISCAnalyst {
		// Triage is the NCC's and the OISCs' (ARCHITECTURE.md, roles):
		// owners and sector analysts read and comment.
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not triage alerts"}
	}
	return nil
}

// triageAlert serves POST /api/v1/alerts/{id}/triage: {status, reason,
// incident_id?, org?} sets the triage of the alert's shares in the caller's
// scope (one organisation's with org). An alert with no share in scope
// answers 404 like one that does not exist. It answers {"triaged": n,
// "shares": [...], "triage": {...}}.
func (s *Server) triageAlert(c *fiber.Ctx) error {
	p := principal(c)
	if err := triager(p); err != nil {
		return err
	}
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such alert"}
	}
	req, derr := decodeTriageRequest(c.Body())
	if derr != nil {
		return derr
	}
	q := store.AlertQuery{IDs: []string{id.String()}}
	if req.Org != "" {
		q.Orgs = []string{req.Org}
	}
	res, err := s.triage(c, p, q, req.triageFields)
	if err != nil {
		return err
	}
	if res.Triaged == 0 && res.Skipped == 0 {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such alert"}
	}
	return c.JSON(res)
}

// bulkTriage serves POST /api/v1/alerts/triage: {status, reason,
// incident_id?} and either ids ([alert id, ...]) or filter (the parameters
// of GET /api/v1/alerts, lists as arrays) sets the triage of every
// selected share in the caller's scope, at most maxBulkTriage of them (more
// is 400 too_many_alerts, nothing changed). Ids out of scope are ignored
// like ones that do not exist. It answers {"triaged": n, ...}.
func (s *Server) bulkTriage(c *fiber.Ctx) error {
	p := principal(c)
	if err := triager(p); err != nil {
		return err
	}
	t, q, derr := decodeBulkTriageRequest(c.Body())
	if derr != nil {
		return derr
	}
	res, err := s.triage(c, p, q, t)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// triageResult is what a triage request answers.
type triageResult struct {
	// Triaged counts the alert shares whose triage was set.
	Triaged int `json:"triaged"`
	// Skipped counts the shares selected but left alone, being of another
	// organisation than the incident they were to be attached to.
	Skipped int                `json:"skipped"`
	Shares  []store.AlertShare `json:"shares"`
	Triage  store.AlertTriage  `json:"triage"`
}

// triage selects the shares q selects in p's scope and records t on them;
// with an incident, only the shares of its organisation(s) are triaged and
// linked to it (the incident's own alert count stays the grouping's), and
// its history records the attachment.
func (s *Server) triage(c *fiber.Ctx, p access.Principal, q store.AlertQuery, t triageFields) (triageResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	q.Scope = p.EventScope()
	shares, err := s.st.AlertShares(ctx, q, maxBulkTriage)
	if err != nil {
		return triageResult{}, err
	}
	if len(shares) > maxBulkTriage {
		return triageResult{}, &Error{Status: fiber.StatusBadRequest, Code: CodeTooManyAlerts,
			Message: "the selection holds more than 1000 alert shares; narrow it (from, to, rule_id, triage ...)"}
	}
	now := s.now().UTC()
	tr := store.AlertTriage{Status: t.Status, Reason: t.Reason, Actor: p.Name, At: now, IncidentID: t.IncidentID}
	res := triageResult{Shares: shares, Triage: tr}
	if len(shares) == 0 {
		res.Shares = []store.AlertShare{}
		return res, nil
	}
	if t.IncidentID != "" {
		in, err := s.incidentInScope(ctx, t.IncidentID, q.Scope)
		if err != nil {
			return triageResult{}, err
		}
		mine := slices.DeleteFunc(slices.Clone(shares), func(sh store.AlertShare) bool {
			if in.National {
				return !slices.Contains(in.Orgs, sh.Org)
			}
			return sh.Org != in.Org
		})
		if len(mine) == 0 {
			return triageResult{}, &Error{Status: fiber.StatusConflict, Code: CodeOrgMismatch, Field: "incident_id",
				Message: "the incident belongs to another organisation than the alerts"}
		}
		res.Skipped, res.Shares = len(shares)-len(mine), mine
		if err := s.attach(ctx, p, in, mine, tr); err != nil {
			return triageResult{}, err
		}
	}
	if err := s.st.TriageAlerts(ctx, res.Shares, tr); err != nil {
		return triageResult{}, err
	}
	res.Triaged = len(res.Shares)
	s.log.Info("alerts triaged", "actor", p.Name, "status", tr.Status, "shares", res.Triaged, "incident", tr.IncidentID,
		"path", c.Path())
	return res, nil
}

// incidentInScope returns the incident id in scope sc, or 404 naming
// incident_id.
func (s *Server) incidentInScope(ctx context.Context, id string, sc access.EventScope) (incident.Incident, error) {
	d, err := s.st.GetIncident(ctx, id, sc, 0)
	if errors.Is(err, store.ErrNotFound) {
		return incident.Incident{}, &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Field: "incident_id", Message: "no such incident"}
	}
	if err != nil {
		return incident.Incident{}, err
	}
	var in incident.Incident
	if err := json.Unmarshal(d.Incident, &in); err != nil {
		return incident.Incident{}, err
	}
	return in, nil
}

// attach links shares to in (incident_alerts, idempotent: a retry links
// once) and appends the attachment to its history (a retry is another
// entry, as it is another request).
func (s *Server) attach(ctx context.Context, p access.Principal, in incident.Incident, shares []store.AlertShare, tr store.AlertTriage) error {
	links := make([]store.IncidentAlert, 0, len(shares))
	for _, sh := range shares {
		links = append(links, store.IncidentAlert{IncidentID: in.ID, AlertID: sh.AlertID.String(), Org: sh.Org, LinkedAt: tr.At})
	}
	if err := s.st.LinkIncidentAlerts(ctx, links); err != nil {
		return err
	}
	detail, err := json.Marshal(struct {
		Alerts []store.AlertShare `json:"alerts"`
		Status string             `json:"status"`
		Reason string             `json:"reason,omitempty"`
	}{shares, tr.Status, tr.Reason})
	if err != nil {
		return err
	}
	return s.st.InsertIncidentLog(ctx, []store.IncidentLogEntry{{ID: uuid.New(), IncidentID: in.ID, At: tr.At, Actor: p.Name,
		Action: "attach_alerts", Outcome: "applied", Version: in.Version, Detail: detail}})
}
