package incident_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

func instant(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func newClocks(tb testing.TB, opts incident.ClockOptions) *incident.Clocks {
	tb.Helper()
	if opts.Regimes == nil {
		opts.Regimes = shippedRegimes(tb)
	}
	c, err := incident.NewClocks(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// line renders a stage as the tables below spell it:
// "regime/stage due_at(UTC or -) status [flags] [overdue]".
func stageLine(s incident.Stage, now time.Time) string {
	due := "-"
	if !s.DueAt.IsZero() {
		due = s.DueAt.UTC().Format(time.RFC3339)
	}
	l := fmt.Sprintf("%s/%s %s %s", s.Regime, s.Stage, due, s.Status)
	if len(s.Flags) > 0 {
		l += " [" + strings.Join(s.Flags, ",") + "]"
	}
	if s.Overdue(now) {
		l += " overdue"
	}
	return l
}

func stageLines(ss []incident.Stage, now time.Time, only string) []string {
	var out []string
	for _, s := range ss {
		if only == "" || s.Regime == only {
			out = append(out, stageLine(s, now))
		}
	}
	return out
}

func warningReasons(ws []incident.ClockWarning, only ...string) []string {
	var out []string
	for _, w := range ws {
		if len(only) == 0 || only[0] == "" || w.Regime == only[0] {
			out = append(out, w.Regime+"/"+w.Stage+":"+w.Reason)
		}
	}
	return out
}

func clockPtr[T any](v T) *T { return &v }

// TestShippedRegimeInstants is the table of instants per shipped regime
// (issue 21, "Must show"). Each row is an incident at a moment; want lists
// every stage Compute returns (or those of regime `only`), with its due in
// UTC. Local times in the comments are Almaty's (UTC+5).
func TestShippedRegimeInstants(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	// Tuesday 10 June 2025, 09:00 in Almaty.
	const detected = "2025-06-10T09:00:00+05:00"
	sent := func(regime, stage, sentAt string) incident.Stage {
		return incident.Stage{Regime: regime, Stage: stage, Status: incident.StagePending, SentAt: instant(t, sentAt)}
	}
	// NIS2 with the notification sent on 12 June, 10:00 UTC.
	nis2Sent := []incident.Stage{
		sent("nis2", "early_warning", "2025-06-11T08:00:00Z"),
		sent("nis2", "notification", "2025-06-12T10:00:00Z"),
	}
	for _, tc := range []struct {
		name     string
		detected string // default: detected
		now      string
		only     string
		set      func(in *incident.ClockInput)
		want     []string
		warnings []string
	}{
		{name: "OISC-detected: immediate, 1 h from detection", now: "2025-06-10T04:30:00Z",
			set:  func(in *incident.ClockInput) { in.Origin, in.Determination = "oisc_detected", "suspected" },
			want: []string{"kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z pending"}},
		{name: "OISC-detected false positive: no regime", now: "2025-06-10T04:30:00Z",
			set: func(in *incident.ClockInput) { in.Origin, in.Determination = "oisc_detected", "false_positive" }},
		{name: "owner self-identified on a critical object", now: "2025-06-10T06:00:00Z",
			set: func(in *incident.ClockInput) {
				in.Origin, in.ObjectIsCritical = "owner_self_identified", true
			},
			want: []string{"kz_owner_self_identified/initial 2025-06-10T05:00:00Z pending overdue"}},
		{name: "owner self-identified on a non-critical object: no regime", now: "2025-06-10T06:00:00Z",
			set: func(in *incident.ClockInput) { in.Origin = "owner_self_identified" }},

		// KZ personal data: one working day, the same local time.
		{name: "PD across a weekend: Fri 16:30 → Mon 16:30", detected: "2025-01-10T16:30:00+05:00", now: "2025-01-10T12:00:00Z",
			set:  func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want: []string{"kz_pd_breach/initial 2025-01-13T11:30:00Z pending"}},
		{name: "PD across a holiday on a weekend: Fri Mar 7 → Tue Mar 11 (Mar 8 Sat moves to Mon Mar 10)",
			detected: "2025-03-07T11:00:00+05:00", now: "2025-03-07T06:00:00Z",
			set:  func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want: []string{"kz_pd_breach/initial 2025-03-11T06:00:00Z pending"}},
		{name: "PD across Nauryz: Thu Mar 20 → Wed Mar 26 (Mar 21, 24, 25 off)",
			detected: "2025-03-20T11:00:00+05:00", now: "2025-03-20T06:00:00Z",
			set:  func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want: []string{"kz_pd_breach/initial 2025-03-26T06:00:00Z pending"}},
		{name: "PD onto a transfer working Saturday: Thu Jan 2 (holiday) → Sat Jan 4 (Fri Jan 3 off)",
			detected: "2025-01-02T10:00:00+05:00", now: "2025-01-02T06:00:00Z",
			set:  func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want: []string{"kz_pd_breach/initial 2025-01-04T05:00:00Z pending"}},
		{name: "PD in a year missing from the calendar: weekends alone, flagged (Mar 8 2030 counted as working)",
			detected: "2030-03-07T10:00:00+05:00", now: "2030-03-07T06:00:00Z",
			set:      func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want:     []string{"kz_pd_breach/initial 2030-03-08T05:00:00Z pending [calendar_year_missing]"},
			warnings: []string{"kz_pd_breach/initial:calendar_year_missing"}},
		{name: "PD late at night UTC is the next local day: Sun 20:00Z = Mon 01:00 → Tue 01:00",
			detected: "2025-06-08T20:00:00Z", now: "2025-06-08T21:00:00Z",
			set:  func(in *incident.ClockInput) { in.PersonalDataInvolved = true },
			want: []string{"kz_pd_breach/initial 2025-06-09T20:00:00Z pending"}},

		// NIS2 and CIRCIA both apply to a significant incident.
		{name: "NIS2 and CIRCIA at awareness: 24 h, 72 h; the ongoing branch waits for the notification",
			now: "2025-06-10T13:00:00Z",
			set: func(in *incident.ClockInput) {
				in.Significant = true
				in.AwareAt = instant(t, "2025-06-10T12:00:00Z")
				in.ReasonablyBelievedAt = instant(t, "2025-06-10T10:00:00Z")
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z pending",
				"nis2/notification 2025-06-13T12:00:00Z pending",
				"nis2/progress - pending [awaiting_anchor]",
				"nis2/final_after_handling - pending [awaiting_anchor]",
				"circia/incident_report 2025-06-13T10:00:00Z pending",
			}},
		{name: "NIS2 final: contained before it falls due, one month after the notification was sent",
			now: "2025-06-25T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-06-10T12:00:00Z")
				in.ContainedAt = instant(t, "2025-06-20T00:00:00Z")
				in.Stages = nis2Sent
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z sent",
				"nis2/notification 2025-06-13T12:00:00Z sent",
				"nis2/final 2025-07-12T10:00:00Z pending",
			}},
		{name: "NIS2 ongoing branch: still ongoing, a progress report was due at one month, overdue",
			now: "2025-07-20T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-06-10T12:00:00Z")
				in.Stages = nis2Sent
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z sent",
				"nis2/notification 2025-06-13T12:00:00Z sent",
				"nis2/progress 2025-07-12T10:00:00Z pending overdue",
				"nis2/final_after_handling - pending [awaiting_anchor]",
			}},
		{name: "NIS2 ongoing at the final, contained and resolved later: final one month after resolution",
			now: "2025-07-20T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-06-10T12:00:00Z")
				in.ContainedAt, in.ResolvedAt = instant(t, "2025-07-15T00:00:00Z"), instant(t, "2025-07-18T08:00:00Z")
				in.Stages = nis2Sent
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z sent",
				"nis2/notification 2025-06-13T12:00:00Z sent",
				"nis2/progress 2025-07-12T10:00:00Z pending overdue",
				"nis2/final_after_handling 2025-08-18T08:00:00Z pending",
			}},
		{name: "NIS2 ongoing set by an analyst although contained",
			now: "2025-06-25T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-06-10T12:00:00Z")
				in.ContainedAt, in.Ongoing = instant(t, "2025-06-20T00:00:00Z"), clockPtr(true)
				in.Stages = nis2Sent
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z sent",
				"nis2/notification 2025-06-13T12:00:00Z sent",
				"nis2/progress 2025-07-12T10:00:00Z pending",
				"nis2/final_after_handling - pending [awaiting_anchor]",
			}},
		{name: "NIS2 final from a notification sent on Jan 31: clamped to Feb 28",
			detected: "2025-01-29T09:00:00+05:00", now: "2025-02-10T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-01-29T12:00:00Z")
				in.ContainedAt = instant(t, "2025-02-01T00:00:00Z")
				in.Stages = []incident.Stage{sent("nis2", "notification", "2025-01-31T07:00:00Z")}
			},
			want: []string{
				"nis2/early_warning 2025-01-30T12:00:00Z pending overdue",
				"nis2/notification 2025-02-01T12:00:00Z sent",
				"nis2/final 2025-02-28T07:00:00Z pending",
			}},
		{name: "NIS2 intermediate report when requested: no clock, never overdue",
			now: "2026-06-25T00:00:00Z", only: "nis2",
			set: func(in *incident.ClockInput) {
				in.Significant, in.AwareAt = true, instant(t, "2025-06-10T12:00:00Z")
				in.ContainedAt, in.RequestReceivedAt = instant(t, "2025-06-20T00:00:00Z"), instant(t, "2025-06-15T00:00:00Z")
				in.Stages = nis2Sent
			},
			want: []string{
				"nis2/early_warning 2025-06-11T12:00:00Z sent",
				"nis2/notification 2025-06-13T12:00:00Z sent",
				"nis2/intermediate - pending [no_clock]",
				"nis2/final 2025-07-12T10:00:00Z pending overdue",
			}},
		{name: "CIRCIA ransom payment: 24 h from payment", now: "2025-06-15T04:00:00Z", only: "circia",
			set: func(in *incident.ClockInput) {
				in.Significant, in.ReasonablyBelievedAt = true, instant(t, "2025-06-10T10:00:00Z")
				in.RansomPaid, in.RansomPaidAt = true, instant(t, "2025-06-15T03:00:00Z")
			},
			want: []string{
				"circia/incident_report 2025-06-13T10:00:00Z pending overdue",
				"circia/ransom_payment 2025-06-16T03:00:00Z pending",
			}},
		{name: "unknown anchors fall back to detected_at, flagged", now: "2025-06-10T05:00:00Z",
			set: func(in *incident.ClockInput) { in.Significant, in.RansomPaid = true, true },
			want: []string{
				"nis2/early_warning 2025-06-11T04:00:00Z pending [anchor_fallback]",
				"nis2/notification 2025-06-13T04:00:00Z pending [anchor_fallback]",
				"nis2/progress - pending [awaiting_anchor]",
				"nis2/final_after_handling - pending [awaiting_anchor]",
				"circia/incident_report 2025-06-13T04:00:00Z pending [anchor_fallback]",
				"circia/ransom_payment 2025-06-11T04:00:00Z pending [anchor_fallback]",
			},
			warnings: []string{"nis2/early_warning:anchor_fallback", "nis2/notification:anchor_fallback",
				"circia/incident_report:anchor_fallback", "circia/ransom_payment:anchor_fallback"}},
		{name: "several regimes at once: OISC-detected personal-data breach", now: "2025-06-10T04:30:00Z",
			set: func(in *incident.ClockInput) {
				in.Origin, in.Determination, in.PersonalDataInvolved = "oisc_detected", "confirmed", true
			},
			want: []string{
				"kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z pending",
				"kz_pd_breach/initial 2025-06-11T04:00:00Z pending",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.detected
			if d == "" {
				d = detected
			}
			in := incident.ClockInput{IncidentID: "inc-1", Origin: "third_party", Determination: "confirmed", DetectedAt: instant(t, d)}
			tc.set(&in)
			now := instant(t, tc.now)
			got, warns, err := c.Compute(in, now)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("now %s:\n  %s", tc.now, strings.Join(stageLines(got, now, ""), "\n  "))
			if g := stageLines(got, now, tc.only); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("stages:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if g := warningReasons(warns, tc.only); !reflect.DeepEqual(g, tc.warnings) {
				t.Errorf("warnings %v, want %v", g, tc.warnings)
			}
			for _, s := range got {
				if !s.DueAt.IsZero() && s.DueAt.Location() != time.UTC {
					t.Errorf("%s/%s due_at not in UTC: %v", s.Regime, s.Stage, s.DueAt)
				}
			}
		})
	}
}

