package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// CodePeriodNotEnded: a digest was asked for a period that has not ended
// (409): a partial digest would stand in for the whole period's, which the
// ncc's schedule then would not generate.
const CodePeriodNotEnded = "period_not_ended"

// digestScopes are the digest scopes p reads: nil for every one (the NCC's
// analysts), the national digest and those of p's sectors for OISC
// analysts (none), sector analysts and regulators; owners and admins
// read none (403).
func digestScopes(p access.Principal) ([]string, error) {
	switch p.Role {
	case access.NCCAnalyst:
		return nil, nil
	case access.OISCAnalyst, access.SectorAnalyst, access.Regulator:
		out := []string{report.NationalScope}
		for _, s := range p.Sectors {
			out = append(out, report.SectorScope(s))
		}
		return out, nil
	}
	return nil, &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " reads no digests"}
}

var reportListParams = []string{"kind", "scope", "lang", "from", "to"}

// listReports answers GET /api/v1/reports: the digests the key reads
// (kind, scope, period, lang, generated_at, sha256 of each format),
// newest period first; filters kind, scope, lang, and from/to on the
// period's start (RFC 3339).
func (s *Server) listReports(c *fiber.Ctx) error {
	scopes, err := digestScopes(principal(c))
	if err != nil {
		return err
	}
	var bad *Error
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if bad == nil && !slices.Contains(reportListParams, string(k)) {
			bad = badParam(string(k), "unknown parameter (kind, scope, lang, from, to)")
		}
	})
	if bad != nil {
		return bad
	}
	q := store.DigestQuery{Kind: c.Query("kind"), Scope: c.Query("scope"), Lang: c.Query("lang"), Scopes: scopes}
	if q.Kind != "" && !slices.Contains(report.DigestKinds, report.DigestKind(q.Kind)) {
		return badParam("kind", "daily or monthly")
	}
	if q.Scope != "" {
		if _, err := report.ScopeSector(q.Scope); err != nil {
			return badParam("scope", "national or sector:<id>")
		}
	}
	if q.Lang != "" {
		if _, err := report.ParseLang(q.Lang); err != nil {
			return badParam("lang", "kk, ru or en")
		}
	}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil || !store.ValidTime(t) {
				return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidTime, Field: name, Message: name + " must be an RFC 3339 time from 1970 to 2105"}
			}
			*dst = t
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	list, err := s.st.ListDigests(ctx, q)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"tlp": "GREEN", "reports": list})
}

// digestFormats are the formats of GET /api/v1/reports/{id}.
var digestFormats = map[string]struct{ contentType, disposition string }{
	"html": {"text/html; charset=utf-8", "inline"},
	"pdf":  {"application/pdf", "attachment"},
}

// digestHTMLPolicy is the Content-Security-Policy of a digest's HTML.
var digestHTMLPolicy = "default-src 'none'; style-src " + report.DigestStyleHash + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// getReport answers GET /api/v1/reports/{id}?format=html|pdf (default
// html): the stored digest, if the key reads its scope (else 404), with
// Content-Disposition naming the file, X-Report-SHA256 and X-TLP; its
// audit record's detail names the format, language, size and SHA-256 of
// the bytes served, as the incident report's does.
func (s *Server) getReport(c *fiber.Ctx) error {
	scopes, err := digestScopes(principal(c))
	if err != nil {
		return err
	}
	var bad *Error
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if bad == nil && string(k) != "format" {
			bad = badParam(string(k), "unknown parameter (format)")
		}
	})
	if bad != nil {
		return bad
	}
	name := c.Query("format", "html")
	format, ok := digestFormats[name]
	if !ok {
		return badParam("format", "html or pdf")
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	e, body, err := s.st.Digest(ctx, c.Params("id"), name, scopes)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such report"}
	}
	if err != nil {
		return err
	}
	digest := report.SHA256(body)
	setAuditDetail(c, fmt.Sprintf("format=%s&lang=%s&tlp=%s&bytes=%d&sha256=%s", name, e.Lang, e.TLP, len(body), digest))
	period := e.PeriodStart.In(report.Zone).Format("2006-01-02")
	if e.Kind == string(report.Monthly) {
		period = e.PeriodStart.In(report.Zone).Format("2006-01")
	}
	file := fmt.Sprintf("digest-%s-%s-%s-%s.%s", e.Kind, strings.TrimPrefix(e.Scope, "sector:"), period, e.Lang, name)
	c.Set(fiber.HeaderContentType, format.contentType)
	c.Set(fiber.HeaderContentDisposition, format.disposition+`; filename="`+file+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Report-SHA256", digest)
	c.Set("X-TLP", e.TLP)
	if name == "html" {
		c.Set(fiber.HeaderContentSecurityPolicy, digestHTMLPolicy)
	}
	return c.Send(body)
}

// createReportRequest is the body of POST /api/v1/reports.
type createReportRequest struct {
	Kind        string `json:"kind"`
	Scope       string `json:"scope"`
	PeriodStart string `json:"period_start"`
	Lang        string `json:"lang"`
}

// parsePeriodStart reads a period's start: a date (2026-11-20, the day
// in Asia/Almaty) or an RFC 3339 time.
func parsePeriodStart(v string) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, v, report.Zone); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

// createReport answers POST /api/v1/reports {kind, scope, period_start,
// lang}: the NCC's analysts generate a digest now (lang default ru), from
// the figures as they stand, stored under its deterministic id (the same
// request again regenerates the same id); 201 with its listing entry. A
// period that has not ended is 409 period_not_ended.
func (s *Server) createReport(c *fiber.Ctx) error {
	p := principal(c)
	if p.Role != access.NCCAnalyst {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "only ncc-analyst generates digests"}
	}
	var req createReportRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	lang, err := report.ParseLang(req.Lang)
	if err != nil {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "lang", Message: "kk, ru or en"}
	}
	start, err := parsePeriodStart(req.PeriodStart)
	if err != nil {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "period_start", Message: "a date (2026-11-20) or an RFC 3339 time"}
	}
	spec := report.DigestSpec{Kind: report.DigestKind(req.Kind), Scope: req.Scope, Start: start}
	if err := spec.Validate(); err != nil {
		field := "period_start"
		switch {
		case !slices.Contains(report.DigestKinds, spec.Kind):
			field = "kind"
		case func() bool { _, err := report.ScopeSector(spec.Scope); return err != nil }():
			field = "scope"
		}
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: err.Error()}
	}
	now := s.now()
	if spec.End().After(now) {
		return &Error{Status: fiber.StatusConflict, Code: CodePeriodNotEnded, Field: "period_start",
			Message: "the period ends at " + spec.End().Format(time.RFC3339) + "; its digest can be generated after that"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.cfg.Limits.QueryTimeout)
	defer cancel()
	fig, err := s.st.DigestFigures(ctx, spec, now)
	if err != nil {
		return err
	}
	files, err := report.RenderDigests(spec, fig, []report.Lang{lang}, now)
	if err != nil {
		return err
	}
	entries, err := s.st.InsertDigests(ctx, files, p.Name)
	if err != nil {
		return err
	}
	setAuditResource(c, entries[0].ID)
	setAuditDetail(c, fmt.Sprintf("kind=%s&scope=%s&period_start=%s&lang=%s&sha256_html=%s&sha256_pdf=%s", spec.Kind, spec.Scope,
		spec.Start.UTC().Format(time.RFC3339), lang, entries[0].SHA256.HTML, entries[0].SHA256.PDF))
	return c.Status(fiber.StatusCreated).JSON(entries[0])
}
