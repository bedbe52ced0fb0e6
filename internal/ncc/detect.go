package ncc

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/correlate"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// ruleSet is the compiled rule set in use, swapped atomically on reload,
// with its correlations: a rule that only correlation rules reference
// (generate: false, the default) raises no alert of its own.
type ruleSet struct {
	*sigma.RuleSet
	corr *correlate.Set
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

// detectEvent runs the rule set on one event: the alerts of the rules that
// raise their own, and a signal for every correlation that references a
// rule that matched.
func (n *NCC) detectEvent(rs *ruleSet, ev *event.Event, doc map[string]any, now time.Time) (out []alert.Alert, sigs []correlate.Signal) {
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
		a := alert.FromSigma(r, rs.Version, ev, now)
		out = append(out, a)
		n.m.alerts.WithLabelValues(a.Level).Inc()
	})
	return out, sigs
}
