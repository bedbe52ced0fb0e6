package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Notification subjects: kuzet.notify.<kind>.<recipient> carries the
// notifications of the legal clocks to a recipient (kind as the registry
// spells it: ncc, oisc, sectoral_isc, authorized_body, org), and
// kuzet.notify.ack the recipients' acknowledgements. Both are kept in the
// KUZET_NOTIFY stream, so a recipient that was away reads what it missed
// with a JetStream consumer, and a plain subscriber sees them live.
const (
	NotifyStream     = "KUZET_NOTIFY"
	NotifyAckSubject = "kuzet.notify.ack"
)

// NotifySubject is the subject of a recipient's notifications.
func NotifySubject(kind, recipient string) string { return "kuzet.notify." + kind + "." + recipient }

// NotifyMaxBytes bounds KUZET_NOTIFY: messages of a few KiB each, a
// month of them.
const NotifyMaxBytes = 256 << 20

// EnsureNotifyStream creates or updates KUZET_NOTIFY (30 days by default).
func EnsureNotifyStream(ctx context.Context, js jetstream.JetStream, replicas int, maxAge time.Duration) error {
	if replicas < 1 {
		replicas = 1
	}
	if maxAge <= 0 {
		maxAge = 30 * 24 * time.Hour
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: NotifyStream, Subjects: []string{"kuzet.notify.*.*", NotifyAckSubject}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxAge: maxAge, MaxBytes: NotifyMaxBytes,
		Duplicates: time.Hour, Replicas: replicas, MaxMsgSize: 1 << 20,
		Description: "kuzet notifications to recipients, and their acknowledgements",
	})
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", NotifyStream, storageHint(err, NotifyMaxBytes))
	}
	return nil
}

// PublishNotification stores one notification on its recipient's subject,
// with its id as Nats-Msg-Id (a repeat within the hour is stored once) and
// the given headers. The stream's acknowledgement is the delivery.
func PublishNotification(ctx context.Context, js jetstream.JetStream, kind, recipient, id string, h map[string]string, data []byte) error {
	msg := &nats.Msg{Subject: NotifySubject(kind, recipient), Header: nats.Header{}, Data: data}
	for k, v := range h {
		msg.Header.Set(k, v)
	}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("bus: publish %s: %w", msg.Subject, err)
	}
	return nil
}

// NotifyAckConsumer is the durable consumer of acknowledgements, shared by
// every ncc instance.
func NotifyAckConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, NotifyStream, jetstream.ConsumerConfig{
		Durable: "kuzet-notify-acks", FilterSubject: NotifyAckSubject, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 30 * time.Second, MaxAckPending: 1024, DeliverPolicy: jetstream.DeliverAllPolicy,
		Description: "applies recipients' acknowledgements to their incidents",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: notification acknowledgements consumer: %w", err)
	}
	return c, nil
}
