package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/notify"
	"github.com/kuzet-kz/kuzet/internal/registry"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// Error codes of changes.
const (
	CodeVersionConflict     = "version_conflict"
	CodeInvalidTransition   = "invalid_transition"
	CodeIdempotencyConflict = "idempotency_conflict"
)

// Bounds of what a change may carry.
const (
	maxLongText  = 20000
	maxShortText = 200
)

// requestBus returns the bus, or the 503 of a read-only API.
func (s *Server) requestBus() (*bus.Client, error) {
	if s.bus == nil {
		return nil, &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "this API instance is read-only (no nats.url): changes are not possible here"}
	}
	return s.bus, nil
}

// askNCC sends one request to the ncc and turns its refusal into an API
// error.
func (s *Server) askNCC(subject string, req any) (*bus.IncidentReply, error) {
	b, err := s.requestBus()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var reply bus.IncidentReply
	if err := b.Request(ctx, subject, req, &reply); err != nil {
		return nil, &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "the ncc did not answer; nothing was changed unless a retry shows it", Err: err}
	}
	if e := reply.Error; e != nil {
		return nil, &Error{Status: e.Status, Code: e.Code, Field: e.Field, Message: e.Message}
	}
	if reply.Incident == nil {
		return nil, &Error{Status: fiber.StatusInternalServerError, Code: CodeInternal, Message: "the ncc answered nothing"}
	}
	return &reply, nil
}

// incidentParam checks the {id} of an incident route: anything but an
// incident id is a missing incident.
func incidentParam(c *fiber.Ctx) error {
	if _, err := uuid.Parse(c.Params("id")); err != nil {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such incident"}
	}
	return nil
}

// ifMatch reads If-Match: a version, bare or as an ETag ("12", W/"12").
func ifMatch(c *fiber.Ctx) (uint64, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v == 0 {
		return 0, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidParameter, Field: "If-Match",
			Message: "If-Match takes the incident's version (its ETag)"}
	}
	return v, nil
}

func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// actor names the caller in history: the key's name and role.
func actor(p access.Principal) string { return "api:" + p.Name + " (" + string(p.Role) + ")" }

// incidentPatch is the body of PATCH /api/v1/incidents/{id}.
type incidentPatch struct {
	// Status moves the incident along the state machine; the transition
	// (advance, close, reopen) follows from the current status unless
	// Action names it.
	Status               string         `json:"status"`
	Action               string         `json:"action"`
	Resolution           string         `json:"resolution"`
	DuplicateOf          string         `json:"duplicate_of"`
	Determination        string         `json:"determination"`
	Assignee             string         `json:"assignee"`
	Comment              string         `json:"comment"`
	Task                 *incident.Task `json:"task"`
	TLP                  string         `json:"tlp"`
	TLPRecipients        []string       `json:"tlp_recipients"`
	MarkIndicators       []string       `json:"mark_indicators"`
	UnmarkIndicators     []string       `json:"unmark_indicators"`
	RSITClass            string         `json:"rsit_class"`
	RSITType             string         `json:"rsit_type"`
	AwareAt              *time.Time     `json:"aware_at"`
	ReasonablyBelievedAt *time.Time     `json:"reasonably_believed_at"`
}

func checkText(field, v string, limit int) error {
	if len(v) > limit {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf("%s is longer than %d bytes", field, limit)}
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: field + " holds control characters"}
	}
	return nil
}

