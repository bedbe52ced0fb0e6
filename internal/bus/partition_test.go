package bus_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/proctest"
)

// TestPartitionOwnerPinned pins the rendezvous hash: every member computes
// the same owners, so a change of it is a change of the documented
// partitioning (and of who owns what after an upgrade).
func TestPartitionOwnerPinned(t *testing.T) {
	members := []string{"ncc-1", "ncc-2", "ncc-3"}
	var got []string
	for p := range 8 {
		got = append(got, bus.PartitionOwner(members, p))
	}
	want := []string{"ncc-1", "ncc-3", "ncc-2", "ncc-3", "ncc-2", "ncc-2", "ncc-1", "ncc-1"}
	if !slices.Equal(got, want) {
		t.Errorf("owners of partitions 0..7 = %q, want %q", got, want)
	}
	if bus.PartitionOwner(nil, 0) != "" {
		t.Error("a partition with no members has an owner")
	}
}

// TestPartitionsSpreadAndMoveLittle: the owned sets of all members cover
// every partition exactly once, and when a member leaves only its own
// partitions move.
func TestPartitionsSpreadAndMoveLittle(t *testing.T) {
	const count = 64
	members := []string{"a", "b", "c", "d"}
	owners := map[int]string{}
	for _, m := range members {
		for _, p := range bus.OwnedPartitions(m, members, count) {
			if o, dup := owners[p]; dup {
				t.Fatalf("partition %d owned by %s and %s", p, o, m)
			}
			owners[p] = m
		}
	}
	if len(owners) != count {
		t.Fatalf("%d of %d partitions owned", len(owners), count)
	}
	for _, m := range members {
		if n := len(bus.OwnedPartitions(m, members, count)); n < count/8 {
			t.Errorf("member %s owns only %d of %d", m, n, count)
		}
	}
	rest := []string{"a", "b", "d"}
	for p := range count {
		now := bus.PartitionOwner(rest, p)
		if owners[p] != "c" && now != owners[p] {
			t.Errorf("partition %d moved from %s to %s though %s stayed", p, owners[p], now, owners[p])
		}
	}
}

