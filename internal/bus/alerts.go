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
// message each with its id as Nats-Msg-Id (AlertMessage), so a retry within
// the stream's duplicate window is stored once; PublishMessages does the
// same for any messages (the correlation stage's signals). Safe for
// concurrent use.
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

// Message is one message to publish with an id (Nats-Msg-Id): a retry
// within the stream's duplicate window is stored once.
type Message struct {
	Subject, ID string
	Data        []byte
}

// AlertMessage is the message of an alert on kuzet.alerts.<oisc>.<sector>.
// Its id is the alert id; a correlation alert's share adds its
// organisation and version (<id>/<org>/<version>), so every share and
// every update of an episode is a message of its own.
func AlertMessage(a *alert.Alert) (Message, error) {
	data, err := json.Marshal(a)
	if err != nil {
		return Message{}, err
	}
	id := a.ID.String()
	if a.Correlation {
		id = fmt.Sprintf("%s/%s/%d", a.ID, a.Org, a.Version)
	}
	return Message{Subject: AlertsSubject(a.OISC, a.Sector), ID: id, Data: data}, nil
}

// Publish publishes alerts (AlertMessage) as PublishMessages does.
func (p *AlertPublisher) Publish(ctx context.Context, alerts []alert.Alert) error {
	msgs := make([]Message, 0, len(alerts))
	for i := range alerts {
		m, err := AlertMessage(&alerts[i])
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	return p.PublishMessages(ctx, msgs)
}

// PublishMessages publishes msgs asynchronously, at most MaxInFlight
// unacknowledged at a time, and returns once the streams have stored every
// one (nil), or with the first error of the last attempt, or ctx's. An
// error means some may be stored and others not: publishing them all again
// is safe within the duplicate window.
func (p *AlertPublisher) PublishMessages(ctx context.Context, msgs []Message) error {
	for len(msgs) > 0 {
		window := msgs[:min(p.o.MaxInFlight, len(msgs))]
		msgs = msgs[len(window):]
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
// error it returns the messages not acknowledged, to send again.
func (p *AlertPublisher) publishWindow(ctx context.Context, window []Message) ([]Message, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(window))
	var err error
	for i := range window {
		m := &window[i]
		var f jetstream.PubAckFuture
		f, err = p.js.PublishAsync(m.Subject, m.Data, jetstream.WithMsgID(m.ID))
		if err != nil {
			err = fmt.Errorf("bus: publish %s: %w", m.ID, err)
			break
		}
		futures = append(futures, f)
	}
	timeout := time.NewTimer(p.o.AckTimeout)
	defer timeout.Stop()
	var failed []Message
	for i, f := range futures {
		select {
		case <-f.Ok():
			continue
		case ferr := <-f.Err():
			if err == nil {
				err = fmt.Errorf("bus: publish %s: %w", window[i].ID, ferr)
			}
		case <-timeout.C:
			if err == nil {
				err = fmt.Errorf("bus: publish %s: %w", window[i].ID, ErrPublishTimeout)
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