// change turns the patch into a domain change, checking what each role
// may do: owners comment and keep tasks; analysts change the rest.
func (b *incidentPatch) change(p access.Principal) (incident.Change, error) {
	for f, v := range map[string]string{"comment": b.Comment, "assignee": b.Assignee, "resolution": b.Resolution,
		"duplicate_of": b.DuplicateOf, "rsit_class": b.RSITClass, "rsit_type": b.RSITType} {
		limit := maxShortText
		if f == "comment" {
			limit = maxLongText
		}
		if err := checkText(f, v, limit); err != nil {
			return incident.Change{}, err
		}
	}
	if b.Task != nil {
		if err := checkText("task.title", b.Task.Title, maxShortText); err != nil {
			return incident.Change{}, err
		}
		if err := checkText("task.id", b.Task.ID, 64); err != nil {
			return incident.Change{}, err
		}
	}
	c := incident.Change{Actor: actor(p), Status: incident.Status(b.Status), Action: incident.Action(b.Action),
		Resolution: incident.Resolution(b.Resolution), DuplicateOf: b.DuplicateOf, Determination: incident.Determination(b.Determination),
		Assignee: b.Assignee, Comment: b.Comment, Task: b.Task, TLP: incident.TLP(b.TLP), RSITClass: b.RSITClass, RSITType: b.RSITType}
	if b.Status != "" && !slices.Contains(incident.Statuses, c.Status) {
		return c, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "status", Message: fmt.Sprintf("unknown status %q", b.Status)}
	}
	if c.Action == incident.ActionMerge {
		return c, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "action", Message: "merge is the system's transition"}
	}
	if b.TLPRecipients != nil {
		if len(b.TLPRecipients) > 50 {
			return c, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "tlp_recipients", Message: "at most 50 recipients"}
		}
		for _, r := range b.TLPRecipients {
			if err := checkText("tlp_recipients", r, maxShortText); err != nil {
				return c, err
			}
		}
		c.TLPRecipients = b.TLPRecipients
	}
	for f, list := range map[string][]string{"mark_indicators": b.MarkIndicators, "unmark_indicators": b.UnmarkIndicators} {
		if len(list) > 100 {
			return c, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: f, Message: "at most 100 indicators at once"}
		}
		for _, v := range list {
			if err := checkText(f, v, 2048); err != nil {
				return c, err
			}
			if k, val, ok := strings.Cut(v, "="); !ok || k == "" || val == "" {
				return c, &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: f, Message: "an indicator is field=value, e.g. source.ip=203.0.113.7"}
			}
		}
	}
	c.MarkIndicators, c.UnmarkIndicators = b.MarkIndicators, b.UnmarkIndicators
	// Whoever labels an incident RED stays among its readers.
	if strings.EqualFold(strings.TrimPrefix(strings.ToUpper(b.TLP), "TLP:"), "RED") && !slices.Contains(c.TLPRecipients, p.Name) {
		c.TLPRecipients = append(slices.Clone(c.TLPRecipients), p.Name)
	}
	if b.AwareAt != nil {
		c.AwareAt = *b.AwareAt
	}
	if b.ReasonablyBelievedAt != nil {
		c.ReasonablyBelievedAt = *b.ReasonablyBelievedAt
	}
	if p.Role == access.Owner || p.Role == access.SectorAnalyst {
		only := incidentPatch{Comment: b.Comment, Task: b.Task}
		if !(b.Status == "" && b.Action == "" && b.Resolution == "" && b.DuplicateOf == "" && b.Determination == "" &&
			b.Assignee == "" && b.TLP == "" && b.TLPRecipients == nil && b.MarkIndicators == nil && b.UnmarkIndicators == nil && b.RSITClass == "" && b.RSITType == "" && b.AwareAt == nil && b.ReasonablyBelievedAt == nil) {
			_ = only
			return c, &Error{Status: fiber.StatusForbidden, Code: CodeForbidden,
				Message: "role " + string(p.Role) + " may comment and keep tasks; the NCC's and OISCs' analysts change the rest"}
		}
	}
	return c, nil
}

// incidentWriter checks that the principal may change incidents.
func incidentWriter(c *fiber.Ctx) error {
	switch principal(c).Role {
	case access.NCCAnalyst, access.OISCAnalyst, access.SectorAnalyst, access.Owner:
		return nil
	}
	return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(principal(c).Role) + " may not change incidents"}
}

// patchIncident answers PATCH /api/v1/incidents/{id}: the change applied
// at the If-Match version (409 version_conflict when it moved on, 409
// invalid_transition off the state machine), the incident as it now is.
func (s *Server) patchIncident(c *fiber.Ctx) error {
	if err := incidentWriter(c); err != nil {
		return err
	}
	if err := incidentParam(c); err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var body incidentPatch
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	p := principal(c)
	ch, err := body.change(p)
	if err != nil {
		return err
	}
	reply, err := s.askNCC(bus.RPCIncidentChange, bus.IncidentChangeRequest{ID: c.Params("id"), IfMatch: version, Scope: p.EventScope(), Change: ch})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(reply.Incident.Version))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(reply.Incident)
}

