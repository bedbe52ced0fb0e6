// Package alert is the detection kuzet reports: the Alert type, its
// deterministic id, building an alert from a Sigma match, and the ATT&CK
// tags among a rule's tags. It is pure domain logic: the store adapts
// alerts to rows, the bus publishes them, the api serves them.
package alert

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// Alert is a detection: a rule that matched events. Its id is
// deterministic (rule and event ids), so a redelivered batch recreates the
// same alert, which the table keeps once.
type Alert struct {
	ID uuid.UUID `json:"alert_id"`
	// ReceivedAt is the matched event's received_at: immutable, so a
	// recreated alert lands in the same partition.
	ReceivedAt time.Time `json:"received_at"`
	DetectedAt time.Time `json:"detected_at"`
	EventTime  time.Time `json:"event_time"`
	RuleID     string    `json:"rule_id"`
	RuleTitle  string    `json:"rule_title"`
	Level      string    `json:"level"`
	Tags       []string  `json:"tags"`
	// Attack holds the ATT&CK tactics and techniques among the tags.
	Attack      []string `json:"attack"`
	EventIDs    []string `json:"event_ids"`
	Collector   string   `json:"collector"`
	OISC        string   `json:"oisc"`
	Org         string   `json:"org,omitempty"`
	Object      string   `json:"object,omitempty"`
	Sector      string   `json:"sector,omitempty"`
	Asset       string   `json:"asset"`
	Criticality int      `json:"criticality,omitempty"`
	HostName    string   `json:"host_name,omitempty"`
	SourceIP    string   `json:"source_ip,omitempty"`
	UserName    string   `json:"user_name,omitempty"`
	// RuleSet is the version (content hash) of the rule set that matched.
	RuleSet string `json:"ruleset"`
	// Correlation alerts: one row per involved organisation (its share of
	// the events), Version growing with every update of the episode, and
	// the episode's event count and latest event time. A detection alert
	// has version 0 and counts its one event.
	Correlation bool      `json:"correlation,omitempty"`
	Version     uint64    `json:"version,omitempty"`
	EventCount  int       `json:"event_count,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
}

// DefaultLevel is the level of an alert whose rule states none.
const DefaultLevel = "medium"

// namespace makes alert ids deterministic: the same rule on the same event
// gives the same id, so a redelivered batch recreates its alerts.
var namespace = uuid.MustParse("6f1d3c36-7d0e-4a5b-9f58-0e3c1b2a9d41")

// ID is the id of the alert of a rule on an event: a UUIDv5 of both ids.
func ID(ruleID, eventID string) uuid.UUID {
	return uuid.NewSHA1(namespace, []byte(ruleID+"|"+eventID))
}

// AttackTags returns the ATT&CK tags (prefix "attack.") among tags, in
// their order; nil when there are none.
func AttackTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if strings.HasPrefix(t, "attack.") {
			out = append(out, t)
		}
	}
	return out
}

// FromSigma is the alert of rule r, of the rule set of version ruleSet,
// matching ev, detected at detectedAt. It copies the event's place (OISC,
// organisation, object, sector, asset) and the host, source address and
// user an analyst looks for first.
func FromSigma(r *sigma.CompiledRule, ruleSet string, ev *event.Event, detectedAt time.Time) Alert {
	a := Alert{
		ID: ID(r.ID(), ev.Kuzet.EventID), ReceivedAt: ev.Kuzet.ReceivedAt, DetectedAt: detectedAt, EventTime: ev.Timestamp,
		RuleID: r.ID(), RuleTitle: r.Rule.Title, Level: r.Rule.Level, Tags: r.Rule.Tags, Attack: AttackTags(r.Rule.Tags),
		EventIDs: []string{ev.Kuzet.EventID}, Collector: ev.Kuzet.Collector, OISC: ev.Kuzet.OISC, Org: ev.Kuzet.Org,
		Object: ev.Kuzet.Object, Sector: ev.Kuzet.Sector, Asset: ev.Kuzet.Asset, Criticality: ev.Kuzet.Criticality,
		HostName: ev.GetString("host.name"), SourceIP: ev.GetString("source.ip"), UserName: ev.GetString("user.name"),
		RuleSet: ruleSet,
	}
	if a.Level == "" {
		a.Level = DefaultLevel
	}
	return a
}
