package incident_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// t0 is the tests' origin of time; a timeline's "t=1s" is t0 plus one
// second.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// allowed is the lifecycle, written out independently of
// incident.Transitions: "from action to" (system marks a system-only one).
var allowed = map[string]bool{
	"new advance triage":              true,
	"triage advance in_progress":      true,
	"in_progress advance contained":   true,
	"contained advance resolved":      true,
	"resolved close closed":           true,
	"closed reopen in_progress":       true,
	"new merge closed system":         true,
	"triage merge closed system":      true,
	"in_progress merge closed system": true,
	"contained merge closed system":   true,
	"resolved merge closed system":    true,
	"closed merge closed system":      true,
}

func resolutionFor(a incident.Action) incident.Resolution {
	switch a {
	case incident.ActionClose:
		return incident.ResolutionHandled
	case incident.ActionMerge:
		return incident.ResolutionDuplicate
	}
	return ""
}

// TestTransitionTable tries every status pair with every action, as an
// analyst and as the system: exactly the allowed ones apply, the others
// are rejected with ErrTransition and leave the incident unchanged.
func TestTransitionTable(t *testing.T) {
	actions := []incident.Action{incident.ActionAdvance, incident.ActionClose, incident.ActionReopen, incident.ActionMerge}
	n := 0
	for _, from := range incident.Statuses {
		for _, to := range incident.Statuses {
			for _, a := range actions {
				for _, system := range []bool{false, true} {
					name := fmt.Sprintf("%s %s %s", from, a, to)
					if system {
						name += " system"
					}
					in := incident.Incident{ID: "i1", Version: 7, Status: from}
					c := incident.Change{Actor: "analyst1", System: system, At: t0, Action: a, Status: to, Resolution: resolutionFor(a)}
					if a == incident.ActionMerge {
						c.DuplicateOf = "i0"
					}
					got, entry, err := incident.Apply(in, 7, c)
					if allowed[name] {
						n++
						if err != nil {
							t.Errorf("%s: rejected: %v", name, err)
							continue
						}
						if got.Status != to || got.Version != 8 || entry.Outcome != incident.OutcomeApplied || entry.Before != from || entry.After != to {
							t.Errorf("%s: got status %s version %d, log %+v", name, got.Status, got.Version, entry)
						}
						continue
					}
					if !errors.Is(err, incident.ErrTransition) {
						t.Errorf("%s: want ErrTransition, got %v (status %s)", name, err, got.Status)
					}
					if got.Status != from || got.Version != 7 || entry.Outcome != incident.OutcomeRejected {
						t.Errorf("%s: a rejected change altered the incident: %s v%d %s", name, got.Status, got.Version, entry.Outcome)
					}
				}
			}
		}
	}
	if n != len(allowed) || len(incident.Transitions) != len(allowed) {
		t.Errorf("table has %d transitions, %d applied, the issue lists %d", len(incident.Transitions), n, len(allowed))
	}
}

