package ncc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/kuzet-kz/kuzet/internal/event"
	"github.com/kuzet-kz/kuzet/internal/sigma"
	"github.com/kuzet-kz/kuzet/internal/store"
	rulepack "github.com/kuzet-kz/kuzet/pipelines/rules"
)

// ruleSet is a compiled rule set and its version (a hash of the rule
// files), swapped atomically on reload.
type ruleSet struct {
	eng     *sigma.Engine
	version string
	rules   int
	// fingerprint of the directories (paths, sizes, modification times).
	fingerprint string
}

// alertNamespace makes alert ids deterministic: the same rule on the same
// event gives the same id, so a redelivered batch recreates its alerts.
var alertNamespace = uuid.MustParse("6f1d3c36-7d0e-4a5b-9f58-0e3c1b2a9d41")

// AlertID is the id of the alert of a rule on an event.
func AlertID(ruleID, eventID string) uuid.UUID {
	return uuid.NewSHA1(alertNamespace, []byte(ruleID+"|"+eventID))
}

type ruleFile struct {
	name string
	data []byte
}

func (n *NCC) readRules() ([]ruleFile, string, error) {
	var files []ruleFile
	var fp strings.Builder
	if n.cfg.Rules.Builtin {
		err := fs.WalkDir(rulepack.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
				return err
			}
			data, err := fs.ReadFile(rulepack.FS, p)
			files = append(files, ruleFile{"builtin/" + p, data})
			return err
		})
		if err != nil {
			return nil, "", err
		}
	}
	for _, dir := range n.cfg.Rules.Dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			fmt.Fprintf(&fp, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
			data, err := os.ReadFile(p)
			files = append(files, ruleFile{p, data})
			return err
		})
		if err != nil {
			return nil, "", err
		}
	}
	return files, fp.String(), nil
}

// loadRules compiles the configured rules. Rules that do not compile are
// logged and counted; the others run.
func (n *NCC) loadRules() (*ruleSet, error) {
	files, fp, err := n.readRules()
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	h := sha256.New()
	var rules []*sigma.Rule
	for _, f := range files {
		h.Write([]byte(f.name))
		h.Write(f.data)
		rs, errs := sigma.ParseRules(f.name, f.data)
		rules = append(rules, rs...)
		for _, e := range errs {
			n.log.Warn("rule rejected", "err", e)
		}
		n.m.rulesRejected.Add(float64(len(errs)))
	}
	ps, err := sigma.DefaultPipelines()
	if err != nil {
		return nil, err
	}
	eng, rejected, warnings := sigma.Compile(rules, sigma.Options{Pipelines: ps})
	for _, r := range rejected {
		n.log.Warn("rule rejected", "file", r.File, "err", r.Err)
	}
	n.m.rulesRejected.Add(float64(len(rejected)))
	n.log.Debug("rule warnings", "count", len(warnings))
	rs := &ruleSet{eng: eng, version: hex.EncodeToString(h.Sum(nil))[:12], rules: len(eng.Rules()), fingerprint: fp}
	n.m.rulesLoaded.Set(float64(rs.rules))
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
		_, fp, err := n.readRules()
		if err != nil || fp == cur.Load().fingerprint {
			continue
		}
		rs, err := n.loadRules()
		if err != nil {
			n.log.Error("rule reload failed; the previous rule set stays", "err", err)
			continue
		}
		old := cur.Swap(rs)
		n.m.ruleReloads.Inc()
		n.log.Info("rule set reloaded", "rules", rs.rules, "version", rs.version, "previous", old.version)
	}
}

// namespaces maps a source type to its namespace in the event.
var namespaces = map[string]string{"winevent": "winlog", "zeek": "zeek", "suricata": "suricata", "auditd": "auditd",
	"cef": "cef", "leef": "leef", "wazuh": "wazuh"}

func attackTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if strings.HasPrefix(t, "attack.") {
			out = append(out, t)
		}
	}
	return out
}

// detect runs the rule set on one event and returns its alerts.
func (n *NCC) detect(rs *ruleSet, ev *event.Event, doc map[string]any, now time.Time) []store.Alert {
	ns := namespaces[ev.Kuzet.SourceType]
	if ns == "" {
		ns = "fields"
	}
	var out []store.Alert
	rs.eng.Match(sigma.NestedEvent{Doc: doc, Namespace: ns}, func(r *sigma.CompiledRule) {
		a := store.Alert{
			ID: AlertID(r.ID(), ev.Kuzet.EventID), ReceivedAt: ev.Kuzet.ReceivedAt, DetectedAt: now, EventTime: ev.Timestamp,
			RuleID: r.ID(), RuleTitle: r.Rule.Title, Level: r.Rule.Level, Tags: r.Rule.Tags, Attack: attackTags(r.Rule.Tags),
			EventIDs: []string{ev.Kuzet.EventID}, Collector: ev.Kuzet.Collector, OISC: ev.Kuzet.OISC, Org: ev.Kuzet.Org,
			Object: ev.Kuzet.Object, Sector: ev.Kuzet.Sector, Asset: ev.Kuzet.Asset, Criticality: ev.Kuzet.Criticality,
			HostName: ev.GetString("host.name"), SourceIP: ev.GetString("source.ip"), UserName: ev.GetString("user.name"),
			RuleSet: rs.version,
		}
		if a.Level == "" {
			a.Level = "medium"
		}
		out = append(out, a)
		n.m.alerts.WithLabelValues(a.Level).Inc()
	})
	return out
}
