package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Site buffering: an OISC site runs a NATS server of its own (a leaf node of
// the NCC's hub, with a JetStream domain of its own). Its collectors publish
// to it; the stream KUZET_SITE stores their envelopes on the site, and the
// hub's KUZET_EVENTS sources that stream through a durable, flow-controlled
// site-side consumer while the link is up. When the link is down, the site
// keeps accepting within its limits; when it comes back, sourcing resumes
// where it stopped. The site's leaf connection must not export
// kuzet.events.> to the hub, or the hub would store site events twice (once
// directly, once sourced).

// SiteStream is the stream that buffers a site's events. It is a work
// queue: a message leaves it once the hub has it, so the stream's state is
// the backlog (bytes, oldest message).
const SiteStream = "KUZET_SITE"

// SiteSourceConsumer names the site-side consumer the hub sources through.
const SiteSourceConsumer = "ncc-source"

// SiteDeliverSubject is where a site delivers sourced messages to the hub.
func SiteDeliverSubject(site string) string { return "kuzet.sitesrc." + site }

// OverflowBlock is the overflow policy of a site buffer that refuses new
// messages when the buffer is full: the collectors' publishes fail and back
// off, their queues fill, and the inputs stop reading (backpressure towards
// the devices). Any other policy (drop_oldest) deletes the oldest buffered
// messages to make room; the loss is visible in the stream's deleted
// message count.
const OverflowBlock = "block"

// SiteOptions bound a site buffer.
type SiteOptions struct {
	// Site is the site's JetStream domain.
	Site     string
	MaxBytes int64
	MaxAge   time.Duration
	Overflow string
	// Duplicates must cover the publishers' retry period.
	Duplicates time.Duration
}

// EnsureSiteStream creates or updates the site's buffer stream and the
// durable consumer the hub sources through. js addresses the site.
func EnsureSiteStream(ctx context.Context, js jetstream.JetStream, o SiteOptions) error {
	discard := jetstream.DiscardOld
	if o.Overflow == OverflowBlock {
		discard = jetstream.DiscardNew
	}
	if o.Duplicates == 0 {
		o.Duplicates = 10 * time.Minute
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: SiteStream, Subjects: []string{EventsPrefix + ".>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Discard: discard, MaxBytes: o.MaxBytes, MaxAge: o.MaxAge,
		Duplicates: o.Duplicates, MaxMsgSize: 8 << 20,
		Description: "kuzet site buffer of " + o.Site + ", sourced by the NCC",
	}); err != nil {
		return fmt.Errorf("bus: site stream: %w", err)
	}
	if _, err := js.CreateOrUpdatePushConsumer(ctx, SiteStream, jetstream.ConsumerConfig{
		Durable:        SiteSourceConsumer,
		DeliverSubject: SiteDeliverSubject(o.Site),
		AckPolicy:      jetstream.AckFlowControlPolicy,
		FlowControl:    true,
		IdleHeartbeat:  time.Second,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		Description:    "the NCC sources the site buffer through this consumer",
	}); err != nil {
		return fmt.Errorf("bus: site source consumer: %w", err)
	}
	return nil
}

// SiteBacklog is a site buffer's backlog.
type SiteBacklog struct {
	Msgs  uint64
	Bytes uint64
	// Oldest is the time the oldest buffered message was stored (zero when
	// the buffer is empty).
	Oldest time.Time
	// FirstSeq and LastSeq delimit the stream; with the consumer's ack floor
	// they reveal messages dropped by the drop_oldest policy.
	FirstSeq, LastSeq uint64
	AckFloor          uint64
}

// SiteState reads a site buffer's backlog.
func SiteState(ctx context.Context, js jetstream.JetStream) (SiteBacklog, error) {
	st, err := js.Stream(ctx, SiteStream)
	if err != nil {
		return SiteBacklog{}, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return SiteBacklog{}, err
	}
	b := SiteBacklog{Msgs: info.State.Msgs, Bytes: info.State.Bytes, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq}
	if b.Msgs > 0 {
		b.Oldest = info.State.FirstTime
	}
	if c, err := st.Consumer(ctx, SiteSourceConsumer); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			b.AckFloor = ci.AckFloor.Stream
		}
	}
	return b, nil
}

// siteSources returns the hub stream's sources for the sites.
func siteSources(sites []string) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, s := range sites {
		out = append(out, &jetstream.StreamSource{
			Name:     SiteStream,
			External: &jetstream.ExternalStream{APIPrefix: "$JS." + s + ".API"},
			Consumer: &jetstream.StreamConsumerSource{Name: SiteSourceConsumer, DeliverSubject: SiteDeliverSubject(s)},
		})
	}
	return out
}