func TestCloseNeedsResolutionAndMergeSetsDuplicate(t *testing.T) {
	in := incident.Incident{ID: "i1", Status: incident.StatusResolved}
	for _, r := range []incident.Resolution{"", "fixed"} {
		_, _, err := incident.Apply(in, 0, incident.Change{Actor: "a", At: t0, Action: incident.ActionClose, Status: incident.StatusClosed, Resolution: r})
		if !errors.Is(err, incident.ErrInvalid) {
			t.Errorf("close with resolution %q: %v", r, err)
		}
	}
	for _, r := range []incident.Resolution{incident.ResolutionHandled, incident.ResolutionFalsePositive, incident.ResolutionDuplicate, incident.ResolutionBenign} {
		got, _, err := incident.Apply(in, 0, incident.Change{Actor: "a", At: t0, Action: incident.ActionClose, Status: incident.StatusClosed, Resolution: r})
		if err != nil || got.Resolution != r || !got.ClosedAt.Equal(t0) {
			t.Errorf("close %s: %v %+v", r, err, got)
		}
	}
	// Merge: only with duplicate and duplicate_of, from any status.
	tr := incident.Incident{ID: "i2", Status: incident.StatusTriage}
	if _, _, err := incident.Apply(tr, 0, incident.Change{System: true, At: t0, Action: incident.ActionMerge, Status: incident.StatusClosed, Resolution: incident.ResolutionDuplicate}); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("merge without duplicate_of: %v", err)
	}
	if _, _, err := incident.Apply(tr, 0, incident.Change{System: true, At: t0, Action: incident.ActionMerge, Status: incident.StatusClosed, Resolution: incident.ResolutionHandled, DuplicateOf: "i1"}); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("merge with resolution handled: %v", err)
	}
	got, e, err := incident.Apply(tr, 0, incident.Change{System: true, At: t0, Action: incident.ActionMerge, Status: incident.StatusClosed, Resolution: incident.ResolutionDuplicate, DuplicateOf: "i1"})
	if err != nil || got.DuplicateOf != "i1" || got.Resolution != incident.ResolutionDuplicate || !e.System || !got.AcknowledgedAt.IsZero() {
		t.Errorf("merge: %v %+v %+v", err, got, e)
	}
	// Reopen clears the resolution and closed_at.
	re, _, err := incident.Apply(got, 1, incident.Change{Actor: "a", At: t0.Add(time.Hour), Action: incident.ActionReopen, Status: incident.StatusInProgress})
	if err != nil || re.Resolution != "" || !re.ClosedAt.IsZero() || re.DuplicateOf != "" {
		t.Errorf("reopen: %v %+v", err, re)
	}
}

func TestAcknowledgedAtIsFirstAnalystAction(t *testing.T) {
	in := incident.Incident{ID: "i1", Status: incident.StatusNew, TLP: incident.TLPAmber}
	in, _, err := incident.Apply(in, 0, incident.Change{Actor: "a", At: t0, Comment: "looking"})
	if err != nil || !in.AcknowledgedAt.Equal(t0) || len(in.Comments) != 1 {
		t.Fatalf("%v %+v", err, in)
	}
	in, _, err = incident.Apply(in, 1, incident.Change{Actor: "b", At: t0.Add(time.Minute), Assignee: "b",
		Task: &incident.Task{ID: "t1", Title: "block ip", Due: t0.Add(time.Hour)}, TLP: "tlp:white",
		RSITClass: "intrusion-attempts", RSITType: "brute-force", Determination: incident.DeterminationConfirmed})
	if err != nil || !in.AcknowledgedAt.Equal(t0) || in.Assignee != "b" || in.TLP != incident.TLPClear ||
		in.RSITType != "brute-force" || in.Determination != incident.DeterminationConfirmed || len(in.Tasks) != 1 {
		t.Fatalf("%v %+v", err, in)
	}
	for _, c := range []incident.Change{
		{Actor: "a", At: t0, RSITClass: "intrusions", RSITType: "brute-force"},
		{Actor: "a", At: t0, Determination: "maybe"},
		{Actor: "a", At: t0, TLP: "PINK"},
		{At: t0, Comment: "no actor"},
		{Actor: "a", At: t0, Status: incident.StatusClosed},
		{Actor: "a", At: t0},                // nothing
		{Actor: "a", At: t0, Assignee: "b"}, // already b
	} {
		if _, _, err := incident.Apply(in, 2, c); !errors.Is(err, incident.ErrInvalid) {
			t.Errorf("%+v: want ErrInvalid, got %v", c, err)
		}
	}
}

// TestConcurrentChangesOneVersion: two analysts change one incident read
// at the same version; one wins, the other gets a *ConflictError, and the
// log holds both attempts with their outcome.
func TestConcurrentChangesOneVersion(t *testing.T) {
	l := incident.NewLedger()
	if err := l.Put(incident.Incident{ID: "i1", Status: incident.StatusNew}); err != nil {
		t.Fatal(err)
	}
	if err := l.Put(incident.Incident{ID: "i1"}); err == nil {
		t.Fatal("second Put of one id succeeded")
	}
	cur, _ := l.Get("i1")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i, actor := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = l.Update("i1", cur.Version, incident.Change{Actor: actor, At: t0, Action: incident.ActionAdvance, Status: incident.StatusTriage})
		}()
	}
	close(start)
	wg.Wait()
	var conflict *incident.ConflictError
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.As(err, &conflict):
			conflicts++
			if conflict.Want != 1 || conflict.Have != 2 {
				t.Errorf("conflict %+v", conflict)
			}
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("wins %d conflicts %d", wins, conflicts)
	}
	log := l.Log()
	if len(log) != 2 {
		t.Fatalf("log has %d entries", len(log))
	}
	outcomes := map[incident.Outcome]int{}
	for _, e := range log {
		outcomes[e.Outcome]++
	}
	if outcomes[incident.OutcomeApplied] != 1 || outcomes[incident.OutcomeConflict] != 1 {
		t.Errorf("log outcomes %v", outcomes)
	}
	got, _ := l.Get("i1")
	if got.Version != 2 || got.Status != incident.StatusTriage {
		t.Errorf("incident %+v", got)
	}
}

