// Package bus is kuzet's NATS JetStream adapter: stream and subject names,
// the batch envelope, publishing with retries, the durable pull consumer and
// the registry KV bucket.
//
// # Subjects and streams
//
// Collectors publish batch envelopes to kuzet.events.<oisc>.<collector>
// (stream KUZET_EVENTS), so NATS permissions can restrict each OISC to its own
// prefix. The ncc publishes alerts to kuzet.alerts.<oisc>.<sector> (stream
// KUZET_ALERTS). Streams are limited by age and bytes and created
// idempotently (CreateOrUpdate) by whichever role starts first.
//
// # Envelope
//
// One message carries one Batch of many events. The header Kuzet-Schema holds
// the event schema version; Kuzet-Encoding is "s2" when the body is
// S2-compressed; Nats-Msg-Id is the batch id "<collector>/<sequence>", so a
// publish retried within the stream's duplicate window is stored once.
//
// # Delivery
//
// The ncc's durable pull consumer uses explicit acks. A message is acked only
// after its effect is durable; until then it is redelivered after AckWait, so
// consumers must be idempotent (the store is, by event id).
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/config"
	"github.com/kuzet-kz/kuzet/internal/event"
)

// Names of streams, subjects, headers and buckets.
const (
	EventsStream   = "KUZET_EVENTS"
	EventsPrefix   = "kuzet.events"
	AlertsStream   = "KUZET_ALERTS"
	AlertsPrefix   = "kuzet.alerts"
	RegistryBucket = "kuzet_registry"

	HeaderSchema   = "Kuzet-Schema"
	HeaderEncoding = "Kuzet-Encoding"
	HeaderCount    = "Kuzet-Events"
)

// EventsSubject is the subject a collector publishes its batches to.
func EventsSubject(oisc, collector string) string {
	return EventsPrefix + "." + oisc + "." + collector
}

// AlertsSubject is the subject of alerts about objects of an OISC and sector
// ("unknown" when the asset is not in the registry).
func AlertsSubject(oisc, sector string) string {
	if sector == "" {
		sector = "unknown"
	}
	return AlertsPrefix + "." + oisc + "." + sector
}

// Connect connects to NATS with unlimited reconnects and logs connection
// changes. The caller closes (or drains) the connection.
func Connect(cfg config.NATS, name string, log *slog.Logger) (*nats.Conn, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", "subject", subj, "err", err)
		}),
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Reveal()))
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", redactURL(cfg.URL), err)
	}
	return nc, nil
}

// redactURL hides passwords in nats://user:pass@host URLs.
func redactURL(u string) string {
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			return u[:scheme+3] + "<redacted>" + u[at:]
		}
	}
	return u
}

// JetStream returns a JetStream context for nc, addressing domain if set.
func JetStream(nc *nats.Conn, domain string) (jetstream.JetStream, error) {
	if domain != "" {
		return jetstream.NewWithDomain(nc, domain)
	}
	return jetstream.New(nc)
}

// StreamOptions are the limits of kuzet's streams.
type StreamOptions struct {
	Replicas int
	// MaxAge and MaxBytes bound the events stream (oldest dropped first).
	MaxAge   time.Duration
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id window; it must cover publisher retries.
	Duplicates time.Duration
	// Sites are the OISC sites whose buffers the events stream sources
	// (hub side only).
	Sites []SiteSource
}

// DefaultStreamOptions keep events a week, up to 8 GiB, with a 10 minute
// duplicate window.
func DefaultStreamOptions() StreamOptions {
	return StreamOptions{Replicas: 1, MaxAge: 7 * 24 * time.Hour, MaxBytes: 8 << 30, Duplicates: 10 * time.Minute}
}

// StreamOptionsFor are the limits a role's nats section sets (the defaults
// where it sets none).
func StreamOptionsFor(cfg config.NATS) StreamOptions {
	o := DefaultStreamOptions()
	o.Replicas = max(cfg.Replicas, 1)
	if cfg.EventsMaxAge > 0 {
		o.MaxAge = cfg.EventsMaxAge
	}
	if cfg.EventsMaxBytes > 0 {
		o.MaxBytes = cfg.EventsMaxBytes
	}
	return o
}

