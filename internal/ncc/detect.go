package ncc

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// ruleSet is the compiled rule set in use, swapped atomically on reload,
// with its correlations: a rule that only correlation rules reference
// (generate: false, the default) raises no alert of its own.
type ruleSet struct {
	*sigma.RuleSet
	corr *correlate.Set
}

// alertNamespace makes alert ids deterministic: the same rule on the same
// event gives the same id, so a redelivered batch recreates its alerts.
var alertNamespace = uuid.MustParse("6f1d3c36-7d0e-4a5b-9f58-0e3c1b2a9d41")

// AlertID is the id of the alert of a rule on an event.
func AlertID(ruleID, eventID string) uuid.UUID {
	return uuid.NewSHA1(alertNamespace, []byte(ruleID+"|"+eventID))
}

func (n *NCC) ruleSource() sigma.Source {
	return sigma.Source{Builtin: n.cfg.Rules.Builtin, Paths: n.cfg.Rules.Dirs}
}

// loadRules compiles the configured rules. Rules that do not compile are
// logged and counted; the others run.
func (n *NCC) loadRules() (*ruleSet, error) {
	loaded, err := sigma.Load(n.ruleSource(), sigma.Options{})
	if err != nil {
		return nil, err
	}
	corr, rejected := correlate.Compile(loaded.Parsed)
	rs := &ruleSet{RuleSet: loaded, corr: corr}
	for _, r := range rejected {
		n.log.Warn("correlation rule rejected", "file", r.File, "err", r.Err)
	}
	n.m.rulesRejected.Add(float64(len(rejected)))
	for _, e := range rs.ParseErrors {
		n.log.Warn("rule rejected", "err", e)
	}
	for _, r := range rs.Rejected {
		n.log.Warn("rule rejected", "file", r.File, "err", r.Err)
	}
	n.m.rulesRejected.Add(float64(len(rs.ParseErrors) + len(rs.Rejected)))
	n.log.Debug("rule warnings", "count", len(rs.Warnings))
	n.m.rulesLoaded.Set(float64(len(rs.Engine.Rules())))
	return rs, nil
}

// watchRules reloads the rule set when the directories change.
func (n *NCC) watchRules(ctx context.Context, cur *atomic.Pointer[ruleSet]) {
	t := time.NewTicker(n.cfg.Rules.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp, err := n.ruleSource().Fingerprint()
		if err != nil || fp == cur.Load().Fingerprint {
			continue
		}
		rs, err := n.loadRules()
		if err != nil {
			n.log.Error("rule reload failed; the previous rule set stays", "err", err)
			continue
		}
		old := cur.Swap(rs)
		n.m.ruleReloads.Inc()
		n.log.Info("rule set reloaded", "rules", len(rs.Engine.Rules()), "version", rs.Version, "previous", old.Version)
	}
}

func attackTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if strings.HasPrefix(t, "attack.") {
			out = append(out, t)
		}
	}
	return out
}

// detect runs the rule set on one event: the alerts of the rules that
// raise their own, and a signal for every correlation that references a
// rule that matched.
func (n *NCC) detect(rs *ruleSet, ev *event.Event, doc map[string]any, now time.Time) (out []store.Alert, sigs []correlate.Signal) {
	sev := sigma.NestedEvent{Doc: doc, Namespace: event.DocNamespace(doc)}
	rs.Engine.Match(sev, func(r *sigma.CompiledRule) {
		for _, c := range rs.corr.Feeds(r.ID()) {
			sig, err := c.Signal(r.ID(), ev.Kuzet.EventID, ev.Timestamp, correlate.EventFields(sev), correlate.Share{
				Org: ev.Kuzet.Org, Object: ev.Kuzet.Object, Sector: ev.Kuzet.Sector, OISC: ev.Kuzet.OISC})
			if err != nil {
				var se *correlate.SignalError
				reason := "invalid"
				if errors.As(err, &se) {
					reason = se.Reason
				}
				n.m.signalsRejected.WithLabelValues(reason).Inc()
				continue
			}
			sigs = append(sigs, sig)
		}
		if !rs.corr.Generates(r.ID()) {
			return // a base rule of correlations only
		}
		a := store.Alert{
			ID: AlertID(r.ID(), ev.Kuzet.EventID), ReceivedAt: ev.Kuzet.ReceivedAt, DetectedAt: now, EventTime: ev.Timestamp,
			RuleID: r.ID(), RuleTitle: r.Rule.Title, Level: r.Rule.Level, Tags: r.Rule.Tags, Attack: attackTags(r.Rule.Tags),
			EventIDs: []string{ev.Kuzet.EventID}, Collector: ev.Kuzet.Collector, OISC: ev.Kuzet.OISC, Org: ev.Kuzet.Org,
			Object: ev.Kuzet.Object, Sector: ev.Kuzet.Sector, Asset: ev.Kuzet.Asset, Criticality: ev.Kuzet.Criticality,
			HostName: ev.GetString("host.name"), SourceIP: ev.GetString("source.ip"), UserName: ev.GetString("user.name"),
			RuleSet: rs.Version,
		}
		if a.Level == "" {
			a.Level = "medium"
		}
		out = append(out, a)
		n.m.alerts.WithLabelValues(a.Level).Inc()
	})
	return out, sigs
}