func TestAnalystMergeAndSplit(t *testing.T) {
	a := incident.Incident{ID: "a", Org: "o1", Status: incident.StatusInProgress, AlertCount: 3, RuleIDs: []string{"R1"},
		Entities: map[string][]string{"source.ip": {"1.2.3.4"}}, Criticality: 40, DetectedAt: t0.Add(time.Minute)}
	b := incident.Incident{ID: "b", Org: "o1", Status: incident.StatusTriage, AlertCount: 2, RuleIDs: []string{"R2"},
		Entities: map[string][]string{"user.name": {"ivan"}}, Criticality: 70, DetectedAt: t0, Merged: []string{"c"}}
	s, c, err := incident.Merge(a, b, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.AlertCount != 5 || len(s.RuleIDs) != 2 || len(s.Entities) != 2 || s.Severity != incident.SeverityHigh ||
		!s.DetectedAt.Equal(t0) || fmt.Sprint(s.Merged) != "[b c]" || a.AlertCount != 3 {
		t.Errorf("survivor %+v", s)
	}
	l, e, err := incident.Apply(b, 0, c)
	if err != nil || l.Status != incident.StatusClosed || l.DuplicateOf != "a" || !e.System {
		t.Errorf("loser %+v %v", l, err)
	}
	for _, bad := range []incident.Incident{a, {ID: "x", Org: "o2"}, l} {
		if _, _, err := incident.Merge(a, bad, t0); !errors.Is(err, incident.ErrInvalid) {
			t.Errorf("merge %s into a: %v", bad.ID, err)
		}
	}
	p, child, err := incident.Split(s, []string{"a9", "a3"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.AlertCount != 3 || child.AlertCount != 2 || child.Parent != "a" || fmt.Sprint(p.Children) != "["+child.ID+"]" ||
		child.Status != incident.StatusNew || child.Org != "o1" || child.ID != incident.SplitID("a", []string{"a3", "a9"}) {
		t.Errorf("split %+v / %+v", p, child)
	}
	if _, _, err := incident.Split(s, []string{"a1", "a2", "a3", "a4", "a5"}, t0); !errors.Is(err, incident.ErrInvalid) {
		t.Errorf("split of every alert: %v", err)
	}
}

// TestLogEntryHoldsBeforeAndAfter: the log row of an applied change names
// each altered field with its old and new value.
func TestLogEntryHoldsBeforeAndAfter(t *testing.T) {
	in := incident.Incident{ID: "i1", Status: incident.StatusNew, Determination: incident.DeterminationSuspected, TLP: incident.TLPAmber}
	_, e, err := incident.Apply(in, 0, incident.Change{Actor: "alice", At: t0, Action: incident.ActionAdvance,
		Status: incident.StatusTriage, Determination: incident.DeterminationConfirmed, Assignee: "bob",
		ReasonablyBelievedAt: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range e.Fields {
		got[f.Field] = f.Before + " -> " + f.After
	}
	want := map[string]string{"status": "new -> triage", "determination": "suspected -> confirmed", "assignee": " -> bob",
		"acknowledged_at": " -> 2026-03-02T09:00:00Z", "reasonably_believed_at": " -> 2026-03-02T08:00:00Z"}
	if fmt.Sprint(got) != fmt.Sprint(want) || e.Actor != "alice" || !e.At.Equal(t0) || e.Version != 0 {
		t.Errorf("log %+v\nfields %v\nwant   %v", e, got, want)
	}
}

// TestApplyGroupingKeepsTheAnalystsWork: a grouping update brings counts,
// entities and times, never overwrites status, assignee, comments, TLP or
// an analyst's RSIT category.
func TestApplyGroupingKeepsTheAnalystsWork(t *testing.T) {
	stored := incident.Incident{ID: "i1", Version: 4, Status: incident.StatusInProgress, Assignee: "alice", TLP: incident.TLPRed,
		Determination: incident.DeterminationConfirmed, Comments: []incident.Comment{{Author: "alice", Text: "x"}},
		RSITClass: "intrusions", RSITType: "system-compromise", AlertCount: 2, Criticality: 70, DetectedAt: t0}
	u := incident.Update{Kind: incident.UpdateUpdated, Incident: incident.Incident{ID: "i1", Status: incident.StatusNew,
		Determination: incident.DeterminationSuspected, TLP: incident.TLPAmber, RSITClass: "intrusion-attempts", RSITType: "brute-force",
		AlertCount: 5, Criticality: 40, DetectedAt: t0.Add(time.Minute), LastActivityAt: t0.Add(time.Hour),
		Entities: map[string][]string{"source.ip": {"1.2.3.4"}}}}
	got := incident.ApplyGrouping(&stored, u)
	if got.Status != incident.StatusInProgress || got.Assignee != "alice" || got.TLP != incident.TLPRed || len(got.Comments) != 1 ||
		got.Determination != incident.DeterminationConfirmed || got.RSITType != "system-compromise" || got.Version != 4 {
		t.Errorf("analyst fields lost: %+v", got)
	}
	if got.AlertCount != 5 || got.Criticality != 70 || !got.DetectedAt.Equal(t0) || !got.LastActivityAt.Equal(t0.Add(time.Hour)) ||
		len(got.Entities["source.ip"]) != 1 {
		t.Errorf("grouping fields not applied: %+v", got)
	}
	stored.RSITClass, stored.RSITType = incident.RSITUndeterminedClass, incident.RSITUndeterminedType
	if got := incident.ApplyGrouping(&stored, u); got.RSITType != "brute-force" {
		t.Errorf("undetermined category not filled: %s", got.RSITType)
	}
	if got := incident.ApplyGrouping(nil, u); got.ID != "i1" || got.Status != incident.StatusNew {
		t.Errorf("new incident %+v", got)
	}
}

// TestSystemWritesDoNotMakeAVersionStale: an analyst who read version 1
// changes the incident after the system wrote versions 2 and 3 (an alert
// joined, a notification went out); a second analyst still at version 1
// then conflicts, and one at the first analyst's version does not.
func TestSystemWritesDoNotMakeAVersionStale(t *testing.T) {
	l := incident.NewLedger()
	if err := l.Put(incident.Incident{ID: "i1", Status: incident.StatusNew}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		cur, _ := l.Get("i1")
		if _, err := l.Update("i1", cur.Version, incident.Change{System: true, At: t0, Comment: "system note"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Update("i1", 1, incident.Change{Actor: "alice", At: t0, Assignee: "alice"}); err != nil {
		t.Fatalf("alice at version 1 after two system writes: %v", err)
	}
	var conflict *incident.ConflictError
	if _, err := l.Update("i1", 1, incident.Change{Actor: "bob", At: t0, Assignee: "bob"}); !errors.As(err, &conflict) {
		t.Fatalf("bob at version 1 after alice's change: %v, want a conflict", err)
	}
	cur, _ := l.Get("i1")
	if _, err := l.Update("i1", cur.Version+1, incident.Change{Actor: "bob", At: t0, Assignee: "bob"}); !errors.As(err, &conflict) {
		t.Fatalf("a version ahead of the incident: %v, want a conflict", err)
	}
	if _, err := l.Update("i1", cur.Version, incident.Change{Actor: "bob", At: t0, Assignee: "bob"}); err != nil {
		t.Fatalf("bob at the current version: %v", err)
	}
	if got, _ := l.Get("i1"); got.Assignee != "bob" || got.ChangedFrom != cur.Version {
		t.Errorf("incident %+v", got)
	}
}
