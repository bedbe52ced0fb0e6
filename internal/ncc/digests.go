package ncc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/report"
	"github.com/kuzet-kz/kuzet/internal/store"
)

// digestStore is what the digest schedule needs of the store.
type digestStore interface {
	DigestIDs(ctx context.Context, ids []string) (map[string]bool, error)
	DigestFigures(ctx context.Context, spec report.DigestSpec, now time.Time) (report.DigestFigures, error)
	InsertDigests(ctx context.Context, fs []report.DigestFile, by string) ([]store.DigestEntry, error)
}

// digestCheckEvery bounds the wait between two checks of the schedule,
// so a clock stepped forward (or a host resumed) is noticed within it.
const digestCheckEvery = time.Hour

// dueDigests lists the digests due at now when the day's digests are
// due at the local time at (Asia/Almaty): the previous day's daily
// digests and the previous month's monthly ones, for every scope. Before
// at, the day before is still "today" (its digests come at at).
func dueDigests(now time.Time, at time.Duration) []report.DigestSpec {
	ref := now.In(report.Zone).Add(-at)
	day := report.PeriodStart(report.Daily, ref).AddDate(0, 0, -1)
	month := report.PeriodStart(report.Monthly, ref).AddDate(0, -1, 0)
	var out []report.DigestSpec
	for _, k := range []struct {
		kind  report.DigestKind
		start time.Time
	}{{report.Daily, day}, {report.Monthly, month}} {
		for _, scope := range report.DigestScopes() {
			out = append(out, report.DigestSpec{Kind: k.kind, Scope: scope, Start: k.start})
		}
	}
	return out
}

// nextDigestRun is the first instant after now at which the local time
// (Asia/Almaty) is at.
func nextDigestRun(now time.Time, at time.Duration) time.Time {
	t := report.PeriodStart(report.Daily, now).Add(at)
	for !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// digestSchedule generates the due digests that are missing. It is
// idempotent and safe to run on several ncc instances at once: a
// digest's id is deterministic, and two instances generating the same
// one leave one row (the store keeps the newest generation).
type digestSchedule struct {
	st    digestStore
	by    string // the generator recorded with each digest: the ncc's id
	at    time.Duration
	retry time.Duration
	now   func() time.Time
	// ready, when set, holds the checks back while it is false (the ncc
	// not ready: its schema may not be migrated yet).
	ready func() bool
	log   *slog.Logger
	// render is report.RenderDigests (tests count calls instead).
	render              func(report.DigestSpec, report.DigestFigures, []report.Lang, time.Time) ([]report.DigestFile, error)
	generated, failures *prometheus.CounterVec
}

func newDigestSchedule(st digestStore, by string, at, retry time.Duration, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) *digestSchedule {
	d := &digestSchedule{st: st, by: by, at: at, retry: retry, now: now, log: log, render: report.RenderDigests,
		generated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_ncc_digests_generated_total",
			Help: "Digests the schedule generated (one per language), by kind."}, []string{"kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_ncc_digest_failures_total",
			Help: "Digest periods the schedule failed to generate, by kind."}, []string{"kind"}),
	}
	reg.MustRegister(d.generated, d.failures)
	return d
}

// runOnce generates, in every language, the due digests not stored yet,
// and returns how many it stored. A period that fails does not stop the
// others; the errors are joined.
func (d *digestSchedule) runOnce(ctx context.Context) (int, error) {
	now := d.now()
	specs := dueDigests(now, d.at)
	var ids []string
	for _, s := range specs {
		for _, l := range report.Langs {
			ids = append(ids, s.ID(l))
		}
	}
	have, err := d.st.DigestIDs(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("ncc: digests: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range specs {
		var missing []report.Lang
		for _, l := range report.Langs {
			if !have[s.ID(l)] {
				missing = append(missing, l)
			}
		}
		if len(missing) == 0 {
			continue
		}
		err := func() error {
			fig, err := d.st.DigestFigures(ctx, s, now)
			if err != nil {
				return err
			}
			files, err := d.render(s, fig, missing, now)
			if err != nil {
				return err
			}
			_, err = d.st.InsertDigests(ctx, files, d.by)
			return err
		}()
		if err != nil {
			d.failures.WithLabelValues(string(s.Kind)).Inc()
			errs = append(errs, fmt.Errorf("%s %s %s: %w", s.Kind, s.Scope, s.Start.Format(time.DateOnly), err))
			continue
		}
		n += len(missing)
		d.generated.WithLabelValues(string(s.Kind)).Add(float64(len(missing)))
	}
	if n > 0 {
		d.log.Info("digests generated", "digests", n)
	}
	return n, errors.Join(errs...)
}

// run checks the schedule once ready, at each day's time, and at least
// every digestCheckEvery, until ctx ends; after a failure it tries again
// after 1s, doubling up to retry.
func (d *digestSchedule) run(ctx context.Context) {
	backoff := time.Second
	for {
		if d.ready != nil && !d.ready() {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		_, err := d.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		now := d.now()
		wait := min(nextDigestRun(now, d.at).Sub(now), digestCheckEvery)
		if err != nil {
			d.log.Warn("digests not generated; retrying", "in", min(wait, backoff), "err", err)
			wait = min(wait, backoff)
			backoff = min(2*backoff, d.retry)
		} else {
			backoff = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// startDigests starts the digest schedule (unless disabled) until ctx
// ends; Stop waits for it with the ncc's other watchers.
func (n *NCC) startDigests(ctx context.Context) {
	if n.cfg.Digests.Disabled {
		return
	}
	at, _ := n.cfg.Digests.At() // validated
	d := newDigestSchedule(n.st, n.cfg.ID, at, n.cfg.Digests.Retry, n.now, n.log.With("stage", "digests"), n.opts.Registerer)
	d.ready = n.Ready
	n.bg.Add(1)
	go func() { defer n.bg.Done(); d.run(ctx) }()
}
