package grouping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/access"
	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// The ncc answers the API's incident changes and new incidents (see
// bus.RPCIncidentChange): it owns incident writes, so a change from the
// API goes through the same compare-and-set, clocks and outbox as
// grouping's.

// InScope reports whether an incident is in a caller's scope: the NCC's
// (empty) sees every incident; any other scope sees local incidents of
// its OISC, organisation or sectors, never a national one.
func InScope(in *incident.Incident, sc access.EventScope) bool {
	if !sc.MayRead(string(in.TLP), in.TLPRecipients) {
		return false
	}
	if sc.OISC == "" && sc.Org == "" && len(sc.Sectors) == 0 {
		return true
	}
	if in.National {
		return false
	}
	if sc.OISC != "" && in.CenterID != sc.OISC {
		return false
	}
	if sc.Org != "" && in.Org != sc.Org {
		return false
	}
	if len(sc.Sectors) > 0 && !slices.ContainsFunc(in.Sectors, func(s string) bool { return slices.Contains(sc.Sectors, s) }) {
		return false
	}
	return true
}

func rpcError(status int, code, field, format string, args ...any) *bus.RPCError {
	return &bus.RPCError{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

type rpcMetrics struct{ requests *prometheus.CounterVec }

// serveRPC answers the API's requests until the stage stops.
func (s *Stage) serveRPC(reg prometheus.Registerer) error {
	s.rm = &rpcMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_incident_requests_total",
		Help: "Incident changes and new incidents asked by the API, by kind and outcome (applied, created, replayed, or an error code)."},
		[]string{"kind", "outcome"})}
	if reg != nil {
		reg.MustRegister(s.rm.requests)
	}
	for subject, h := range map[string]func(context.Context, []byte) any{
		bus.RPCIncidentChange: s.handleChange,
		bus.RPCIncidentCreate: s.handleCreate,
		bus.RPCIncidentMerge:  s.handleMerge,
		bus.RPCIncidentSplit:  s.handleSplit,
	} {
		stop, err := bus.Serve(s.js.Conn(), subject, h)
		if err != nil {
			return err
		}
		s.rpcStops = append(s.rpcStops, stop)
	}
	return nil
}

