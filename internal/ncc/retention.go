package ncc

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuzet-kz/kuzet/internal/store"
)

// retentionStore is what the retention job needs of the store.
type retentionStore interface {
	ApplyRetention(ctx context.Context, p store.RetentionPolicy, now time.Time) ([]store.Partition, error)
}

// retention drops, every so often, the partitions of events and alerts
// past the policy (store.ApplyRetention); every ncc instance may run it
// (dropping is idempotent).
type retention struct {
	st      retentionStore
	policy  store.RetentionPolicy
	every   time.Duration
	now     func() time.Time
	log     *slog.Logger
	ready   func() bool
	dropped *prometheus.CounterVec
	runs    *prometheus.CounterVec
}

func newRetention(st retentionStore, p store.RetentionPolicy, every time.Duration, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) *retention {
	r := &retention{st: st, policy: p, every: every, now: now, log: log,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_retention_dropped_partitions_total",
			Help: "Partitions of events and alerts the retention job dropped, by table."}, []string{"table"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kuzet_retention_runs_total",
			Help: "Runs of the retention job, by outcome (ok, error)."}, []string{"outcome"}),
	}
	for _, t := range store.RetentionTables() {
		r.dropped.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(r.dropped, r.runs)
	}
	return r
}

// runOnce applies the policy once.
func (r *retention) runOnce(ctx context.Context) error {
	parts, err := r.st.ApplyRetention(ctx, r.policy, r.now())
	for _, p := range parts {
		r.dropped.WithLabelValues(p.Table).Inc()
		r.log.Info("partition dropped past the retention policy", "table", p.Table, "partition", p.Partition)
	}
	if err != nil {
		r.runs.WithLabelValues("error").Inc()
		return err
	}
	r.runs.WithLabelValues("ok").Inc()
	return nil
}

// run applies the policy once ready and then every r.every (after a
// failure, in a minute), until ctx ends.
func (r *retention) run(ctx context.Context) {
	wait := time.Duration(0)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if r.ready != nil && !r.ready() {
			wait = time.Second
			continue
		}
		wait = r.every
		if err := r.runOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retention job failed; retrying", "in", time.Minute, "err", err)
			wait = min(time.Minute, r.every)
		}
	}
}

// startRetention starts the retention job (unless disabled) until ctx
// ends; Stop waits for it with the ncc's other watchers.
func (n *NCC) startRetention(ctx context.Context) {
	c := n.cfg.Retention
	if c.Disabled {
		return
	}
	day := 24 * time.Hour
	r := newRetention(n.st, store.RetentionPolicy{Events: time.Duration(c.EventsDays) * day, Alerts: time.Duration(c.AlertsDays) * day},
		c.Every, n.now, n.log.With("stage", "retention"), n.opts.Registerer)
	r.ready = n.Ready
	n.bg.Add(1)
	go func() { defer n.bg.Done(); r.run(ctx) }()
}
