package ncc

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/kuzet-kz/kuzet/internal/alert"
	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
)

// ruleSet is the compiled rule set in use, swapped atomically on reload.
type ruleSet = sigma.RuleSet

func (n *NCC) ruleSource() sigma.Source {
	return sigma.Source{Builtin: n.cfg.Rules.Builtin, Paths: n.cfg.Rules.Dirs}
}

// loadRules compiles the configured rules. Rules that do not compile are
// logged and counted; the others run.
func (n *NCC) loadRules() (*ruleSet, error) {
	rs, err := sigma.Load(n.ruleSource(), sigma.Options{})
	if err != nil {
		return nil, err
	}
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

// detectEvent runs the rule set on one event and returns its alerts.
func (n *NCC) detectEvent(rs *ruleSet, ev *event.Event, doc map[string]any, now time.Time) []alert.Alert {
	var out []alert.Alert
	rs.Engine.Match(sigma.NestedEvent{Doc: doc, Namespace: event.DocNamespace(doc)}, func(r *sigma.CompiledRule) {
		a := alert.FromSigma(r, rs.Version, ev, now)
		out = append(out, a)
		n.m.alerts.WithLabelValues(a.Level).Inc()
	})
	return out
}