// handleChange applies an analyst's change: the incident in the caller's
// scope (else not found), at the version the caller saw when it says one
// (else 409 version_conflict), along the state machine (else 409
// invalid_transition); the clocks are recomputed, so a confirmation
// releases the pending notifications.
func (s *Stage) handleChange(ctx context.Context, data []byte) any {
	var req bus.IncidentChangeRequest
	if err := json.Unmarshal(data, &req); err != nil {
		s.rm.requests.WithLabelValues("change", "bad_request").Inc()
		return bus.IncidentReply{Error: rpcError(400, "bad_request", "", "request not decoded: %v", err)}
	}
	now := time.Now().UTC()
	req.Change.At = now
	var refusal *bus.RPCError
	var entry incident.LogEntry
	next, err := s.update(ctx, req.ID, now, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		refusal = nil
		if stored == nil || !InScope(stored, req.Scope) {
			refusal = rpcError(404, "not_found", "", "no such incident")
			return incident.Incident{}, nil, errNoWrite
		}
		want := rev
		if req.IfMatch != 0 {
			want = req.IfMatch
		}
		ch := req.Change
		if ch.Status != "" && ch.Action == "" {
			switch {
			case stored.Status == incident.StatusClosed:
				ch.Action = incident.ActionReopen
			case ch.Status == incident.StatusClosed:
				ch.Action = incident.ActionClose
			default:
				ch.Action = incident.ActionAdvance
			}
		}
		applied, e, err := incident.Apply(*stored, want, ch)
		entry = e
		var ce *incident.ConflictError
		switch {
		case errors.As(err, &ce):
			refusal = rpcError(409, "version_conflict", "", "the incident changed since version %d: it is at version %d now", req.IfMatch, rev)
		case errors.Is(err, incident.ErrTransition):
			refusal = rpcError(409, "invalid_transition", "status", "%v", err)
		case errors.Is(err, incident.ErrInvalid):
			refusal = rpcError(422, "invalid_change", "", "%v", err)
		case err != nil:
			return incident.Incident{}, nil, err
		}
		if refusal != nil {
			return incident.Incident{}, nil, errNoWrite
		}
		if s.opts.Clocks != nil {
			if stages, _, err := s.opts.Clocks.Compute(applied.ClockInput(), now); err == nil {
				applied.Stages = stages
			}
		}
		detail, _ := json.Marshal(e)
		return applied, []store.IncidentLogEntry{{ID: entryID(req.ID, "api/"+string(req.Change.Action)+"/"+req.Change.Actor, now),
			IncidentID: req.ID, At: now, Actor: req.Change.Actor, Action: changeAction(req.Change), Outcome: string(e.Outcome), Detail: detail}}, nil
	})
	if err != nil {
		s.rm.requests.WithLabelValues("change", "error").Inc()
		s.log.Warn("incident change failed", "incident", req.ID, "err", err)
		return bus.IncidentReply{Error: rpcError(503, "unavailable", "", "the change could not be stored; try again")}
	}
	if refusal != nil {
		s.rm.requests.WithLabelValues("change", refusal.Code).Inc()
		if refusal.Status == 409 || refusal.Status == 422 {
			// A refused attempt is history too.
			detail, _ := json.Marshal(entry)
			_ = s.st.InsertIncidentLog(ctx, []store.IncidentLogEntry{{ID: entryID(req.ID, "api-refused/"+req.Change.Actor, now),
				IncidentID: req.ID, At: now, Actor: req.Change.Actor, Action: changeAction(req.Change), Outcome: string(entry.Outcome),
				Version: req.IfMatch, Detail: detail}})
		}
		return bus.IncidentReply{Error: refusal}
	}
	s.rm.requests.WithLabelValues("change", "applied").Inc()
	return bus.IncidentReply{Incident: &next}
}

// changeAction names a change for the history: its transition, else what
// it sets.
func changeAction(c incident.Change) string {
	switch {
	case c.Declared:
		return "declare"
	case c.Action != "":
		return string(c.Action)
	case c.Determination != "":
		return "determine"
	case c.Assignee != "":
		return "assign"
	case c.Task != nil:
		return "task"
	case c.Comment != "":
		return "comment"
	}
	return "edit"
}

// handleCreate stores a declared or self-reported incident under the id
// the API chose; the same id again returns what is stored (the API's
// Idempotency-Key), unless its request differs (409 idempotency_conflict).
func (s *Stage) handleCreate(ctx context.Context, data []byte) any {
	var req bus.IncidentCreateRequest
	if err := json.Unmarshal(data, &req); err != nil {
		s.rm.requests.WithLabelValues("create", "bad_request").Inc()
		return bus.IncidentReply{Error: rpcError(400, "bad_request", "", "request not decoded: %v", err)}
	}
	in := req.Incident
	if refusal := s.checkNew(&in, req.Scope); refusal != nil {
		s.rm.requests.WithLabelValues("create", refusal.Code).Inc()
		return bus.IncidentReply{Error: refusal}
	}
	now := time.Now().UTC()
	in.OpenedAt = now
	if in.AcknowledgedAt.IsZero() {
		in.AcknowledgedAt = now // reported by a person: acknowledged as it is made
	}
	created := false
	var refusal *bus.RPCError
	stored, err := s.update(ctx, in.ID, now, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		created, refusal = false, nil
		if stored != nil {
			if stored.RequestSHA256 != in.RequestSHA256 || !InScope(stored, req.Scope) {
				refusal = rpcError(409, "idempotency_conflict", "", "this Idempotency-Key was used for another request")
			}
			return incident.Incident{}, nil, errNoWrite
		}
		next := in.Clone()
		if s.opts.Clocks != nil {
			stages, _, err := s.opts.Clocks.Compute(next.ClockInput(), now)
			if err != nil {
				return incident.Incident{}, nil, err
			}
			next.Stages = stages
		}
		created = true
		action := "report"
		if in.Origin != incident.OriginOwnerSelfIdentified {
			action = "declare"
		}
		return next, []store.IncidentLogEntry{{ID: entryID(in.ID, action, now), IncidentID: in.ID, At: now, Actor: in.ReportedBy,
			Action: action, Outcome: "applied"}}, nil
	})
	if err != nil {
		s.rm.requests.WithLabelValues("create", "error").Inc()
		s.log.Warn("new incident not stored", "incident", in.ID, "err", err)
		return bus.IncidentReply{Error: rpcError(503, "unavailable", "", "the incident could not be stored; nothing was; try again")}
	}
	if refusal != nil {
		s.rm.requests.WithLabelValues("create", refusal.Code).Inc()
		return bus.IncidentReply{Error: refusal}
	}
	outcome := "replayed"
	if created {
		outcome = "created"
		s.log.Info("incident declared", "incident", stored.ID, "origin", stored.Origin, "org", stored.Org, "by", stored.ReportedBy)
	}
	s.rm.requests.WithLabelValues("create", outcome).Inc()
	return bus.IncidentReply{Incident: &stored, Created: created}
}

