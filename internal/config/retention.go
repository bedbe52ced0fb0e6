package config

import "time"

// Retention is how long the ncc keeps events and alerts in ClickHouse:
// once a day it drops their partitions older than this (18.16 has no
// TTL). Incidents, their history, the notification and audit logs and
// the digests are kept whatever this says.
type Retention struct {
	// Disabled drops nothing.
	Disabled bool `yaml:"disabled"`
	// EventsDays and AlertsDays are the days rows are kept by received_at
	// (default 1096: three years).
	EventsDays int `yaml:"events_days"`
	AlertsDays int `yaml:"alerts_days"`
	// Every is how often the job runs (default 24h).
	Every time.Duration `yaml:"every"`
}

// DefaultRetention keeps three years, checked daily.
func DefaultRetention() Retention {
	return Retention{EventsDays: 1096, AlertsDays: 1096, Every: 24 * time.Hour}
}

func (r Retention) validate(es *Errors, path string) {
	if r.Disabled {
		return
	}
	// A week at least: a typo must not empty the store.
	if r.EventsDays < 7 || r.EventsDays > 36500 {
		es.Add(path+".events_days", "must be 7..36500, not %d", r.EventsDays)
	}
	if r.AlertsDays < 7 || r.AlertsDays > 36500 {
		es.Add(path+".alerts_days", "must be 7..36500, not %d", r.AlertsDays)
	}
	if r.Every < time.Minute {
		es.Add(path+".every", "must be at least 1m, not %s", r.Every)
	}
}