// EnsureStreams creates or updates the events and alerts streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) error {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	for _, sc := range []jetstream.StreamConfig{
		{
			Name: EventsStream, Subjects: []string{EventsPrefix + ".>"}, Storage: jetstream.FileStorage,
			Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxAge: o.MaxAge, MaxBytes: o.MaxBytes,
			Duplicates: o.Duplicates, Replicas: o.Replicas, MaxMsgSize: 8 << 20, Sources: siteSources(o.Sites),
			Description: "kuzet batch envelopes of normalised events, one subject per OISC and collector",
		},
		{
			Name: AlertsStream, Subjects: []string{AlertsPrefix + ".>"}, Storage: jetstream.FileStorage,
			Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxAge: o.MaxAge, MaxBytes: o.MaxBytes / 8,
			Duplicates: o.Duplicates, Replicas: o.Replicas,
			Description: "kuzet alerts, one subject per OISC and sector",
		},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("bus: stream %s: %w", sc.Name, storageHint(err, sc.MaxBytes))
		}
	}
	return nil
}

// storageHint explains JetStream's "insufficient storage resources": the
// server reserves each stream's MaxBytes against its file storage limit.
func storageHint(err error, maxBytes int64) error {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.ErrorCode == jsErrInsufficientStorage {
		return fmt.Errorf("%w (the stream reserves %d MiB of the server's JetStream file storage; raise the server's max_file_store, `kuzet nats --max-store`, or free disk)", err, maxBytes>>20)
	}
	return err
}

// Publisher publishes batch envelopes. It is safe for concurrent use: run as
// many Publish calls at once as batches may be in flight.
type Publisher struct {
	js  jetstream.JetStream
	log *slog.Logger
	// Compress enables S2 compression of envelope bodies.
	Compress bool
	// Timeout bounds one publish attempt.
	Timeout time.Duration
	// OnRetry, if set, is called before each retry (for metrics).
	OnRetry func(err error)
}

// NewPublisher returns a publisher with compression on and a 5 s attempt
// timeout.
func NewPublisher(js jetstream.JetStream, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{js: js, log: log, Compress: true, Timeout: 5 * time.Second}
}

// Publish stores the batch in the stream that captures subject, retrying
// with backoff (same Nats-Msg-Id) until it succeeds or ctx ends. Success
// means the stream stored the message, or had already stored the same batch
// id within its duplicate window (JetStream drops the retry); a retry after
// the window would store the batch again, which the id-idempotent tables
// absorb. It returns whether the stream reported a duplicate.
func (p *Publisher) Publish(ctx context.Context, subject string, b *Batch) (dup bool, err error) {
	msg, err := EncodeBatch(b, p.Compress)
	if err != nil {
		return false, err
	}
	msg.Subject = subject
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.Timeout)
		ack, err := p.js.PublishMsg(actx, msg, jetstream.WithMsgID(b.ID))
		cancel()
		if err == nil {
			return ack.Duplicate, nil
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("bus: publish %s: %w", b.ID, ctx.Err())
		}
		if p.OnRetry != nil {
			p.OnRetry(err)
		}
		if attempt == 0 || attempt%20 == 0 {
			p.log.Warn("publish failed, retrying", "batch", b.ID, "attempt", attempt+1, "err", err)
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("bus: publish %s: %w", b.ID, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// ConsumerOptions configure a durable pull consumer.
type ConsumerOptions struct {
	Stream         string
	Durable        string
	FilterSubjects []string
	// MaxAckPending bounds messages delivered and not yet acked; it must
	// cover every message the consumer holds while it flushes.
	MaxAckPending int
	// AckWait must exceed the slowest flush (or the consumer sends InProgress).
	AckWait time.Duration
}

// EnsureConsumer creates or updates a durable pull consumer with explicit
// acks that starts at the beginning of the stream and redelivers forever.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, o ConsumerOptions) (*Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, o.Stream, jetstream.ConsumerConfig{
		Durable:        o.Durable,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        o.AckWait,
		MaxAckPending:  o.MaxAckPending,
		MaxDeliver:     -1,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: o.FilterSubjects,
		MaxWaiting:     512,
		Description:    "kuzet durable consumer " + o.Durable,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s on %s: %w", o.Durable, o.Stream, err)
	}
	return &Consumer{c: c}, nil
}

// ErrSchema is returned for an envelope of an unknown schema version.
var ErrSchema = errors.New("unknown envelope schema")

// SchemaHeader is the header value of the current schema version.
var SchemaHeader = fmt.Sprint(event.SchemaVersion)

// jsErrInsufficientStorage is the server's err_code for a stream whose
// MaxBytes does not fit the storage left (nats-server's
// JSStorageResourcesExceededErr).
const jsErrInsufficientStorage jetstream.ErrorCode = 10047