// checkNew validates a new incident against the registry and the caller's
// scope: its organisation exists and is the caller's (an owner's own, one
// connected to an OISC), and its objects are the organisation's.
func (s *Stage) checkNew(in *incident.Incident, sc access.EventScope) *bus.RPCError {
	if in.ID == "" || in.Org == "" || in.DetectedAt.IsZero() {
		return rpcError(400, "bad_request", "", "an incident needs an id, an organisation and detected_at")
	}
	var reg = s.registry()
	if reg == nil {
		return rpcError(503, "unavailable", "", "the registry is not loaded yet")
	}
	org := reg.Organisation(in.Org)
	if org == nil {
		return rpcError(422, "unknown_org", "org", "no organisation %q in the registry", in.Org)
	}
	if sc.Org != "" && sc.Org != in.Org {
		return rpcError(403, "forbidden", "org", "an owner reports its own organisation's incidents")
	}
	if sc.OISC != "" && !slices.Contains(org.OISCs, sc.OISC) {
		return rpcError(422, "unknown_org", "org", "organisation %q is not connected to %s", in.Org, sc.OISC)
	}
	in.Orgs = []string{in.Org}
	sectors := map[string]bool{}
	for i, id := range in.ObjectIDs {
		o := reg.Object(id)
		if o == nil || o.Owner != in.Org {
			return rpcError(422, "unknown_object", fmt.Sprintf("object_ids[%d]", i), "no object %q of organisation %q", id, in.Org)
		}
		sectors[o.Sector] = true
		if in.CenterID == "" {
			in.CenterID = o.OISC
		}
	}
	in.Sectors = nil
	for _, sct := range org.Sectors {
		if len(sectors) == 0 || sectors[sct] {
			in.Sectors = append(in.Sectors, sct)
		}
	}
	for sct := range sectors {
		if !slices.Contains(in.Sectors, sct) {
			in.Sectors = append(in.Sectors, sct)
		}
	}
	slices.Sort(in.Sectors)
	if in.CenterID == "" && len(org.OISCs) > 0 {
		in.CenterID = org.OISCs[0]
	}
	if sc.OISC != "" {
		in.CenterID = sc.OISC
	}
	return nil
}

// readScoped reads an incident the caller may see, or a not-found refusal.
func (s *Stage) readScoped(ctx context.Context, id string, sc access.EventScope) (*incident.Incident, *bus.RPCError, error) {
	in, err := s.readIncident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if in == nil || !InScope(in, sc) {
		return nil, rpcError(404, "not_found", "", "no such incident %s", id), nil
	}
	return in, nil, nil
}