// declareIncident answers POST /api/v1/incidents/{id}/declare: an OISC's
// (or the NCC's) analyst promotes an automated incident: declared_at set,
// the determination confirmed, and so its pending notifications sent; no
// second incident.
func (s *Server) declareIncident(c *fiber.Ctx) error {
	p := principal(c)
	if p.Role != access.OISCAnalyst && p.Role != access.NCCAnalyst {
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "an OISC's or the NCC's analyst declares incidents"}
	}
	if err := incidentParam(c); err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var body struct {
		Comment string `json:"comment"`
	}
	if len(c.Body()) > 0 {
		if err := decodeBody(c, &body); err != nil {
			return err
		}
	}
	if err := checkText("comment", body.Comment, maxLongText); err != nil {
		return err
	}
	ch := incident.Change{Actor: actor(p), Declared: true, Determination: incident.DeterminationConfirmed, Comment: body.Comment}
	reply, err := s.askNCC(bus.RPCIncidentChange, bus.IncidentChangeRequest{ID: c.Params("id"), IfMatch: version, Scope: p.EventScope(), Change: ch})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(reply.Incident.Version))
	return c.JSON(receipt(reply.Incident))
}

// newIncident is the body of POST /api/v1/incidents: an owner's
// self-report, or an analyst's declaration by hand.
type newIncident struct {
	Org                  string                     `json:"org"`
	ObjectIDs            []string                   `json:"object_ids"`
	Title                string                     `json:"title"`
	Description          string                     `json:"description"`
	FirstActivityAt      *time.Time                 `json:"first_activity_at"`
	DetectedAt           *time.Time                 `json:"detected_at"`
	AwareAt              *time.Time                 `json:"aware_at"`
	RSITClass            string                     `json:"rsit_class"`
	RSITType             string                     `json:"rsit_type"`
	FunctionalImpact     string                     `json:"functional_impact"`
	InformationImpact    []string                   `json:"information_impact"`
	Recoverability       string                     `json:"recoverability"`
	AttackVector         string                     `json:"attack_vector"`
	PersonalDataInvolved bool                       `json:"personal_data_involved"`
	Significant          bool                       `json:"significant"`
	MeasuresTaken        string                     `json:"measures_taken"`
	Contacts             []incident.ReporterContact `json:"contacts"`
	Indicators           map[string][]string        `json:"indicators"`
	Affected             *incident.Affected         `json:"affected"`
	TLP                  string                     `json:"tlp"`
}

var (
	functionalImpacts  = []string{"none", "low", "medium", "high"}
	informationImpacts = []string{"none", "privacy", "proprietary", "integrity", "availability"}
	recoverabilities   = []string{"regular", "supplemented", "extended", "not_recoverable"}
	impactCriticality  = map[string]int{"none": 10, "low": 30, "medium": 50, "high": 75}
)

