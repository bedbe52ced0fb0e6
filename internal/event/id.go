package event

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new event id: a UUIDv7, whose first 48 bits are the
// millisecond Unix time, so ids sort roughly by acceptance time.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("event id: %w", err)
	}
	return id.String(), nil
}

// Stamp gives ev its identity and acceptance time if it has none, and records
// the collector, its OISC and the input. It never changes an id once set.
func Stamp(ev *Event, now time.Time, collector, oisc, input string) error {
	if ev.Kuzet.EventID == "" {
		id, err := NewID()
		if err != nil {
			return err
		}
		ev.Kuzet.EventID = id
	}
	if ev.Kuzet.ReceivedAt.IsZero() {
		ev.Kuzet.ReceivedAt = now.UTC()
	}
	ev.Kuzet.Collector = collector
	ev.Kuzet.OISC = oisc
	if input != "" {
		ev.Kuzet.Input = input
	}
	return nil
}

// ParseID parses an event id and checks that it is a UUIDv7.
func ParseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("event id %q: %w", s, err)
	}
	if id.Version() != 7 || len(s) != 36 {
		return uuid.UUID{}, fmt.Errorf("event id %q: not a canonical UUIDv7", s)
	}
	return id, nil
}