// handleMerge merges an incident into another of the same organisation (or
// into a national one): the survivor takes its alerts, rules, objects,
// entities, times and the higher TLP; it is closed as the survivor's
// duplicate (a system transition); its alerts are linked to the survivor,
// and grouping sends the alerts that would have joined it to the survivor.
func (s *Stage) handleMerge(ctx context.Context, data []byte) any {
	var req bus.IncidentMergeRequest
	if err := json.Unmarshal(data, &req); err != nil || req.ID == "" || req.Into == "" {
		return bus.IncidentReply{Error: rpcError(400, "bad_request", "", "a merge needs id and into")}
	}
	fail := func(err error) any {
		s.rm.requests.WithLabelValues("merge", "error").Inc()
		s.log.Warn("incident merge failed", "incident", req.ID, "into", req.Into, "err", err)
		return bus.IncidentReply{Error: rpcError(503, "unavailable", "", "the merge could not be stored; try again")}
	}
	refuse := func(e *bus.RPCError) any {
		s.rm.requests.WithLabelValues("merge", e.Code).Inc()
		return bus.IncidentReply{Error: e}
	}
	if req.ID == req.Into {
		return refuse(rpcError(422, "invalid_change", "into", "an incident cannot merge into itself"))
	}
	loser, e, err := s.readScoped(ctx, req.ID, req.Scope)
	if err != nil {
		return fail(err)
	}
	if e != nil {
		return refuse(e)
	}
	if req.IfMatch != 0 && loser.Stale(req.IfMatch) {
		return refuse(rpcError(409, "version_conflict", "", "the incident changed since version %d: it is at version %d now", req.IfMatch, loser.Version))
	}
	if _, e, err := s.readScoped(ctx, req.Into, req.Scope); err != nil {
		return fail(err)
	} else if e != nil {
		e.Field = "into"
		return refuse(e)
	}
	now := time.Now().UTC()
	var refusal *bus.RPCError
	survivor, err := s.update(ctx, req.Into, now, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		refusal = nil
		merged, _, err := incident.Merge(*stored, *loser, now)
		if err != nil {
			refusal = rpcError(422, "invalid_change", "into", "%v", err)
			return incident.Incident{}, nil, errNoWrite
		}
		if s.opts.Clocks != nil {
			if stages, _, err := s.opts.Clocks.Compute(merged.ClockInput(), now); err == nil {
				merged.Stages = stages
			}
		}
		d, _ := json.Marshal(map[string]string{"merged": loser.ID})
		return merged, []store.IncidentLogEntry{{ID: entryID(req.Into, "merge-in/"+loser.ID, now), IncidentID: req.Into, At: now,
			Actor: req.Actor, Action: "merge_in", Outcome: "applied", Detail: d}}, nil
	})
	if err != nil {
		return fail(err)
	}
	if refusal != nil {
		return refuse(refusal)
	}
	if _, err := s.update(ctx, req.ID, now, func(stored *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		c := incident.Change{Actor: "system:merge", System: true, At: now, Action: incident.ActionMerge, Status: incident.StatusClosed,
			Resolution: incident.ResolutionDuplicate, DuplicateOf: req.Into}
		closed, le, err := incident.Apply(*stored, rev, c)
		if err != nil {
			return incident.Incident{}, nil, err
		}
		closed.ChangedFrom = rev // a person's merge, though the close is the system's
		le.Actor = req.Actor
		d, _ := json.Marshal(le)
		return closed, []store.IncidentLogEntry{{ID: entryID(req.ID, "merge/"+req.Into, now), IncidentID: req.ID, At: now,
			Actor: req.Actor, Action: "merge", Outcome: "applied", Detail: d}}, nil
	}); err != nil {
		return fail(err)
	}
	links, err := s.st.IncidentAlertIDs(ctx, req.ID)
	if err != nil {
		return fail(err)
	}
	for i := range links {
		links[i].IncidentID, links[i].LinkedAt = req.Into, now
	}
	if err := s.st.LinkIncidentAlerts(ctx, links); err != nil {
		return fail(err)
	}
	s.rm.requests.WithLabelValues("merge", "applied").Inc()
	return bus.IncidentReply{Incident: &survivor}
}