// TestPartitionsTakeover runs three members on a real JetStream: together
// they own every partition once; when one stops announcing (as a killed
// process does) the others take its partitions within TTL + heartbeat, and
// a member that leaves hands its partitions over at the next heartbeat.
func TestPartitionsTakeover(t *testing.T) {
	s := bustest.Server(t)
	ctx := context.Background()
	join := func(member string) *bus.Partitions {
		_, js := bustest.Connect(t, s)
		p, err := bus.JoinPartitions(ctx, js, bus.PartitionOptions{Group: "test", Count: 16, Member: member,
			Heartbeat: 100 * time.Millisecond, TTL: 400 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := join("ncc-a"), join("ncc-b"), join("ncc-c")
	all := []*bus.Partitions{a, b, c}
	covered := func(ps []*bus.Partitions) error {
		seen := map[int]int{}
		for _, p := range ps {
			for _, part := range p.Owned() {
				seen[part]++
			}
		}
		for part := range 16 {
			if seen[part] != 1 {
				return fmt.Errorf("partition %d owned %d times", part, seen[part])
			}
		}
		return nil
	}
	proctest.Eventually(t, 5*time.Second, func(context.Context) error { return covered(all) })

	// c stops announcing without leaving: its key expires after the TTL.
	cOwned := c.Owned()
	stopped := time.Now()
	if err := c.Leave(ctx); err != nil { // Leave deletes the key; put it back to model a crash
		t.Fatal(err)
	}
	_, js := bustest.Connect(t, s)
	kv, err := js.KeyValue(ctx, bus.MembersBucket("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "ncc-c", []byte("crashed")); err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 5*time.Second, func(context.Context) error { return covered([]*bus.Partitions{a, b}) })
	took := time.Since(stopped)
	t.Logf("a crashed member's %d partitions moved after %v", len(cOwned), took.Round(10*time.Millisecond))
	if took < 300*time.Millisecond {
		t.Errorf("partitions moved after %v, before the member's TTL ran out", took)
	}

	// b leaves: a owns everything at its next heartbeat.
	left := time.Now()
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	proctest.Eventually(t, 2*time.Second, func(context.Context) error { return covered([]*bus.Partitions{a}) })
	t.Logf("a member that left was replaced after %v", time.Since(left).Round(10*time.Millisecond))
	select {
	case <-a.Changed():
	default:
		t.Error("Changed did not signal")
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpoints saves and loads partition state inline and through the
// object store, and refuses a save by a member whose view is stale.
func TestCheckpoints(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx := context.Background()
	cps, err := bus.OpenCheckpoints(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	cps.InlineMax = 1 << 10
	empty, err := cps.Load(ctx, 3)
	if err != nil || empty.Seq != 0 || empty.Revision != 0 || empty.State != nil {
		t.Fatalf("an unsaved partition: %+v, %v", empty, err)
	}
	small := []byte("state at 10")
	cp, err := cps.Save(ctx, 3, empty, 10, small)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 10 || cp.Revision == 0 || cp.State != nil {
		t.Fatalf("a saved checkpoint: seq %d, revision %d, %d bytes of state kept (want none)", cp.Seq, cp.Revision, len(cp.State))
	}
	got, err := cps.Load(ctx, 3)
	if err != nil || got.Seq != 10 || !bytes.Equal(got.State, small) || got.Revision != cp.Revision {
		t.Fatalf("inline: %+v, %v", got, err)
	}
	// 4 MiB of JSON-like text: compressed, it fits inline.
	text := bytes.Repeat([]byte(`{"id":"0b7c1e2a","t":"2026-12-03T10:00:00Z","share":{"org":"bank"}},`), 60<<10)
	cpText, err := cps.Save(ctx, 3, got, 20, text)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, bus.StateBucket("test"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "p3"); err != nil || len(e.Value()) > cps.InlineMax+9 {
		t.Fatalf("a compressible 4 MiB state is not stored compressed inline: %v", err)
	}
	if got, err := cps.Load(ctx, 3); err != nil || got.Seq != 20 || !bytes.Equal(got.State, text) {
		t.Fatalf("compressed inline: seq %d, %d bytes, %v", got.Seq, len(got.State), err)
	}
	// 1 MiB of random bytes: over InlineMax even compressed.
	large := make([]byte, 1<<20)
	_, _ = rand.Read(large)
	cp2, err := cps.Save(ctx, 3, cpText, 25, large)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := cps.Load(ctx, 3)
	if err != nil || got2.Seq != 25 || !bytes.Equal(got2.State, large) {
		t.Fatalf("object: seq %d, %d bytes, %v", got2.Seq, len(got2.State), err)
	}
	// A member still holding the revision of seq 10 has lost the partition.
	if _, err := cps.Save(ctx, 3, got, 30, small); !errors.Is(err, bus.ErrCheckpointConflict) {
		t.Fatalf("a stale save: %v, want ErrCheckpointConflict", err)
	}
	// A second member creating the same partition's first checkpoint loses too.
	if _, err := cps.Save(ctx, 3, bus.Checkpoint{}, 1, small); !errors.Is(err, bus.ErrCheckpointConflict) {
		t.Fatalf("a second first save: %v, want ErrCheckpointConflict", err)
	}
	// Back to inline: the large object is removed.
	if _, err := cps.Save(ctx, 3, cp2, 40, small); err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, bus.StateBucket("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.GetInfo(ctx, "p3-25"); err == nil {
		t.Error("the object of an overwritten checkpoint was kept")
	}
	final, err := cps.Load(ctx, 3)
	if err != nil || final.Seq != 40 || !bytes.Equal(final.State, small) {
		t.Fatalf("after going back inline: %+v, %v", final, err)
	}
	// A checkpoint written before compression (kind 'i', raw) still loads;
	// a corrupt compressed one fails.
	for _, c := range []struct {
		value string
		ok    bool
	}{{"i\x00\x00\x00\x00\x00\x00\x00\x07raw state", true}, {"I\x00\x00\x00\x00\x00\x00\x00\x07\xff\xff\xffgarbage", false}} {
		if _, err := kv.Put(ctx, "p5", []byte(c.value)); err != nil {
			t.Fatal(err)
		}
		got, err := cps.Load(ctx, 5)
		if c.ok && (err != nil || got.Seq != 7 || string(got.State) != "raw state") {
			t.Errorf("a raw inline checkpoint: %+v, %v", got, err)
		}
		if !c.ok && err == nil {
			t.Errorf("a corrupt compressed checkpoint loaded: %d bytes", len(got.State))
		}
	}
}

// TestStagePartitionsReadInOrder publishes to four partitions of a stage
// and reads one: only its messages, in stream order, from after a
// checkpoint's sequence; a publish retried with the same id is stored
// once; two readers of one partition (an ownership change) both see every
// message.
func TestStagePartitionsReadInOrder(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx := context.Background()
	if err := bus.EnsureStageStream(ctx, js, "test", bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64 // of partition 2, in publish order
	for i := range 40 {
		part := i % 4
		id := fmt.Sprintf("m%d", i)
		if _, err := bus.PublishStage(ctx, js, "test", part, id, nil, []byte(id)); err != nil {
			t.Fatal(err)
		}
		dup, err := bus.PublishStage(ctx, js, "test", part, id, nil, []byte(id))
		if err != nil || !dup {
			t.Fatalf("a retried publish: duplicate %v, %v", dup, err)
		}
		if part == 2 {
			seqs = append(seqs, uint64(i+1))
		}
	}
	read := func(after uint64) []string {
		r, err := bus.OpenPartition(ctx, js, "test", 2, after)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var last uint64
		for len(got) < 10 {
			msgs, err := r.Fetch(ctx, 3, 500*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				if m.Seq <= last || m.Seq <= after || m.Subject != bus.StageSubject("test", 2) {
					t.Fatalf("message %d on %s after %d (checkpoint %d)", m.Seq, m.Subject, last, after)
				}
				last = m.Seq
				got = append(got, string(m.Data))
			}
		}
		return got
	}
	all := read(0)
	if len(all) != 10 || all[0] != "m2" || all[9] != "m38" {
		t.Fatalf("partition 2 from the start: %q", all)
	}
	again := read(0)
	if !slices.Equal(all, again) {
		t.Fatalf("a second reader saw %q, the first %q", again, all)
	}
	fromCheckpoint := read(seqs[4]) // covered m2..m18
	if !slices.Equal(fromCheckpoint, all[5:]) {
		t.Fatalf("after the checkpoint at seq %d: %q, want %q", seqs[4], fromCheckpoint, all[5:])
	}
}

// TestPartitionReaderKeepsItsConsumer: fetches reuse one consumer (no
// consumer made per read); one the server lost is replaced and reading
// goes on after the last message returned, none twice; Close removes it.
func TestPartitionReaderKeepsItsConsumer(t *testing.T) {
	s := bustest.Server(t)
	_, js := bustest.Connect(t, s)
	ctx := context.Background()
	if err := bus.EnsureStageStream(ctx, js, "keep", bus.DefaultStreamOptions()); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := bus.PublishStage(ctx, js, "keep", 1, fmt.Sprintf("m%d", i), nil, []byte(fmt.Sprintf("m%d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := js.Stream(ctx, bus.StageStream("keep"))
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() []string {
		var names []string
		for n := range st.ConsumerNames(ctx).Name() {
			names = append(names, n)
		}
		return names
	}
	r, err := bus.OpenPartition(ctx, js, "keep", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	read := func(want int) {
		t.Helper()
		for range 40 {
			msgs, err := r.Fetch(ctx, 4, 50*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				got = append(got, string(m.Data))
			}
			if len(got) >= want {
				return
			}
		}
		t.Fatalf("read %d messages, want %d", len(got), want)
	}
	publish(0, 10)
	read(10)
	for range 5 { // idle reads
		if _, err := r.Fetch(ctx, 4, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	names := consumers()
	if len(names) != 1 {
		t.Fatalf("consumers after 8 reads: %v, want one", names)
	}
	// The server loses the consumer (a restart, a moved leader).
	if err := st.DeleteConsumer(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	publish(10, 15)
	read(15)
	want := make([]string, 15)
	for i := range want {
		want[i] = fmt.Sprintf("m%d", i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	r.Close()
	if names := consumers(); len(names) != 0 {
		t.Errorf("consumers after Close: %v", names)
	}
}
