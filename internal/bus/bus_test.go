package bus_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/registry"
)

func batch(seq uint64, n int) *bus.Batch {
	b := &bus.Batch{ID: bus.BatchID("c1", seq), Collector: "c1", OISC: "oisc-a", Seq: seq, CreatedAt: time.Now().UTC()}
	for i := 0; i < n; i++ {
		b.Events = append(b.Events, json.RawMessage(`{"message":"event `+strings.Repeat("x", i)+`"}`))
	}
	return b
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		b := batch(7, 50)
		msg, err := bus.EncodeBatch(b, compress)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get(bus.HeaderCount); got != "50" {
			t.Errorf("count header %q", got)
		}
		back, err := bus.DecodeBatch(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if back.ID != "c1/7" || len(back.Events) != 50 || string(back.Events[3]) != string(b.Events[3]) {
			t.Errorf("compress=%v: round trip changed the batch: %+v", compress, back)
		}
	}
}

func TestEnvelopeRejects(t *testing.T) {
	good, _ := bus.EncodeBatch(batch(1, 3), true)
	for name, c := range map[string]struct {
		h    nats.Header
		data []byte
		want string
	}{
		"no schema":      {nats.Header{}, good.Data, "unknown envelope schema"},
		"future schema":  {nats.Header{bus.HeaderSchema: {"99"}}, good.Data, "unknown envelope schema"},
		"bad encoding":   {nats.Header{bus.HeaderSchema: {bus.SchemaHeader}, bus.HeaderEncoding: {"zstd"}}, good.Data, "unknown encoding"},
		"corrupt s2":     {nats.Header{bus.HeaderSchema: {bus.SchemaHeader}, bus.HeaderEncoding: {"s2"}}, []byte("garbage!"), "s2 body"},
		"broken json":    {nats.Header{bus.HeaderSchema: {bus.SchemaHeader}}, []byte(`{"id":"x","events":[`), "batch body"},
		"missing id":     {nats.Header{bus.HeaderSchema: {bus.SchemaHeader}}, []byte(`{"events":[]}`), "without id"},
		"s2 bomb header": {nats.Header{bus.HeaderSchema: {bus.SchemaHeader}, bus.HeaderEncoding: {"s2"}}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, "s2 body"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := bus.DecodeBatch(c.h, c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// TestEnvelopeTooLarge: a body that would decompress past MaxDecoded is
// refused before it is decompressed, with ErrTooLarge (the ncc counts it
// as reason envelope_too_large); DecodeBatchSize reports the size of the
// decompressed body the events refer to.
func TestEnvelopeTooLarge(t *testing.T) {
	h := nats.Header{bus.HeaderSchema: {bus.SchemaHeader}, bus.HeaderEncoding: {"s2"}}
	bomb := binary.AppendUvarint(nil, bus.MaxDecoded+1)
	if _, err := bus.DecodeBatch(h, append(bomb, "garbage"...)); !errors.Is(err, bus.ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	b := batch(2, 10)
	msg, err := bus.EncodeBatch(b, true)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := bus.EncodeBatch(b, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := bus.DecodeBatchSize(msg.Header, msg.Data); err != nil || n != len(plain.Data) {
		t.Errorf("DecodeBatchSize = %d, %v; want %d (the body decompressed)", n, err, len(plain.Data))
	}
}

func TestPublishDeduplicatesRetries(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	// Idempotent creation.
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	p := bus.NewPublisher(js, nil)
	subj := bus.EventsSubject("oisc-a", "c1")
	for i, wantDup := range []bool{false, true, true} {
		dup, err := p.Publish(ctx, subj, batch(1, 10))
		if err != nil {
			t.Fatal(err)
		}
		if dup != wantDup {
			t.Errorf("publish %d: duplicate = %v, want %v", i, dup, wantDup)
		}
	}
	if _, err := p.Publish(ctx, subj, batch(2, 10)); err != nil {
		t.Fatal(err)
	}
	st, _ := js.Stream(ctx, bus.EventsStream)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
	}
}

func TestPublishGivesUpWithContext(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	// No stream captures the subject: every attempt fails until ctx ends.
	p := bus.NewPublisher(js, nil)
	p.Timeout = 100 * time.Millisecond
	retries := 0
	p.OnRetry = func(error) { retries++ }
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if _, err := p.Publish(ctx, "kuzet.events.none.c1", batch(1, 1)); err == nil {
		t.Fatal("publish without a stream succeeded")
	}
	if retries < 2 {
		t.Errorf("retried %d times, want several", retries)
	}
}

// streamOf is a server with kuzet's streams holding n batches of size
// events, c1/1 first.
func streamOf(t *testing.T, n, size int, compress bool) jetstream.JetStream {
	t.Helper()
	_, js := bustest.Connect(t, bustest.Server(t))
	ctx := context.Background()
	if err := bus.EnsureStreams(ctx, js, bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	p := bus.NewPublisher(js, nil)
	p.Compress = compress
	for i := uint64(1); i <= uint64(n); i++ {
		if _, err := p.Publish(ctx, bus.EventsSubject("oisc-a", "c1"), batch(i, size)); err != nil {
			t.Fatal(err)
		}
	}
	return js
}

func TestConsumerRedeliversUnacked(t *testing.T) {
	ctx := context.Background()
	js := streamOf(t, 3, 2, true)
	opts := bus.ConsumerOptions{Stream: bus.EventsStream, Durable: "ncc", MaxAckPending: 10, AckWait: 2 * time.Second}
	c, err := bus.EnsureConsumer(ctx, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func() []bus.Delivery {
		ds, err := c.Fetch(ctx, 10, 1<<20, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	first := fetch()
	if len(first) != 3 {
		t.Fatalf("fetched %d, want 3", len(first))
	}
	// Ack one; the other two come back after AckWait, with their ids intact.
	if err := first[0].Ack(); err != nil {
		t.Fatal(err)
	}
	if again := fetch(); len(again) != 0 {
		t.Fatalf("%d messages redelivered before AckWait", len(again))
	}
	time.Sleep(2500 * time.Millisecond)
	again := fetch()
	if len(again) != 2 {
		t.Fatalf("redelivered %d, want 2", len(again))
	}
	for _, m := range again {
		b, err := bus.DecodeBatch(m.Headers(), m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == "c1/1" {
			t.Error("the acked batch came back")
		}
		if m.NumDelivered() != 2 {
			t.Errorf("delivery count %d, want 2", m.NumDelivered())
		}
		_ = m.Ack()
	}
	// The same consumer config again is accepted (idempotent).
	if _, err := bus.EnsureConsumer(ctx, js, opts); err != nil {
		t.Fatal(err)
	}
}

// TestFetchLimitsAndNakTerm: Fetch stops at its count and byte limits; a
// Nak comes back at once, a Term never.
func TestFetchLimitsAndNakTerm(t *testing.T) {
	ctx := context.Background()
	js := streamOf(t, 6, 20, false)
	c, err := bus.EnsureConsumer(ctx, js, bus.ConsumerOptions{Stream: bus.EventsStream, Durable: "lim", MaxAckPending: 100, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(max, maxBytes int) []bus.Delivery {
		t.Helper()
		ds, err := c.Fetch(ctx, max, maxBytes, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	if ds := fetch(2, 1<<20); len(ds) != 2 {
		t.Fatalf("fetched %d with max 2", len(ds))
	} else {
		if err := ds[0].Term(); err != nil {
			t.Fatal(err)
		}
		if err := ds[1].Nak(); err != nil {
			t.Fatal(err)
		}
	}
	one := 0
	ds := fetch(10, 1<<20)
	for _, d := range ds {
		one = max(one, len(d.Data()))
		if d.Subject() != bus.EventsSubject("oisc-a", "c1") || d.Headers().Get(bus.HeaderSchema) != bus.SchemaHeader {
			t.Errorf("delivery of %q with headers %v", d.Subject(), d.Headers())
		}
	}
	// The naked one and the four never delivered; the terminated one never again.
	if len(ds) != 5 {
		t.Fatalf("fetched %d after a Term and a Nak, want 5", len(ds))
	}
	for _, d := range ds {
		b, _ := bus.DecodeBatch(d.Headers(), d.Data())
		if b.ID == "c1/1" {
			t.Error("the terminated message was redelivered")
		}
		if (b.ID == "c1/2") != (d.NumDelivered() == 2) {
			t.Errorf("%s delivered %d times", b.ID, d.NumDelivered())
		}
		if err := d.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	// About two and a half messages' bytes: at most two, at least one.
	if got := len(fetch(10, one*5/2)); got < 1 || got > 2 {
		t.Errorf("fetched %d messages of %d bytes each within %d bytes", got, one, one*5/2)
	}
	pending, ackPending, err := c.Pending(ctx)
	if err != nil || pending != 0 || ackPending == 0 {
		t.Errorf("pending %d, ack pending %d, err %v", pending, ackPending, err)
	}
}

func TestRegistryKVImportAndWatch(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := bus.OpenRegistryKV(ctx, js, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.LoadFile(filepath.Join(conformance.ModuleRoot(t), "configs", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := kv.Import(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(reg.Centers) + len(reg.Organisations) + len(reg.Objects); n != want {
		t.Errorf("import wrote %d keys, want %d", n, want)
	}
	if n, _ := kv.Import(ctx, reg); n != 0 {
		t.Errorf("re-import of the same registry wrote %d keys", n)
	}
	snaps := make(chan *registry.Registry, 10)
	go func() { _ = kv.Watch(ctx, func(r *registry.Registry) { snaps <- r }) }()
	first := <-snaps
	if len(first.Objects) != len(reg.Objects) {
		t.Fatalf("watch snapshot has %d objects, want %d", len(first.Objects), len(reg.Objects))
	}
	// Remove one object and rename another: the watcher sees the change.
	next := *reg
	next.Objects = append([]registry.Object(nil), reg.Objects[1:]...)
	next.Objects[0].Name = "renamed"
	if _, err := kv.Import(ctx, &next); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-snaps:
		if len(got.Objects) != len(reg.Objects)-1 || got.Object(next.Objects[0].ID).Name != "renamed" {
			t.Errorf("changed snapshot: %d objects", len(got.Objects))
		}
		if got.Object(reg.Objects[0].ID) != nil {
			t.Error("deleted object still there")
		}
	case <-ctx.Done():
		t.Fatal("no snapshot after change")
	}
	loaded, err := kv.Load(ctx)
	if err != nil || len(loaded.Objects) != len(next.Objects) {
		t.Fatalf("load: %v", err)
	}
}

// TestFullFetchIsNoError: a fetch that gets its max messages while more
// wait (the server's 409 "Batch Completed", sent with a byte limit) returns
// them without an error, fetch after fetch.
func TestFullFetchIsNoError(t *testing.T) {
	ctx := context.Background()
	js := streamOf(t, 7, 2, true)
	c, err := bus.EnsureConsumer(ctx, js, bus.ConsumerOptions{Stream: bus.EventsStream, Durable: "full", MaxAckPending: 100, AckWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{3, 3, 1} {
		ds, err := c.Fetch(ctx, 3, 16<<20, time.Second)
		if err != nil || len(ds) != want {
			t.Fatalf("fetched %d, %v; want %d and no error", len(ds), err, want)
		}
		for _, d := range ds {
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