func fieldErr(field, format string, args ...any) error {
	return &Error{Status: fiber.StatusUnprocessableEntity, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

// incident validates the body (every field error names its field) and
// makes the incident it reports.
func (b *newIncident) incident(p access.Principal, now time.Time) (incident.Incident, error) {
	in := incident.Incident{Org: b.Org, ObjectIDs: b.ObjectIDs, Title: b.Title, Description: b.Description,
		RSITClass: b.RSITClass, RSITType: b.RSITType, FunctionalImpact: b.FunctionalImpact, InformationImpact: b.InformationImpact,
		Recoverability: b.Recoverability, AttackVector: b.AttackVector, PersonalDataInvolved: b.PersonalDataInvolved,
		Significant: b.Significant, MeasuresTaken: b.MeasuresTaken, ReporterContacts: b.Contacts, Entities: b.Indicators,
		Affected: b.Affected, Status: incident.StatusNew, Determination: incident.DeterminationConfirmed, TLP: incident.TLPAmber,
		ReportedBy: actor(p)}
	switch p.Role {
	case access.Owner:
		if b.Org != "" && b.Org != p.Org {
			return in, fieldErr("org", "an owner reports its own organisation's incidents")
		}
		in.Org, in.Origin = p.Org, incident.OriginOwnerSelfIdentified
	case access.OISCAnalyst:
		in.Origin, in.CenterID, in.DeclaredAt = incident.OriginOISCDetected, p.OISC, now
	case access.NCCAnalyst:
		in.Origin, in.DeclaredAt = incident.OriginNCCDetected, now
	default:
		return in, &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not report incidents"}
	}
	if in.Org == "" {
		return in, fieldErr("org", "required")
	}
	if b.DetectedAt == nil || b.DetectedAt.IsZero() {
		return in, fieldErr("detected_at", "required (RFC 3339, with its zone)")
	}
	if b.DetectedAt.After(now.Add(5 * time.Minute)) {
		return in, fieldErr("detected_at", "is in the future")
	}
	if !store.ValidTime(*b.DetectedAt) {
		return in, fieldErr("detected_at", "must be from %s to %s", store.MinTime.Format(time.RFC3339), store.MaxTime.Format(time.RFC3339))
	}
	in.DetectedAt = b.DetectedAt.UTC()
	for f, t := range map[string]*time.Time{"first_activity_at": b.FirstActivityAt, "aware_at": b.AwareAt} {
		if t == nil {
			continue
		}
		if !store.ValidTime(*t) || t.After(now.Add(5*time.Minute)) {
			return in, fieldErr(f, "must be a time in the storable range, not in the future")
		}
	}
	if b.FirstActivityAt != nil {
		in.FirstActivityAt = b.FirstActivityAt.UTC()
	} else {
		in.FirstActivityAt = in.DetectedAt
	}
	in.LastActivityAt = in.DetectedAt
	if b.AwareAt != nil {
		in.AwareAt = b.AwareAt.UTC()
	}
	if !incident.ValidRSIT(b.RSITClass, b.RSITType) {
		return in, fieldErr("rsit_type", "rsit_class and rsit_type must be a class and type of the Reference Security Incident Taxonomy")
	}
	if b.FunctionalImpact != "" && !slices.Contains(functionalImpacts, b.FunctionalImpact) {
		return in, fieldErr("functional_impact", "one of %s", strings.Join(functionalImpacts, ", "))
	}
	for _, v := range b.InformationImpact {
		if !slices.Contains(informationImpacts, v) {
			return in, fieldErr("information_impact", "each one of %s", strings.Join(informationImpacts, ", "))
		}
	}
	if b.Recoverability != "" && !slices.Contains(recoverabilities, b.Recoverability) {
		return in, fieldErr("recoverability", "one of %s", strings.Join(recoverabilities, ", "))
	}
	if b.TLP != "" {
		t, err := incident.ParseTLP(b.TLP)
		if err != nil {
			return in, fieldErr("tlp", "%v", err)
		}
		in.TLP = t
		if t == incident.TLPRed {
			in.TLPRecipients = []string{p.Name}
		}
	}
	for f, v := range map[string]string{"title": b.Title, "attack_vector": b.AttackVector, "org": b.Org} {
		if err := checkText(f, v, maxShortText); err != nil {
			return in, err
		}
	}
	for f, v := range map[string]string{"description": b.Description, "measures_taken": b.MeasuresTaken} {
		if err := checkText(f, v, maxLongText); err != nil {
			return in, err
		}
	}
	if len(b.ObjectIDs) > 100 || len(b.Contacts) > 20 || len(b.Indicators) > 50 {
		return in, fieldErr("", "at most 100 objects, 20 contacts and 50 indicator fields")
	}
	for i, ct := range b.Contacts {
		if ct.Name == "" {
			return in, fieldErr(fmt.Sprintf("contacts[%d].name", i), "required")
		}
		for f, v := range map[string]string{"name": ct.Name, "role": ct.Role, "phone": ct.Phone, "email": ct.Email} {
			if err := checkText(fmt.Sprintf("contacts[%d].%s", i, f), v, maxShortText); err != nil {
				return in, err
			}
		}
	}
	for k, vs := range b.Indicators {
		if len(vs) > 1000 {
			return in, fieldErr("indicators."+k, "at most 1000 values")
		}
		if err := checkText("indicators", k, 64); err != nil {
			return in, err
		}
		for _, v := range vs {
			if err := checkText("indicators."+k, v, 2048); err != nil {
				return in, err
			}
		}
	}
	if a := b.Affected; a != nil && (a.Systems < 0 || a.Records < 0 || a.Users < 0) {
		return in, fieldErr("affected", "counts are not negative")
	}
	crit, ok := impactCriticality[b.FunctionalImpact]
	if !ok {
		crit = 50
	}
	if b.PersonalDataInvolved {
		crit += 10
	}
	in.Criticality = min(crit, 100)
	in.Severity = incident.SeverityOf(in.Criticality)
	if in.Title == "" {
		in.Title = in.RSITClass + ":" + in.RSITType + " reported at " + in.Org
	}
	return in, nil
}

var reportSpace = uuid.MustParse("c1e5a7b3-2d4f-4e6a-9b8c-0d1e2f3a4b5c")

// createIncident answers POST /api/v1/incidents: the receipt (201) of an
// owner's self-report or an analyst's declaration, with the incident's id
// and its notification deadlines. The same Idempotency-Key again returns
// the same receipt (200, Idempotent-Replayed: true) and creates nothing.
func (s *Server) createIncident(c *fiber.Ctx) error {
	p := principal(c)
	switch p.Role {
	case access.Owner, access.OISCAnalyst, access.NCCAnalyst:
	default:
		return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "role " + string(p.Role) + " may not report incidents"}
	}
	var body newIncident
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	in, err := body.incident(p, s.now().UTC())
	if err != nil {
		return err
	}
	canon, _ := json.Marshal(body)
	sum := sha256.Sum256(canon)
	in.RequestSHA256 = hex.EncodeToString(sum[:])
	in.ID = uuid.NewString()
	if key := c.Get("Idempotency-Key"); key != "" {
		if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidParameter, Field: "Idempotency-Key",
				Message: "an Idempotency-Key is 1 to 200 printable ASCII characters"}
		}
		in.ID = uuid.NewSHA1(reportSpace, []byte(p.Name+"\x00"+key)).String()
	}
	reply, err := s.askNCC(bus.RPCIncidentCreate, bus.IncidentCreateRequest{Incident: in, Scope: p.EventScope()})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(reply.Incident.Version))
	c.Set(fiber.HeaderLocation, "/api/v1/incidents/"+reply.Incident.ID)
	status := fiber.StatusCreated
	if !reply.Created {
		status = fiber.StatusOK
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(status).JSON(receipt(reply.Incident))
}

