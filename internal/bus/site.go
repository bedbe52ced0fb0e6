package bus

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	Site string
	// OISC is the site's OISC: the hub sources only its subjects
	// (kuzet.events.<oisc>.>); empty sources every subject.
	OISC     string
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
	if _, err := js.CreateOrUpdatePushConsumer(ctx, SiteStream, siteConsumerConfig(o.Site, o.OISC)); err != nil {
		return fmt.Errorf("bus: site source consumer: %w", err)
	}
	return nil
}

func siteConsumerConfig(site, oisc string) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:        SiteSourceConsumer,
		DeliverSubject: SiteDeliverSubject(site),
		AckPolicy:      jetstream.AckFlowControlPolicy,
		FlowControl:    true,
		IdleHeartbeat:  time.Second,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		Description:    "the NCC sources the site buffer through this consumer",
	}
	if oisc != "" {
		cc.FilterSubject = OISCEventsFilter(oisc)
	}
	return cc
}

// OISCEventsFilter is the subject filter of an OISC's events.
func OISCEventsFilter(oisc string) string { return EventsPrefix + "." + oisc + ".>" }

// SiteSource is a site the hub's events stream sources: its JetStream
// domain and the OISC whose subjects it may carry (empty: any, the
// configuration of before OISC filtering).
type SiteSource struct {
	Domain string
	OISC   string
}

// SiteInspection is what the hub finds in a site's buffer.
type SiteInspection struct {
	// Foreign counts the messages the site holds under subjects of other
	// OISCs: the source never delivers them, so they stay until the
	// buffer's limits drop them.
	Foreign uint64
	// Subjects are those foreign subjects.
	Subjects []string
	// FilterReset is set when the source consumer's filter was not the
	// OISC's (changed on the site) and the hub set it back.
	FilterReset bool
}

// InspectSite reads a site's buffer through js, a JetStream context of the
// site's domain, counts the messages under other OISCs' subjects and puts
// the source consumer's filter back to the OISC's if the site changed it.
// Sourcing through a site's durable consumer takes no filter of the hub's
// own (nats-server refuses a source filter with a durable consumer), so the
// consumer's filter is the hub's to keep.
func InspectSite(ctx context.Context, js jetstream.JetStream, src SiteSource) (SiteInspection, error) {
	var in SiteInspection
	st, err := js.Stream(ctx, SiteStream)
	if err != nil {
		return in, fmt.Errorf("bus: site %s: %w", src.Domain, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(EventsPrefix+".>"))
	if err != nil {
		return in, fmt.Errorf("bus: site %s: %w", src.Domain, err)
	}
	if src.OISC == "" {
		return in, nil
	}
	own := EventsPrefix + "." + src.OISC + "."
	for subj, n := range info.State.Subjects {
		if !strings.HasPrefix(subj, own) {
			in.Foreign += n
			in.Subjects = append(in.Subjects, subj)
		}
	}
	slices.Sort(in.Subjects)
	c, err := st.PushConsumer(ctx, SiteSourceConsumer)
	if err != nil {
		return in, fmt.Errorf("bus: site %s source consumer: %w", src.Domain, err)
	}
	ci := c.CachedInfo()
	if ci.Config.FilterSubject != OISCEventsFilter(src.OISC) || len(ci.Config.FilterSubjects) > 0 {
		if _, err := js.UpdatePushConsumer(ctx, SiteStream, siteConsumerConfig(src.Domain, src.OISC)); err != nil {
			return in, fmt.Errorf("bus: site %s: reset the source filter: %w", src.Domain, err)
		}
		in.FilterReset = true
	}
	return in, nil
}

// SiteLeafPermissions are the permissions of a site's leaf-node user at the
// hub (from the leaf's side, as natsserver.LeafUser takes them): the site
// may send its source deliveries, answers to the hub's requests and the
// registry reads of its collectors; the hub sends it requests to the
// site's JetStream API, flow-control answers and replies. Nothing else: a
// site cannot publish events, alerts or anything of another site at the
// hub, nor receive another site's traffic.
func SiteLeafPermissions(site, hubDomain string) (publish, subscribe []string) {
	api := "$JS." + hubDomain + ".API."
	kv := "KV_" + RegistryBucket
	publish = []string{
		SiteDeliverSubject(site),
		"$JSC.R.>", "_INBOX.>", // answers to the hub's requests
		api + "INFO",
		api + "STREAM.INFO." + kv,
		api + "CONSUMER.CREATE." + kv + ".>",
		api + "CONSUMER.INFO." + kv + ".>",
		api + "CONSUMER.DELETE." + kv + ".>",
		api + "DIRECT.GET." + kv + ".>",
		api + "STREAM.MSG.GET." + kv,
		"$JS.FC." + kv + ".>",
	}
	subscribe = []string{
		"$JS." + site + ".API.>",
		"$JS.FC." + SiteStream + ".>",
		"_INBOX.>",
	}
	return publish, subscribe
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
	if c, err := st.PushConsumer(ctx, SiteSourceConsumer); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			b.AckFloor = ci.AckFloor.Stream
		}
	}
	return b, nil
}

// siteSources returns the hub stream's sources for the sites.
func siteSources(sites []SiteSource) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, site := range sites {
		s := site.Domain
		out = append(out, &jetstream.StreamSource{
			Name:     SiteStream,
			External: &jetstream.ExternalStream{APIPrefix: "$JS." + s + ".API"},
			Consumer: &jetstream.StreamConsumerSource{Name: SiteSourceConsumer, DeliverSubject: SiteDeliverSubject(s)},
		})
	}
	return out
}
