package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// reportFormat is one export format of GET /api/v1/incidents/{id}/report.
type reportFormat struct {
	contentType string
	// attachment: offered for download (Content-Disposition: attachment),
	// else inline; both name the file.
	attachment bool
	ext        string
	render     func(*report.Report) ([]byte, error)
}

var reportFormats = map[string]reportFormat{
	"json": {"application/json; charset=utf-8", false, "json", func(r *report.Report) ([]byte, error) { return json.Marshal(r) }},
	"html": {"text/html; charset=utf-8", false, "html", report.HTML},
	"csv":  {"text/csv; charset=utf-8; header=present", true, "csv", report.CSV},
	"pdf":  {"application/pdf", true, "pdf", report.PDF},
	// The STIX 2.1 media type (STIX 2.1 §1.6, TAXII 2.1).
	"stix": {"application/stix+json;version=2.1", true, "stix.json", report.STIX},
}

// reportHTMLPolicy is the Content-Security-Policy of an HTML report: the
// global one, but for its own inline stylesheet (by hash).
var reportHTMLPolicy = "default-src 'none'; style-src " + report.StyleHash + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// incidentReport answers GET /api/v1/incidents/{id}/report?format=&lang=:
// the report of an incident (format json, html, csv, pdf or stix; default
// json; lang kk, ru or en, default ru), read through the same scoped query
// as GET /api/v1/incidents/{id}, so an incident out of the key's scope or
// above its TLP ceiling answers 404. The report is marked with the
// incident's TLP (never lower). Its audit record's detail names the format,
// the language, the size and the SHA-256 of the bytes served, which the
// answer carries too (X-Report-SHA256).
func (s *Server) incidentReport(c *fiber.Ctx) error {
	if err := incidentReader(c); err != nil {
		return err
	}
	args := c.Context().QueryArgs()
	var bad *Error
	args.VisitAll(func(k, _ []byte) {
		if bad == nil && string(k) != "format" && string(k) != "lang" {
			bad = badParam(string(k), "unknown parameter (format, lang)")
		}
	})
	if bad != nil {
		return bad
	}
	name := string(args.Peek("format"))
	if name == "" {
		name = "json"
	}
	format, ok := reportFormats[name]
	if !ok {
		return badParam("format", "must be one of json, html, csv, pdf, stix")
	}
	lang, err := report.ParseLang(string(args.Peek("lang")))
	if err != nil {
		return badParam("lang", "must be one of kk, ru, en")
	}
	id := c.Params("id")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	d, err := s.st.GetIncident(ctx, id, principal(c).EventScope(), 0)
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such incident"}
	}
	if err != nil {
		return err
	}
	var in incident.Incident
	if err := json.Unmarshal(d.Incident, &in); err != nil {
		return fmt.Errorf("api: stored incident %s: %w", id, err)
	}
	// Names of organisations, centers and objects; without the registry
	// the report keeps their ids.
	reg, err := s.registry()
	if err != nil {
		s.log.Warn("report without registry names", "incident", in.ID, "err", err)
		reg = nil
	}
	r, err := report.Build(in, reg, lang, s.now())
	if err != nil {
		return err
	}
	body, err := format.render(r)
	if err != nil {
		return fmt.Errorf("api: report %s as %s: %w", in.ID, name, err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	setAuditDetail(c, fmt.Sprintf("format=%s&lang=%s&tlp=%s&bytes=%d&sha256=%s", name, lang, url.QueryEscape(string(r.TLP)), len(body), digest))
	file := fmt.Sprintf("incident-%s-%s.%s", in.ID, lang, format.ext)
	disposition := "inline"
	if format.attachment {
		disposition = "attachment"
	}
	c.Set(fiber.HeaderContentType, format.contentType)
	c.Set(fiber.HeaderContentDisposition, disposition+`; filename="`+file+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Report-SHA256", digest)
	c.Set("X-TLP", string(r.TLP))
	if name == "html" {
		c.Set(fiber.HeaderContentSecurityPolicy, reportHTMLPolicy)
	}
	return c.Send(body)
}