// Receipt is what a declaration or a self-report answers: the incident's
// id, when kuzet received it, and its notification deadlines.
type Receipt struct {
	ID         string           `json:"id"`
	Version    uint64           `json:"version"`
	ReceivedAt time.Time        `json:"received_at"`
	Origin     string           `json:"origin"`
	Stages     []incident.Stage `json:"stages"`
}

func receipt(in *incident.Incident) Receipt {
	at := in.OpenedAt
	if !in.DeclaredAt.IsZero() && in.Origin != incident.OriginOwnerSelfIdentified {
		at = in.DeclaredAt
	}
	st := in.Stages
	if st == nil {
		st = []incident.Stage{}
	}
	return Receipt{ID: in.ID, Version: in.Version, ReceivedAt: at, Origin: string(in.Origin), Stages: st}
}

// sectorCenters are the sectoral centers of the registry that cover one
// of a sector analyst's sectors: the recipients it speaks for.
func (s *Server) sectorCenters(p access.Principal) []string {
	reg, err := s.registry()
	if err != nil {
		return []string{}
	}
	out := []string{}
	for _, c := range reg.Centers {
		if c.Kind == registry.KindSectoralISC && slices.ContainsFunc(c.Sectors, func(x string) bool { return slices.Contains(p.Sectors, x) }) {
			out = append(out, c.ID)
		}
	}
	return out
}

// recipientOf says whether the principal is a notification's recipient.
func (s *Server) recipientOf(p access.Principal, kind, recipient string) bool {
	switch p.Role {
	case access.SectorAnalyst:
		return kind == registry.KindSectoralISC && slices.Contains(s.sectorCenters(p), recipient)
	case access.NCCAnalyst:
		return kind == "ncc"
	case access.OISCAnalyst:
		return kind == "oisc" && recipient == p.OISC
	case access.Owner:
		return kind == notify.KindOrg && recipient == p.Org
	}
	return false
}

// notificationScope is the filter of the notifications the principal
// received.
func (s *Server) notificationScope(p access.Principal) (store.NotificationRecipient, error) {
	switch p.Role {
	case access.SectorAnalyst:
		return store.NotificationRecipient{Kind: registry.KindSectoralISC, IDs: s.sectorCenters(p)}, nil
	case access.NCCAnalyst:
		return store.NotificationRecipient{Kind: "ncc"}, nil
	case access.OISCAnalyst:
		return store.NotificationRecipient{Kind: "oisc", ID: p.OISC}, nil
	case access.Owner:
		return store.NotificationRecipient{Kind: notify.KindOrg, ID: p.Org}, nil
	}
	return store.NotificationRecipient{}, &Error{Status: fiber.StatusForbidden, Code: CodeForbidden,
		Message: "role " + string(p.Role) + " receives no notifications here"}
}

