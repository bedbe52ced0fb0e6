package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// defaultK is the fewest organisations an aggregate may describe: fewer
// are withheld (it would name them).
const defaultK = 3

var statsParams = []string{"from", "to", "by", "interval", "sector"}

// statsReader checks that the principal may read statistics: the NCC's
// analysts (everything), OISC analysts (their OISC's incidents), sector
// analysts and regulators (their sectors). Owners read their own
// incidents instead, and admins no incident data.
func statsReader(p access.Principal) error {
	switch p.Role {
	case access.NCCAnalyst, access.OISCAnalyst, access.SectorAnalyst, access.Regulator:
		return nil
	}
	return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " reads no statistics"}
}

// statsQuery parses the statistics parameters: from and to (default the
// last 30 days), by (category, type, severity, sector), interval (day,
// week, month; periods in Asia/Almaty) and sector (within the caller's).
func (s *Server) statsQuery(c *fiber.Ctx) (store.StatsQuery, error) {
	p := principal(c)
	if err := statsReader(p); err != nil {
		return store.StatsQuery{}, err
	}
	args := c.Context().QueryArgs()
	var perr error
	args.VisitAll(func(k, _ []byte) {
		if perr == nil && !slices.Contains(statsParams, string(k)) {
			perr = badParam(string(k), "unknown parameter %q (accepted: %s)", truncate(string(k), 40), strings.Join(statsParams, ", "))
		}
	})
	if perr != nil {
		return store.StatsQuery{}, perr
	}
	now := s.now().UTC()
	q := store.StatsQuery{From: now.Add(-30 * 24 * time.Hour), To: now.Add(time.Minute), K: defaultK}
	for name, dst := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil || !store.ValidTime(t) {
				return q, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidTime, Field: name, Message: name + " must be an RFC 3339 time from 1970 to 2105"}
			}
			*dst = t
		}
	}
	if !q.From.Before(q.To) {
		return q, badParam("from", "from must be before to")
	}
	for _, v := range queryValues(c, "by") {
		if !slices.Contains(store.StatsDimensions, v) {
			return q, badParam("by", "each of %s", strings.Join(store.StatsDimensions, ", "))
		}
		if !slices.Contains(q.By, v) {
			q.By = append(q.By, v)
		}
	}
	q.Interval = c.Query("interval")
	if !slices.Contains(store.StatsIntervals, q.Interval) {
		return q, badParam("interval", "day, week or month")
	}
	for _, v := range queryValues(c, "sector") {
		if !registry.ValidSector(v) {
			return q, badParam("sector", "%q is not a sector id", truncate(v, 64))
		}
		q.Sectors = append(q.Sectors, v)
	}
	sc := p.EventScope()
	if p.Role == access.Regulator {
		sc.Sectors = p.Sectors
	}
	q.Scope = sc
	return q, nil
}

// statsAnswer is every statistics answer: aggregates only, TLP:GREEN
// (they carry no title, description or entity of the incidents behind
// them; TLP:RED and national incidents are never counted), rows over fewer
// than k organisations withheld.
func statsAnswer(c *fiber.Ctx, q store.StatsQuery, rows []store.StatsRow) error {
	withheld := 0
	for _, r := range rows {
		if r.Withheld {
			withheld++
		}
	}
	out := fiber.Map{"tlp": "GREEN", "k": q.K, "from": q.From, "to": q.To, "by": q.By, "interval": q.Interval, "rows": rows,
		"withheld_rows": withheld}
	if withheld > 0 {
		out["note"] = "rows describing fewer than k organisations are withheld"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// incidentStats answers GET /api/v1/stats/incidents.
func (s *Server) incidentStats(c *fiber.Ctx) error {
	q, err := s.statsQuery(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	rows, err := s.st.IncidentStats(ctx, q)
	if err != nil {
		return err
	}
	return statsAnswer(c, q, rows)
}

// responseTimes answers GET /api/v1/stats/response-times: time to
// acknowledge, contain and resolve, from detected_at.
func (s *Server) responseTimes(c *fiber.Ctx) error {
	q, err := s.statsQuery(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	rows, err := s.st.ResponseTimes(ctx, q)
	if err != nil {
		return err
	}
	return statsAnswer(c, q, rows)
}

// timeliness answers GET /api/v1/stats/timeliness: per regime stage, on
// time, late, overdue now, pending, waived, superseded.
func (s *Server) timeliness(c *fiber.Ctx) error {
	q, err := s.statsQuery(c)
	if err != nil {
		return err
	}
	// Stages are grouped by regime and stage, and by sector when asked;
	// not by the incident's classification nor by period.
	if q.Interval != "" {
		return badParam("interval", "timeliness is not broken down by period (it counts the stages of the incidents detected from..to)")
	}
	for _, d := range q.By {
		if d != "sector" {
			return badParam("by", "timeliness is grouped by regime and stage, and by sector (by=sector) only")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	rows, err := s.st.Timeliness(ctx, q, s.now())
	if err != nil {
		return err
	}
	return statsAnswer(c, q, rows)
}
