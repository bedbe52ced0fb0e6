package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/alert"
)

// AlertPublisherOptions configure an AlertPublisher; zero fields take
// the defaults of DefaultAlertPublisherOptions.
type AlertPublisherOptions struct {
	// MaxInFlight bounds the alerts published and not yet acknowledged by
	// the stream.
	MaxInFlight int
	// AckTimeout bounds the wait for the acknowledgements of one window.
	AckTimeout time.Duration
	// Attempts is how many times a window whose publish failed is sent
	// (the alerts not acknowledged), Backoff the first pause between
	// attempts, doubled each time. A window not acknowledged within
	// AckTimeout is not retried here: the error goes to the caller, so
	// one Publish lasts about AckTimeout at most while NATS is away.
	Attempts int
	Backoff  time.Duration
}

// DefaultAlertPublisherOptions: 256 in flight, 5 s per window, 3 attempts
// 50 ms apart at first.
func DefaultAlertPublisherOptions() AlertPublisherOptions {
	return AlertPublisherOptions{MaxInFlight: 256, AckTimeout: 5 * time.Second, Attempts: 3, Backoff: 50 * time.Millisecond}
}

// AlertPublisher publishes alerts to kuzet.alerts.<oisc>.<sector>, one
// message each with Nats-Msg-Id = the alert id, so a retry within the
// stream's duplicate window is stored once. Safe for concurrent use.
type AlertPublisher struct {
	js jetstream.JetStream
	o  AlertPublisherOptions
}

// NewAlertPublisher returns a publisher on js.
func NewAlertPublisher(js jetstream.JetStream, o AlertPublisherOptions) *AlertPublisher {
	d := DefaultAlertPublisherOptions()
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = d.AckTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = d.Attempts
	}
	if o.Backoff <= 0 {
		o.Backoff = d.Backoff
	}
	return &AlertPublisher{js: js, o: o}
}

// ErrPublishTimeout is returned when JetStream does not acknowledge a
// published alert within AckTimeout.
var ErrPublishTimeout = errors.New("no acknowledgement in time")

// Publish publishes alerts asynchronously, at most MaxInFlight
// unacknowledged at a time, and returns once the stream has stored every
// one (nil), or with the first error of the last attempt, or ctx's. An
// error means some alerts may be stored and others not: publishing them
// all again is safe within the duplicate window.
func (p *AlertPublisher) Publish(ctx context.Context, alerts []alert.Alert) error {
	for len(alerts) > 0 {
		window := alerts[:min(p.o.MaxInFlight, len(alerts))]
		alerts = alerts[len(window):]
		backoff := p.o.Backoff
		for attempt := 1; ; attempt++ {
			var err error
			window, err = p.publishWindow(ctx, window)
			if err == nil {
				break
			}
			if attempt >= p.o.Attempts || ctx.Err() != nil || errors.Is(err, ErrPublishTimeout) {
				return err
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff *= 2
		}
	}
	return nil
}

// publishWindow publishes window and waits for its acknowledgements. On
// error it returns the alerts not acknowledged, to send again.
func (p *AlertPublisher) publishWindow(ctx context.Context, window []alert.Alert) ([]alert.Alert, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(window))
	var err error
	for i := range window {
		a := &window[i]
		var data []byte
		if data, err = json.Marshal(a); err != nil {
			break
		}
		var f jetstream.PubAckFuture
		f, err = p.js.PublishAsync(AlertsSubject(a.OISC, a.Sector), data, jetstream.WithMsgID(a.ID.String()))
		if err != nil {
			err = fmt.Errorf("bus: publish alert %s: %w", a.ID, err)
			break
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(p.o.AckTimeout)
	defer timeout.Stop()
	var failed []alert.Alert
	for i, f := range futures {
		select {
		case <-f.Ok():
			continue
		case ferr := <-f.Err():
			if err == nil {
				err = fmt.Errorf("bus: publish alert %s: %w", window[i].ID, ferr)
			}
		case <-timeout.C:
			if err == nil {
				err = fmt.Errorf("bus: publish alert %s: %w", window[i].ID, ErrPublishTimeout)
			}
			return window[i:], err
		case <-ctx.Done():
			return window[i:], ctx.Err()
		}
		failed = append(failed, window[i])
	}
	if err != nil {
		failed = append(failed, window[len(futures):]...)
	}
	return failed, err
}
