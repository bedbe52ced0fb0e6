package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/natsserver"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

func connect(t *testing.T, url, domain string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := bus.JetStream(nc, domain)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		return 0
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// TestSiteBufferSourcedAcrossLinkCut: a site's leaf node authenticates as
// its own user; its events reach the hub's stream through sourcing, once
// each, also when the leaf link is cut while the site keeps publishing and
// then restored; what it writes under another OISC's subjects never reaches
// the hub and is counted; its user cannot publish elsewhere at the hub.
func TestSiteBufferSourcedAcrossLinkCut(t *testing.T) {
	pub, sub := bus.SiteLeafPermissions("site-a", "ncc")
	hub, err := natsserver.Start(natsserver.Options{Name: "hub", Port: -1, LeafPort: -1, StoreDir: t.TempDir(), Domain: "ncc",
		LeafUsers: []natsserver.LeafUser{
			{User: "site-a", Password: "s3cret-a", Publish: pub, Subscribe: sub},
			{User: "site-b", Password: "s3cret-b"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Shutdown()
	proxy := proctest.StartProxy(t, strings.TrimPrefix(hub.LeafURL(), "nats-leaf://"))
	site, err := natsserver.Start(natsserver.Options{Name: "site-a", Port: -1, StoreDir: t.TempDir(), Domain: "site-a",
		LeafRemotes: []string{"nats-leaf://site-a:s3cret-a@" + proxy.Addr()}, LeafDenyExports: []string{bus.EventsPrefix + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Shutdown()
	ctx := context.Background()
	siteJS := connect(t, site.ClientURL(), "")
	hubJS := connect(t, hub.ClientURL(), "")
	if err := bus.EnsureSiteStream(ctx, siteJS, bus.SiteOptions{Site: "site-a", OISC: "oisc-a", MaxBytes: 1 << 30, MaxAge: time.Hour, Overflow: bus.OverflowBlock}); err != nil {
		t.Fatal(err)
	}
	so := bus.DefaultStreamOptions()
	so.Sites = []bus.SiteSource{{Domain: "site-a", OISC: "oisc-a"}}
	// The leaf link must be up for the hub to reach the site's API.
	proctest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		return bus.EnsureStreams(ctx, hubJS, so)
	})
	publisher := bus.NewPublisher(siteJS, nil)
	sendAs := func(oisc string, from, to int) {
		for i := from; i < to; i++ {
			b := batch(uint64(i), 3)
			b.ID = oisc + "/" + b.ID
			if _, err := publisher.Publish(ctx, bus.EventsSubject(oisc, "c1"), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	send := func(from, to int) { sendAs("oisc-a", from, to) }
	waitHub := func(want uint64) {
		proctest.Eventually(t, 60*time.Second, func(context.Context) error {
			if got := streamMsgs(t, hubJS, bus.EventsStream); got != want {
				return fmt.Errorf("hub has %d messages, want %d", got, want)
			}
			return nil
		})
	}
	send(1, 51)
	sendAs("oisc-b", 1, 8) // another OISC's subject
	send(51, 101)
	waitHub(100)
	proxy.Cut()
	send(101, 301) // the site keeps accepting while cut off
	backlog, err := bus.SiteState(ctx, siteJS)
	// The hub acknowledges sourced messages with its flow control, so the
	// backlog may still count some it already has; it holds at least those
	// sent while cut off.
	if err != nil || backlog.Msgs < 200 || backlog.Oldest.IsZero() || backlog.Bytes == 0 {
		t.Errorf("site backlog %+v (%v), want the 200 batches sent while cut off", backlog, err)
	}
	time.Sleep(2 * time.Second)
	if got := streamMsgs(t, hubJS, bus.EventsStream); got != 100 {
		t.Errorf("hub got %d messages while cut off", got)
	}
	proxy.Restore()
	waitHub(300)
	// Nothing twice: every batch id once.
	st, _ := hubJS.Stream(ctx, bus.EventsStream)
	seen := map[string]bool{}
	for seq := uint64(1); seq <= 300; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bus.DecodeBatch(m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if seen[b.ID] {
			t.Errorf("batch %s twice", b.ID)
		}
		seen[b.ID] = true
	}
	time.Sleep(1500 * time.Millisecond)
	if got := streamMsgs(t, hubJS, bus.EventsStream); got != 300 {
		t.Errorf("hub holds %d messages after settling, want 300", got)
	}
	proctest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		b, err := bus.SiteState(ctx, siteJS)
		if err != nil || b.Msgs != 7 {
			return fmt.Errorf("site backlog %+v, %v; want the 7 foreign batches left", b, err)
		}
		return nil
	})
	// The hub counts the foreign messages through the site's API.
	hubToSite := connect(t, hub.ClientURL(), "site-a")
	in, err := bus.InspectSite(ctx, hubToSite, bus.SiteSource{Domain: "site-a", OISC: "oisc-a"})
	if err != nil || in.Foreign != 7 || in.FilterReset || len(in.Subjects) != 1 || in.Subjects[0] != "kuzet.events.oisc-b.c1" {
		t.Errorf("inspection %+v, %v; want 7 foreign messages on kuzet.events.oisc-b.c1", in, err)
	}
	// A site that widens its source consumer's filter gets it set back.
	c, _ := siteJS.Stream(ctx, bus.SiteStream)
	cons, err := c.PushConsumer(ctx, bus.SiteSourceConsumer)
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	cc.FilterSubject = bus.EventsPrefix + ".>"
	if _, err := siteJS.UpdatePushConsumer(ctx, bus.SiteStream, cc); err != nil {
		t.Fatal(err)
	}
	if in, err := bus.InspectSite(ctx, hubToSite, bus.SiteSource{Domain: "site-a", OISC: "oisc-a"}); err != nil || !in.FilterReset {
		t.Errorf("inspection %+v, %v; want the filter reset", in, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := streamMsgs(t, hubJS, bus.EventsStream); got != 300 {
		t.Errorf("hub holds %d messages after the filter was widened and reset, want 300", got)
	}
	// The site's user may not publish anything else into the hub.
	hubNC, err := nats.Connect(hub.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer hubNC.Close()
	leak, _ := hubNC.SubscribeSync("kuzet.alerts.>")
	hubNC.Flush()
	siteNC, err := nats.Connect(site.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer siteNC.Close()
	time.Sleep(500 * time.Millisecond) // interest reaches the site
	siteNC.Publish("kuzet.alerts.oisc-b.energy", []byte("forged"))
	siteNC.Flush()
	if m, err := leak.NextMsg(time.Second); err == nil {
		t.Errorf("the site published %q into the hub", m.Subject)
	}

	// The hub's own check, on the header its server wrote: a site that
	// widens its filter and is not set back (the ncc inspects every few
	// seconds) gets the 7 foreign batches it writes next into the hub
	// stream, and the check tells them from the 300 of its own OISC.
	if _, err := siteJS.UpdatePushConsumer(ctx, bus.SiteStream, cc); err != nil {
		t.Fatal(err)
	}
	sendAs("oisc-b", 8, 15)
	waitHub(307)
	idx := bus.NewSourceIndex(so.Sites)
	own, foreign := 0, 0
	for seq := uint64(1); seq <= 307; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		site, err := idx.Check(m.Header, m.Subject)
		switch {
		case site != "site-a":
			t.Fatalf("message %d (%s, %s %q) not known as site-a's: %q, %v", seq, m.Subject, bus.HeaderStreamSource,
				m.Header.Get(bus.HeaderStreamSource), site, err)
		case err == nil && strings.HasPrefix(m.Subject, "kuzet.events.oisc-a."):
			own++
		case errors.Is(err, bus.ErrForeignSubject) && strings.HasPrefix(m.Subject, "kuzet.events.oisc-b."):
			foreign++
		default:
			t.Errorf("message %d on %s: %v", seq, m.Subject, err)
		}
	}
	if own != 300 || foreign != 7 {
		t.Errorf("the check passed %d and refused %d messages; want 300 and 7", own, foreign)
	}
	// Another site's source id is not site-a's.
	other := nats.Header{}
	other.Set(bus.HeaderStreamSource, "KUZET_SITE:abcdefgh:C=ijklmnop 1 > > kuzet.events.oisc-a.c1")
	if _, err := idx.Check(other, "kuzet.events.oisc-a.c1"); !errors.Is(err, bus.ErrForeignSubject) {
		t.Errorf("a message of an unknown source passed: %v", err)
	}
	if site, err := idx.Check(nats.Header{}, "kuzet.events.oisc-b.c1"); site != "" || err != nil {
		t.Errorf("a message published at the hub (not sourced): %q, %v", site, err)
	}
}
