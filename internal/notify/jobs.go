package notify

import (
	"strconv"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

// Job is one notification to send: what the outbox carries. The payload is
// snapshotted when the job is made, so every attempt sends the same bytes
// (and the same SHA-256); where it goes (URL, secret, addresses) is read
// from the registry at each attempt.
type Job struct {
	NotificationID string    `json:"notification_id"`
	IncidentID     string    `json:"incident_id"`
	Org            string    `json:"org,omitempty"`
	Regime         string    `json:"regime"`
	Stage          string    `json:"stage"`
	Recipient      string    `json:"recipient"`
	Kind           string    `json:"kind"`
	Channel        string    `json:"channel"`
	Language       string    `json:"language"`
	DueAt          time.Time `json:"due_at,omitzero"`
	TLP            string    `json:"tlp"`
	Payload        []byte    `json:"payload"`
	PayloadSHA256  string    `json:"payload_sha256"`
}

// MsgID is the job's outbox message id: one job per notification.
func (j *Job) MsgID() string { return "send/" + j.NotificationID }

// Watch is a pending stage with a clock: the notification stage raises a
// meta-alert when it is still unsent past due_at.
type Watch struct {
	IncidentID string    `json:"incident_id"`
	Org        string    `json:"org,omitempty"`
	Regime     string    `json:"regime"`
	Stage      string    `json:"stage"`
	DueAt      time.Time `json:"due_at"`
}

// Key identifies the watched stage at its due time: an amendment that moves
// due_at makes a new watch.
func (w *Watch) Key() string {
	return w.IncidentID + "/" + w.Regime + "/" + w.Stage + "/" + strconv.FormatInt(w.DueAt.Unix(), 10)
}

// MsgID is the watch's outbox message id.
func (w *Watch) MsgID() string { return "watch/" + w.Key() }

// Released reports whether the incident's notifications may go out: an
// automated incident (origin oisc_detected) waits until its OISC's analyst
// confirms it, unless that OISC sends automatically (registry auto_notify);
// an incident someone declared or reported is released at once. A false
// positive is never released.
func Released(in *incident.Incident, reg *registry.Registry) bool {
	switch in.Determination {
	case incident.DeterminationFalsePositive:
		return false
	case incident.DeterminationConfirmed:
		return true
	}
	if in.Origin != incident.OriginOISCDetected {
		return true
	}
	if reg != nil {
		if c := reg.Center(in.CenterID); c != nil && c.AutoNotify {
			return true
		}
	}
	return false
}

// Sendable reports whether a notification of a stage is to be sent now:
// the incident is released, the stage pending with its clock started, the
// notification unsent and its recipient resolved.
func Sendable(in *incident.Incident, s *incident.Stage, n *incident.Notification, released bool) bool {
	return released && s.Status == incident.StagePending && !s.HasFlag(incident.FlagAwaitingAnchor) &&
		n.SentAt.IsZero() && n.Channel != ChannelNone && n.Channel != ""
}

// Builder makes the jobs and watches of an incident.
type Builder struct {
	Resolver *Resolver
	// Regimes give each stage's legal basis for the payload (nil: none).
	Regimes *incident.Regimes
	// Zone is where local times in payloads are shown (default Asia/Almaty).
	Zone *time.Location
}

// Plan returns the jobs for the incident's sendable notifications and the
// watches of its pending stages with a clock.
func (b *Builder) Plan(in *incident.Incident) ([]Job, []Watch, error) {
	return b.plan(in, true)
}

// PlanIDs is Plan without the payloads: the message ids of the jobs and
// watches an incident has (to tell which a newer version adds).
func (b *Builder) PlanIDs(in *incident.Incident) []string {
	jobs, watches, _ := b.plan(in, false)
	ids := make([]string, 0, len(jobs)+len(watches))
	for i := range jobs {
		ids = append(ids, jobs[i].MsgID())
	}
	for i := range watches {
		ids = append(ids, watches[i].MsgID())
	}
	return ids
}

func (b *Builder) plan(in *incident.Incident, payloads bool) ([]Job, []Watch, error) {
	var reg *registry.Registry
	if b.Resolver != nil {
		reg = b.Resolver.Registry()
	}
	released := Released(in, reg)
	var jobs []Job
	var watches []Watch
	for i := range in.Stages {
		s := &in.Stages[i]
		if s.Status == incident.StagePending && !s.DueAt.IsZero() {
			watches = append(watches, Watch{IncidentID: in.ID, Org: in.Org, Regime: s.Regime, Stage: s.Stage, DueAt: s.DueAt})
		}
		for j := range s.Notifications {
			n := &s.Notifications[j]
			if !Sendable(in, s, n, released) {
				continue
			}
			var data []byte
			var sum string
			if payloads {
				var err error
				if data, sum, err = incident.SnapshotPayload(b.payload(in, s, n, reg)); err != nil {
					return nil, nil, err
				}
			}
			jobs = append(jobs, Job{NotificationID: n.ID, IncidentID: in.ID, Org: in.Org, Regime: s.Regime, Stage: s.Stage,
				Recipient: n.Recipient, Kind: n.Kind, Channel: n.Channel, Language: n.Language, DueAt: s.DueAt,
				TLP: string(tlpOf(in)), Payload: data, PayloadSHA256: sum})
		}
	}
	return jobs, watches, nil
}

func tlpOf(in *incident.Incident) incident.TLP {
	if in.TLP == "" {
		return incident.TLPAmber
	}
	return in.TLP
}