// handleSplit moves some of an incident's alerts into a new incident of
// the same organisation (incident.Split): their links move, and the new
// incident's clocks start.
func (s *Stage) handleSplit(ctx context.Context, data []byte) any {
	var req bus.IncidentSplitRequest
	if err := json.Unmarshal(data, &req); err != nil || req.ID == "" {
		return bus.IncidentReply{Error: rpcError(400, "bad_request", "", "a split needs id and alert_ids")}
	}
	fail := func(err error) any {
		s.rm.requests.WithLabelValues("split", "error").Inc()
		s.log.Warn("incident split failed", "incident", req.ID, "err", err)
		return bus.IncidentReply{Error: rpcError(503, "unavailable", "", "the split could not be stored; try again")}
	}
	refuse := func(e *bus.RPCError) any {
		s.rm.requests.WithLabelValues("split", e.Code).Inc()
		return bus.IncidentReply{Error: e}
	}
	parent, e, err := s.readScoped(ctx, req.ID, req.Scope)
	if err != nil {
		return fail(err)
	}
	if e != nil {
		return refuse(e)
	}
	if req.IfMatch != 0 && parent.Stale(req.IfMatch) {
		return refuse(rpcError(409, "version_conflict", "", "the incident changed since version %d: it is at version %d now", req.IfMatch, parent.Version))
	}
	links, err := s.st.IncidentAlertIDs(ctx, req.ID)
	if err != nil {
		return fail(err)
	}
	held := map[string]store.IncidentAlert{}
	for _, l := range links {
		held[l.AlertID] = l
	}
	for i, id := range req.AlertIDs {
		if _, ok := held[id]; !ok {
			return refuse(rpcError(422, "invalid_change", fmt.Sprintf("alert_ids[%d]", i), "alert %s is not in incident %s", id, req.ID))
		}
	}
	now := time.Now().UTC()
	_, child, err := incident.Split(*parent, req.AlertIDs, now)
	if err != nil {
		return refuse(rpcError(422, "invalid_change", "alert_ids", "%v", err))
	}
	child.OpenedAt = now
	if s.opts.Clocks != nil {
		if stages, _, err := s.opts.Clocks.Compute(child.ClockInput(), now); err == nil {
			child.Stages = stages
		}
	}
	d, _ := json.Marshal(map[string]any{"split_from": req.ID, "alerts": req.AlertIDs})
	stored, err := s.update(ctx, child.ID, now, func(st *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		if st != nil {
			return incident.Incident{}, nil, errNoWrite // the same split again
		}
		return child, []store.IncidentLogEntry{{ID: entryID(child.ID, "split", now), IncidentID: child.ID, At: now,
			Actor: req.Actor, Action: "split", Outcome: "applied", Detail: d}}, nil
	})
	if err != nil {
		return fail(err)
	}
	if _, err := s.update(ctx, req.ID, now, func(st *incident.Incident, rev uint64) (incident.Incident, []store.IncidentLogEntry, error) {
		next := st.Clone()
		next.ChangedFrom = rev // a person's split
		next.Children = append(next.Children, child.ID)
		next.AlertCount = max(0, next.AlertCount-len(req.AlertIDs))
		return next, []store.IncidentLogEntry{{ID: entryID(req.ID, "split-out/"+child.ID, now), IncidentID: req.ID, At: now,
			Actor: req.Actor, Action: "split_out", Outcome: "applied", Detail: d}}, nil
	}); err != nil {
		return fail(err)
	}
	var moves []store.IncidentAlert
	for _, id := range req.AlertIDs {
		l := held[id]
		moves = append(moves, store.IncidentAlert{IncidentID: child.ID, AlertID: id, Org: l.Org, LinkedAt: now},
			store.IncidentAlert{IncidentID: req.ID, AlertID: id, Org: l.Org, LinkedAt: now, Unlinked: true})
	}
	if err := s.st.LinkIncidentAlerts(ctx, moves); err != nil {
		return fail(err)
	}
	s.rm.requests.WithLabelValues("split", "applied").Inc()
	return bus.IncidentReply{Incident: &stored, Created: true}
}
