package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/config"
)

// Client is a NATS connection and its JetStream context, for a role that
// reaches JetStream only through bus. Close it when done.
type Client struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// Dial connects as Connect does and opens JetStream in cfg.Domain.
func Dial(cfg config.NATS, name string, log *slog.Logger) (*Client, error) {
	nc, err := Connect(cfg, name, log)
	if err != nil {
		return nil, err
	}
	js, err := JetStream(nc, cfg.Domain)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Client{nc: nc, js: Placed(js, cfg)}, nil
}

// JetStream returns the client's JetStream context.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

// JetStreamDomain returns a JetStream context of the client's connection
// that addresses domain (a site's, for the hub).
func (c *Client) JetStreamDomain(domain string) (jetstream.JetStream, error) {
	return JetStream(c.nc, domain)
}

// Close closes the connection; publishes not yet acknowledged fail.
func (c *Client) Close() { c.nc.Close() }

// Consumer is a durable pull consumer with explicit acks (EnsureConsumer).
// Safe for concurrent use.
type Consumer struct {
	c jetstream.Consumer
}

// Delivery is one message delivered by a Consumer. Until it is acked or
// terminated, JetStream redelivers it after the consumer's AckWait (sooner
// after Nak); InProgress restarts that wait. Deliveries are values: copies
// share the message.
type Delivery struct {
	msg jetstream.Msg
}

// Data is the message body.
func (d Delivery) Data() []byte { return d.msg.Data() }

// Headers are the message headers.
func (d Delivery) Headers() nats.Header { return d.msg.Headers() }

// Subject is the subject the message was published to.
func (d Delivery) Subject() string { return d.msg.Subject() }

// NumDelivered is how many times the message has been delivered (1 the
// first time), or 0 when its metadata cannot be read.
func (d Delivery) NumDelivered() uint64 {
	md, err := d.msg.Metadata()
	if err != nil {
		return 0
	}
	return md.NumDelivered
}

// Ack acknowledges the message: its effect is durable, it is not
// redelivered.
func (d Delivery) Ack() error { return d.msg.Ack() }

// InProgress tells JetStream the message is still being worked on, which
// restarts its AckWait.
func (d Delivery) InProgress() error { return d.msg.InProgress() }

// Nak asks JetStream to redeliver the message now.
func (d Delivery) Nak() error { return d.msg.Nak() }

// Term tells JetStream never to redeliver the message (it cannot be
// processed); it stays in the stream until the stream's limits remove it.
func (d Delivery) Term() error { return d.msg.Term() }

// Fetch waits at most wait for up to max messages of at most maxBytes in
// all, returning those that arrived. Running out of time or of messages is
// not an error; an error (the connection, the consumer) may come with the
// deliveries received before it, which the caller owns as any others.
//
// The wait is the server's: the fetch ends on its "request expired" status,
// which comes in order after every message the request was given. ctx is
// checked only before the request and does not cut a fetch short: a fetch
// ended by its context (jetstream.FetchContext) unsubscribes with messages
// the server already sent still buffered or in flight, and those, never
// handed to the caller, come back only after AckWait (a minute of latency
// for every envelope so lost, seen as a 60-90 s p99 under load).
func (c *Consumer) Fetch(ctx context.Context, max, maxBytes int, wait time.Duration) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: fetch: %w", err)
	}
	mb, err := c.c.Fetch(max, jetstream.FetchMaxWait(atLeastMs(wait)), jetstream.FetchMaxBytes(maxBytes))
	if err != nil {
		return nil, fmt.Errorf("bus: fetch: %w", err)
	}
	var out []Delivery
	for m := range mb.Messages() {
		out = append(out, Delivery{msg: m})
	}
	if err := mb.Error(); err != nil && !fetchEnded(err) {
		return out, fmt.Errorf("bus: fetch: %w", err)
	}
	return out, nil
}

// atLeastMs is wait, or a millisecond if it is less (a fetch must wait).
func atLeastMs(wait time.Duration) time.Duration {
	if wait < time.Millisecond {
		return time.Millisecond
	}
	return wait
}

// fetchEnded reports a fetch's error that only says how it ended: its wait
// or context ran out, nothing was there, or ErrBatchCompleted, the server's
// 409 "Batch Completed" (the fetch got max messages before maxBytes, with
// more waiting: a full fetch, not a failure; taken for one, every full
// fetch under a backlog made the ncc not ready and sleep half a second).
func fetchEnded(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, jetstream.ErrBatchCompleted)
}

// Pending returns the consumer's lag: messages in the stream not yet
// delivered, and messages delivered and not yet acked.
func (c *Consumer) Pending(ctx context.Context) (pending, ackPending uint64, err error) {
	info, err := c.c.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("bus: consumer info: %w", err)
	}
	return info.NumPending, uint64(info.NumAckPending), nil
}