// listNotifications answers GET /api/v1/notifications: what the caller's
// center or organisation was sent, newest first, with when it was
// acknowledged.
func (s *Server) listNotifications(c *fiber.Ctx) error {
	r, err := s.notificationScope(principal(c))
	if err != nil {
		return err
	}
	limit := 100
	if v := c.Query("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > s.cfg.MaxLimit {
			return badParam("limit", "must be 1..%d", s.cfg.MaxLimit)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	list, err := s.st.ReceivedNotifications(ctx, r, limit)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"notifications": list})
}

// ackNotification answers POST /api/v1/notifications/{id}/ack: the
// caller, its recipient, acknowledges a notification (202: the ncc
// records acknowledged_at at once). Another's notification answers 404.
func (s *Server) ackNotification(c *fiber.Ctx) error {
	p := principal(c)
	if _, err := s.notificationScope(p); err != nil {
		return err
	}
	id := c.Params("id")
	if _, err := uuid.Parse(id); err != nil {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such notification"}
	}
	b, err := s.requestBus()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.QueryTimeout)
	defer cancel()
	sent, err := s.st.FindSentNotification(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.recipientOf(p, sent.Kind, sent.Recipient) {
		return &Error{Status: fiber.StatusNotFound, Code: CodeNotFound, Message: "no such notification"}
	}
	if err != nil {
		return err
	}
	ack := notify.Ack{NotificationID: id, Recipient: sent.Recipient, At: s.now().UTC()}
	data, _ := json.Marshal(ack)
	if err := b.JetStreamPublish(ctx, bus.NotifyAckSubject, "ack/"+id, data); err != nil {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the acknowledgement could not be stored; try again", Err: err}
	}
	return c.Status(fiber.StatusAccepted).JSON(ack)
}

// analystOnly refuses owners (and every role that changes no incident).
func analystOnly(c *fiber.Ctx) error {
	switch principal(c).Role {
	case access.NCCAnalyst, access.OISCAnalyst:
		return nil
	}
	return &Error{Status: fiber.StatusForbidden, Code: CodeForbidden, Message: "the NCC's and OISCs' analysts merge and split incidents"}
}

// mergeIncident answers POST /api/v1/incidents/{id}/merge {"into": id}:
// the incident is closed as a duplicate of "into", which takes its alerts
// (and grouping sends it those that would have joined the merged one).
func (s *Server) mergeIncident(c *fiber.Ctx) error {
	if err := analystOnly(c); err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var body struct {
		Into string `json:"into"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if _, err := uuid.Parse(body.Into); err != nil {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "into", Message: "into is the id of the incident to merge into"}
	}
	if err := incidentParam(c); err != nil {
		return err
	}
	p := principal(c)
	reply, err := s.askNCC(bus.RPCIncidentMerge, bus.IncidentMergeRequest{ID: c.Params("id"), Into: body.Into, IfMatch: version,
		Scope: p.EventScope(), Actor: actor(p)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(reply.Incident.Version))
	return c.JSON(reply.Incident)
}

// splitIncident answers POST /api/v1/incidents/{id}/split {"alert_ids":
// [...]}: a new incident (201) holding those alerts, moved out of this one.
func (s *Server) splitIncident(c *fiber.Ctx) error {
	if err := analystOnly(c); err != nil {
		return err
	}
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	var body struct {
		AlertIDs []string `json:"alert_ids"`
	}
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if len(body.AlertIDs) == 0 || len(body.AlertIDs) > 1000 {
		return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: "alert_ids", Message: "1 to 1000 alert ids"}
	}
	for i, id := range body.AlertIDs {
		if _, err := uuid.Parse(id); err != nil {
			return &Error{Status: fiber.StatusBadRequest, Code: CodeInvalidField, Field: fmt.Sprintf("alert_ids[%d]", i), Message: "not an alert id"}
		}
	}
	if err := incidentParam(c); err != nil {
		return err
	}
	p := principal(c)
	reply, err := s.askNCC(bus.RPCIncidentSplit, bus.IncidentSplitRequest{ID: c.Params("id"), AlertIDs: body.AlertIDs, IfMatch: version,
		Scope: p.EventScope(), Actor: actor(p)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(reply.Incident.Version))
	c.Set(fiber.HeaderLocation, "/api/v1/incidents/"+reply.Incident.ID)
	return c.Status(fiber.StatusCreated).JSON(reply.Incident)
}
