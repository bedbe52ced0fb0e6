package config

import (
	"fmt"
	"time"
)

// Digests configures the ncc's schedule of the NCC's digests (daily and
// monthly, national and per sector, in kk, ru and en): each day at Time
// (Asia/Almaty) the ncc generates the previous day's digests and, until
// they exist, the previous month's. Several ncc instances may run it: the
// digests' ids are deterministic and the store keeps one of each.
type Digests struct {
	// Disabled generates none on schedule (POST /api/v1/reports still
	// does).
	Disabled bool `yaml:"disabled"`
	// Time is the local time of day, "HH:MM" in Asia/Almaty, after which
	// the previous day's digests are due.
	Time string `yaml:"time"`
	// Retry is how soon a failed generation is tried again.
	Retry time.Duration `yaml:"retry"`
}

// DefaultDigests: at 00:10, retried every 5 minutes.
func DefaultDigests() Digests { return Digests{Time: "00:10", Retry: 5 * time.Minute} }

// At returns Time as an offset from midnight.
func (d Digests) At() (time.Duration, error) {
	t, err := time.Parse("15:04", d.Time)
	if err != nil {
		return 0, fmt.Errorf("%q is not HH:MM", d.Time)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (d Digests) validate(es *Errors, path string) {
	if d.Disabled {
		return
	}
	if _, err := d.At(); err != nil {
		es.Add(path+".time", "%v", err)
	}
	if d.Retry < time.Second {
		es.Add(path+".retry", "must be at least 1s")
	}
}