// notify records a send or an acknowledgement of the notification of a
// stage to a recipient, as the notifier and the ack subscriber will.
func recordNotification(t *testing.T, ss []incident.Stage, regime, stage, recipient string, sentAt, ackAt string) {
	t.Helper()
	for i := range ss {
		if ss[i].Regime != regime || ss[i].Stage != stage {
			continue
		}
		for j := range ss[i].Notifications {
			n := &ss[i].Notifications[j]
			if n.Recipient == recipient {
				if sentAt != "" {
					n.SentAt = instant(t, sentAt)
				}
				if ackAt != "" {
					n.AcknowledgedAt = instant(t, ackAt)
				}
				return
			}
		}
	}
	t.Fatalf("no notification %s/%s → %s", regime, stage, recipient)
}

func findStage(ss []incident.Stage, regime, stage string) *incident.Stage {
	for i := range ss {
		if ss[i].Regime == regime && ss[i].Stage == stage {
			return &ss[i]
		}
	}
	return nil
}

func TestLateVersusOverdue(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	in := incident.ClockInput{IncidentID: "inc-2", Origin: "oisc_detected", Determination: "confirmed",
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")} // due 05:00Z
	first, _, err := c.Compute(in, instant(t, "2025-06-10T04:10:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	s := findStage(first, "kz_oisc_to_ncc", "immediate")
	if s == nil || len(s.Notifications) != 2 || s.Notifications[0].Recipient != "NCC" || s.Notifications[1].Recipient != "OWNER" {
		t.Fatalf("stage: %+v", s)
	}
	for _, tc := range []struct {
		name                 string
		ncc, owner           [2]string // sent_at, acknowledged_at
		now                  string
		status               incident.StageStatus
		overdue              bool
		sentAt, acknowledged string
	}{
		{name: "unsent before due", now: "2025-06-10T04:59:59Z", status: incident.StagePending},
		{name: "unsent at due: not yet overdue", now: "2025-06-10T05:00:00Z", status: incident.StagePending},
		{name: "unsent past due: overdue", now: "2025-06-10T05:00:01Z", status: incident.StagePending, overdue: true},
		{name: "one of two sent past due: still overdue", ncc: [2]string{"2025-06-10T04:50:00Z"}, now: "2025-06-10T05:30:00Z",
			status: incident.StagePending, overdue: true},
		{name: "all sent by due: sent at the last", ncc: [2]string{"2025-06-10T04:50:00Z"}, owner: [2]string{"2025-06-10T05:00:00Z"},
			now: "2025-06-10T06:00:00Z", status: incident.StageSent, sentAt: "2025-06-10T05:00:00Z"},
		{name: "the last sent after due: late, not overdue", ncc: [2]string{"2025-06-10T04:50:00Z"}, owner: [2]string{"2025-06-10T05:20:00Z"},
			now: "2025-06-10T06:00:00Z", status: incident.StageLate, sentAt: "2025-06-10T05:20:00Z"},
		{name: "one acknowledged: stage not acknowledged", ncc: [2]string{"2025-06-10T04:50:00Z", "2025-06-10T07:00:00Z"},
			owner: [2]string{"2025-06-10T04:55:00Z"}, now: "2025-06-10T08:00:00Z", status: incident.StageSent, sentAt: "2025-06-10T04:55:00Z"},
		{name: "all acknowledged: at the last", ncc: [2]string{"2025-06-10T04:50:00Z", "2025-06-10T07:00:00Z"},
			owner: [2]string{"2025-06-10T04:55:00Z", "2025-06-10T06:30:00Z"}, now: "2025-06-10T08:00:00Z",
			status: incident.StageSent, sentAt: "2025-06-10T04:55:00Z", acknowledged: "2025-06-10T07:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := incident.ClockInput(in)
			rec.Stages = viaJSON(first)
			recordNotification(t, rec.Stages, "kz_oisc_to_ncc", "immediate", "NCC", tc.ncc[0], tc.ncc[1])
			recordNotification(t, rec.Stages, "kz_oisc_to_ncc", "immediate", "OWNER", tc.owner[0], tc.owner[1])
			now := instant(t, tc.now)
			got, _, err := c.Compute(rec, now)
			if err != nil {
				t.Fatal(err)
			}
			s := findStage(got, "kz_oisc_to_ncc", "immediate")
			if s.Status != tc.status || s.Overdue(now) != tc.overdue || !s.DueAt.Equal(instant(t, "2025-06-10T05:00:00Z")) {
				t.Errorf("%s", stageLine(*s, now))
			}
			if f := s.SentAt.Format(time.RFC3339); tc.sentAt != "" && f != tc.sentAt || tc.sentAt == "" && !s.SentAt.IsZero() {
				t.Errorf("sent_at %s, want %q", f, tc.sentAt)
			}
			if f := s.AcknowledgedAt.Format(time.RFC3339); tc.acknowledged != "" && f != tc.acknowledged ||
				tc.acknowledged == "" && !s.AcknowledgedAt.IsZero() {
				t.Errorf("acknowledged_at %s, want %q", f, tc.acknowledged)
			}
		})
	}
}

func viaJSON(ss []incident.Stage) []incident.Stage {
	b, err := json.Marshal(ss)
	if err != nil {
		panic(err)
	}
	var out []incident.Stage
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// TestAmendmentReevaluatesPendingStagesOnly: after one stage was sent, an
// amended anchor moves the pending stages' due_at and leaves the sent one.
func TestAmendmentReevaluatesPendingStagesOnly(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	now := instant(t, "2025-06-11T07:00:00Z")
	in := incident.ClockInput{IncidentID: "inc-3", Origin: "oisc_detected", Determination: "confirmed", Significant: true,
		DetectedAt: instant(t, "2025-06-10T04:00:00Z"), AwareAt: instant(t, "2025-06-10T12:00:00Z")}
	stages, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	// The early warning is sent (a stage without recipients records its own
	// sent_at), and so is the OISC's immediate notice.
	findStage(stages, "nis2", "early_warning").SentAt = instant(t, "2025-06-11T06:00:00Z")
	recordNotification(t, stages, "kz_oisc_to_ncc", "immediate", "NCC", "2025-06-10T04:30:00Z", "")
	recordNotification(t, stages, "kz_oisc_to_ncc", "immediate", "OWNER", "2025-06-10T04:40:00Z", "")
	in.Stages = stages
	stages, _, err = c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z sent",
		"nis2/early_warning 2025-06-11T12:00:00Z sent",
		"nis2/notification 2025-06-13T12:00:00Z pending",
		"nis2/progress - pending [awaiting_anchor]",
		"nis2/final_after_handling - pending [awaiting_anchor]",
		"circia/incident_report 2025-06-13T04:00:00Z pending [anchor_fallback]",
	}
	if g := stageLines(stages, now, ""); !reflect.DeepEqual(g, want) {
		t.Fatalf("before the amendment:\n  %s", strings.Join(g, "\n  "))
	}

	// Amendment: the entity was aware 16 h earlier, the detection was 3 h
	// earlier, and CIRCIA's reasonable belief is recorded.
	in.Stages = stages
	in.AwareAt = instant(t, "2025-06-09T20:00:00Z")
	in.DetectedAt = instant(t, "2025-06-10T01:00:00Z")
	in.ReasonablyBelievedAt = instant(t, "2025-06-10T02:00:00Z")
	before, _ := json.Marshal(in.Stages)
	amended, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(in.Stages); string(after) != string(before) {
		t.Error("Compute changed the recorded stages it was given")
	}
	want = []string{
		// Sent stages keep the due they were sent against: re-evaluated, the
		// early warning would now be late (due 2025-06-10T20:00Z).
		"kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z sent",
		"nis2/early_warning 2025-06-11T12:00:00Z sent",
		"nis2/notification 2025-06-12T20:00:00Z pending",
		"nis2/progress - pending [awaiting_anchor]",
		"nis2/final_after_handling - pending [awaiting_anchor]",
		"circia/incident_report 2025-06-13T02:00:00Z pending",
	}
	if g := stageLines(amended, now, ""); !reflect.DeepEqual(g, want) {
		t.Errorf("after the amendment:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}

	// The incident is no longer significant: the pending NIS2 and CIRCIA
	// stages are superseded, the sent early warning stays.
	in.Stages = amended
	in.Significant = false
	later, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z sent",
		"nis2/early_warning 2025-06-11T12:00:00Z sent",
		"nis2/notification 2025-06-12T20:00:00Z superseded",
		"nis2/progress - superseded [awaiting_anchor]",
		"nis2/final_after_handling - superseded [awaiting_anchor]",
		"circia/incident_report 2025-06-13T02:00:00Z superseded",
	}
	if g := stageLines(later, now, ""); !reflect.DeepEqual(g, want) {
		t.Errorf("no longer significant:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
	// Significant again: superseded stages are re-evaluated.
	in.Stages = later
	in.Significant = true
	again, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if g := stageLines(again, now, ""); !reflect.DeepEqual(g, stageLines(amended, now, "")) {
		t.Errorf("significant again:\n  %s", strings.Join(g, "\n  "))
	}
}

func TestPendingStageSentIsJudgedAgainstTheDueItWasSentAgainst(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	now := instant(t, "2025-06-11T07:00:00Z")
	in := incident.ClockInput{IncidentID: "inc-4", Origin: "third_party", Determination: "confirmed", Significant: true,
		DetectedAt: instant(t, "2025-06-10T04:00:00Z"), AwareAt: instant(t, "2025-06-10T12:00:00Z")}
	stages, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	// Sent at 10:00 on the 11th against a due of 12:00; the amendment to
	// aware_at arrives in the same computation.
	findStage(stages, "nis2", "early_warning").SentAt = instant(t, "2025-06-11T10:00:00Z")
	in.Stages, in.AwareAt = stages, instant(t, "2025-06-09T20:00:00Z")
	got, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if l := stageLine(*findStage(got, "nis2", "early_warning"), now); l != "nis2/early_warning 2025-06-11T12:00:00Z sent" {
		t.Error(l)
	}
}

func TestWaivedStageStaysWaived(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	in := incident.ClockInput{IncidentID: "inc-5", Origin: "oisc_detected", Determination: "confirmed",
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")}
	stages, _, err := c.Compute(in, instant(t, "2025-06-10T04:10:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	stages[0].Status = incident.StageWaived
	in.Stages, in.DetectedAt = stages, instant(t, "2025-06-10T02:00:00Z")
	now := instant(t, "2025-06-12T00:00:00Z")
	got, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if l := stageLine(got[0], now); l != "kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z waived" {
		t.Error(l)
	}
}

func TestBadInputIsRefusedCountedAndLosesNothing(t *testing.T) {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_incident_clock_inputs_rejected_total", Help: "test"}, []string{"reason"})
	warned := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_incident_clock_warnings_total", Help: "test"}, []string{"reason"})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(rejected, warned)
	c := newClocks(t, incident.ClockOptions{
		Rejected: func(r string) { rejected.WithLabelValues(r).Inc() },
		Warned:   func(r string) { warned.WithLabelValues(r).Inc() },
	})
	now := instant(t, "2025-06-10T05:00:00Z")
	good := incident.ClockInput{IncidentID: "inc-6", Origin: "oisc_detected", Determination: "confirmed", Significant: true,
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")}
	recorded, warns, err := c.Compute(good, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 3 || testutil.ToFloat64(warned.WithLabelValues("anchor_fallback")) != 3 {
		t.Errorf("warnings %v, counted %v", warningReasons(warns), testutil.ToFloat64(warned.WithLabelValues("anchor_fallback")))
	}
	recordNotification(t, recorded, "kz_oisc_to_ncc", "immediate", "NCC", "2025-06-10T04:30:00Z", "")
	for _, tc := range []struct {
		reason, msg string
		set         func(in *incident.ClockInput)
	}{
		{"missing_detected_at", "detected_at missing", func(in *incident.ClockInput) { in.DetectedAt = time.Time{} }},
		{"missing_incident_id", "incident id missing", func(in *incident.ClockInput) { in.IncidentID = "" }},
		{"bad_origin", `unknown origin "oisc"`, func(in *incident.ClockInput) { in.Origin = "oisc" }},
		{"bad_determination", `unknown determination "false-positive"`, func(in *incident.ClockInput) { in.Determination = "false-positive" }},
		{"duplicate_stage", "stage kz_oisc_to_ncc/immediate recorded twice", func(in *incident.ClockInput) {
			in.Stages = append(in.Stages, in.Stages[0])
		}},
		{"bad_stage_status", `unknown status "done"`, func(in *incident.ClockInput) { in.Stages[1].Status = "done" }},
		{"missing_now", "no time to compute at", nil},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			in := good
			in.Stages = viaJSON(recorded)
			at := now
			if tc.set != nil {
				tc.set(&in)
			} else {
				at = time.Time{}
			}
			got, warns, err := c.Compute(in, at)
			var ie *incident.ClockInputError
			if !errors.As(err, &ie) || ie.Reason != tc.reason || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want reason %s with %q", err, tc.reason, tc.msg)
			}
			if !reflect.DeepEqual(got, in.Stages) || warns != nil {
				t.Errorf("recorded stages not returned unchanged:\n%+v\n%+v", got, in.Stages)
			}
			if n := testutil.ToFloat64(rejected.WithLabelValues(tc.reason)); n != 1 {
				t.Errorf("counted %v", n)
			}
		})
	}
}

func TestRecordedStageNoLongerConfiguredIsKept(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	old := incident.Stage{Regime: "kz_old_rules", Stage: "initial", Anchor: "detected_at", Status: incident.StageSent,
		DueAt: instant(t, "2025-06-10T05:00:00Z"), SentAt: instant(t, "2025-06-10T04:30:00Z")}
	in := incident.ClockInput{IncidentID: "inc-7", Origin: "third_party", Determination: "confirmed",
		DetectedAt: instant(t, "2025-06-10T04:00:00Z"), Stages: []incident.Stage{old}}
	now := instant(t, "2025-06-11T00:00:00Z")
	got, warns, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if g := stageLines(got, now, ""); len(g) != 1 || g[0] != "kz_old_rules/initial 2025-06-10T05:00:00Z sent [unknown_stage]" {
		t.Errorf("%v", g)
	}
	if g := warningReasons(warns); len(g) != 1 || g[0] != "kz_old_rules/initial:unknown_stage" {
		t.Errorf("warnings %v", g)
	}
}

func TestResolvedRecipients(t *testing.T) {
	resolve := func(role string, in *incident.ClockInput) ([]incident.Recipient, error) {
		switch role {
		case incident.RecipientNCC:
			return []incident.Recipient{{ID: "ncc", Channel: "nats", Language: "ru"}}, nil
		case incident.RecipientOwner:
			return []incident.Recipient{{ID: "kegoc/ib_officer", Channel: "webhook", Language: "kk"},
				{ID: "kegoc/management", Channel: "email", Language: "ru"}}, nil
		}
		return nil, fmt.Errorf("no %s for %s", role, in.IncidentID)
	}
	var rejected []string
	c := newClocks(t, incident.ClockOptions{Resolve: resolve, Rejected: func(r string) { rejected = append(rejected, r) }})
	in := incident.ClockInput{IncidentID: "inc-8", Origin: "oisc_detected", Determination: "confirmed",
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")}
	now := instant(t, "2025-06-10T04:10:00Z")
	got, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, n := range got[0].Notifications {
		ns = append(ns, n.Role+">"+n.Recipient+"/"+n.Channel+"/"+n.Language)
		if n.ID != incident.NotificationID("inc-8", "kz_oisc_to_ncc", "immediate", n.Recipient) {
			t.Errorf("%s: id %s", n.Recipient, n.ID)
		}
	}
	if want := "NCC>ncc/nats/ru OWNER>kegoc/ib_officer/webhook/kk OWNER>kegoc/management/email/ru"; strings.Join(ns, " ") != want {
		t.Errorf("notifications %v", ns)
	}
	// A recipient that cannot be resolved refuses the computation and keeps
	// what was recorded.
	in.PersonalDataInvolved = true
	in.Stages = got
	again, _, err := c.Compute(in, now)
	if err == nil || !strings.Contains(err.Error(), "kz_pd_breach/initial: resolve AUTHORIZED_BODY: no AUTHORIZED_BODY for inc-8") {
		t.Errorf("error %v", err)
	}
	if !reflect.DeepEqual(again, got) || len(rejected) != 1 || rejected[0] != "resolve" {
		t.Errorf("stages %v, rejected %v", stageLines(again, now, ""), rejected)
	}
}

func TestNotificationIDs(t *testing.T) {
	id := incident.NotificationID("inc-1", "nis2", "early_warning", "ncc")
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 5 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("%s: %v version %v", id, err, u.Version())
	}
	// Pinned: ids are stored, so the derivation must never change.
	if id != "6b6ef460-1ade-5ff3-9f1b-b22049574674" {
		t.Errorf("id changed: %s", id)
	}
	for _, other := range [][4]string{
		{"inc-2", "nis2", "early_warning", "ncc"}, {"inc-1", "circia", "early_warning", "ncc"},
		{"inc-1", "nis2", "notification", "ncc"}, {"inc-1", "nis2", "early_warning", "oisc-1"},
		{"inc-1n", "is2", "early_warning", "ncc"}, // no ambiguity across the separator
	} {
		if incident.NotificationID(other[0], other[1], other[2], other[3]) == id {
			t.Errorf("%v has the same id", other)
		}
	}
}

func TestPayloadSnapshot(t *testing.T) {
	if got := incident.PayloadSHA256([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("sha256(abc) = %s", got)
	}
	p1, h1, err := incident.SnapshotPayload(map[string]any{"b": 1, "a": []string{"x"}, "c": map[string]int{"z": 1, "y": 2}})
	if err != nil {
		t.Fatal(err)
	}
	p2, h2, _ := incident.SnapshotPayload(map[string]any{"c": map[string]int{"y": 2, "z": 1}, "a": []string{"x"}, "b": 1})
	if string(p1) != `{"a":["x"],"b":1,"c":{"y":2,"z":1}}` || h1 != h2 || string(p1) != string(p2) || h1 != incident.PayloadSHA256(p1) {
		t.Errorf("%s %s / %s %s", p1, h1, p2, h2)
	}
	if _, _, err := incident.SnapshotPayload(func() {}); err == nil {
		t.Error("a func encoded")
	}
}

// TestStagesSurviveStorage: the stages as stored (JSON) and read back give
// the same computation: a restarted ncc recomputes the same stages and ids.
func TestStagesSurviveStorage(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	in := incident.ClockInput{IncidentID: "inc-9", Origin: "oisc_detected", Determination: "confirmed", Significant: true,
		PersonalDataInvolved: true, DetectedAt: instant(t, "2025-06-10T04:00:00Z"), AwareAt: instant(t, "2025-06-10T05:00:00Z")}
	now := instant(t, "2025-06-10T06:00:00Z")
	first, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	recordNotification(t, first, "kz_oisc_to_ncc", "immediate", "NCC", "2025-06-10T04:30:00Z", "2025-06-10T04:31:00Z")
	in.Stages = viaJSON(first)
	second, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	in.Stages = viaJSON(second)
	third, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viaJSON(second), viaJSON(third)) {
		t.Errorf("recomputation from storage differs:\n%v\n%v", second, third)
	}
	b, _ := json.Marshal(third[0])
	for _, key := range []string{`"regime":"kz_oisc_to_ncc"`, `"stage":"immediate"`, `"due_at":"2025-06-10T05:00:00Z"`,
		`"status":"pending"`, `"recipient":"NCC"`, `"sent_at":"2025-06-10T04:30:00Z"`, `"acknowledged_at":"2025-06-10T04:31:00Z"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("stored form lacks %s: %s", key, b)
		}
	}
}

// BenchmarkCompute: one significant OISC-detected personal-data incident
// (four regimes, seven stages), recomputed from its recorded stages.
func BenchmarkCompute(b *testing.B) {
	c := newClocks(b, incident.ClockOptions{})
	in := incident.ClockInput{IncidentID: "inc-b", Origin: "oisc_detected", Determination: "confirmed", Significant: true,
		PersonalDataInvolved: true, DetectedAt: instant(b, "2025-06-10T04:00:00Z"), AwareAt: instant(b, "2025-06-10T05:00:00Z")}
	now := instant(b, "2025-06-10T06:00:00Z")
	stages, _, err := c.Compute(in, now)
	if err != nil {
		b.Fatal(err)
	}
	in.Stages = stages
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Compute(in, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStageSentThenNoLongerApplyingStaysSent: a send recorded on a pending
// stage is kept when the same computation finds the stage no longer applies.
func TestStageSentThenNoLongerApplyingStaysSent(t *testing.T) {
	c := newClocks(t, incident.ClockOptions{})
	now := instant(t, "2025-06-11T07:00:00Z")
	in := incident.ClockInput{IncidentID: "inc-10", Origin: "oisc_detected", Determination: "suspected",
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")}
	stages, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	recordNotification(t, stages, "kz_oisc_to_ncc", "immediate", "NCC", "2025-06-10T04:30:00Z", "")
	recordNotification(t, stages, "kz_oisc_to_ncc", "immediate", "OWNER", "2025-06-10T05:10:00Z", "")
	in.Stages, in.Determination = stages, "false_positive"
	got, _, err := c.Compute(in, now)
	if err != nil {
		t.Fatal(err)
	}
	if l := stageLine(got[0], now); l != "kz_oisc_to_ncc/immediate 2025-06-10T05:00:00Z late" {
		t.Error(l)
	}
}

func TestOneNotificationPerRecipient(t *testing.T) {
	// The OISC is both the NCC's contact point here and the connected
	// center: one message, not two.
	resolve := func(role string, in *incident.ClockInput) ([]incident.Recipient, error) {
		return []incident.Recipient{{ID: "oisc-almaty", Channel: "nats"}}, nil
	}
	c := newClocks(t, incident.ClockOptions{Resolve: resolve})
	in := incident.ClockInput{IncidentID: "inc-11", Origin: "owner_self_identified", Determination: "confirmed", ObjectIsCritical: true,
		DetectedAt: instant(t, "2025-06-10T04:00:00Z")}
	got, _, err := c.Compute(in, instant(t, "2025-06-10T04:10:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Notifications) != 1 || got[0].Notifications[0].Role != "NCC" {
		t.Errorf("%+v", got)
	}
}
