package stage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/bus/bustest"
	"github.com/kuzet-kz/kuzet/internal/proctest"
	"github.com/kuzet-kz/kuzet/internal/stage"
)

// counter is a processor whose state counts the messages it applied and
// remembers their ids; its effect is recording each id in a shared set, as
// an idempotent store would.
type counter struct {
	part    int
	effects *effects
	State   struct {
		Count int
		Seen  map[string]bool
	}
}

type effects struct {
	mu  sync.Mutex
	ids map[string]int // message id -> times the effect was made
}

func (e *effects) record(id string) {
	e.mu.Lock()
	e.ids[id]++
	e.mu.Unlock()
}

func (e *effects) distinct() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ids)
}

func (c *counter) Restore(state []byte) error {
	c.State.Seen = map[string]bool{}
	if state == nil {
		return nil
	}
	return json.Unmarshal(state, &c.State)
}

func (c *counter) Process(_ context.Context, msgs []bus.StageMsg) error {
	for _, m := range msgs {
		id := string(m.Data)
		if m.Subject != bus.StageSubject("test", c.part) {
			return fmt.Errorf("partition %d got %s", c.part, m.Subject)
		}
		c.State.Count++
		c.State.Seen[id] = true
		c.effects.record(id)
	}
	return nil
}

func (c *counter) Tick(context.Context, time.Time) error { return nil }
func (c *counter) Snapshot() ([]byte, error)             { return json.Marshal(c.State) }

// TestStageSurvivesAKilledMember runs three members of a stage over eight
// partitions on a real JetStream and kills one (its NATS connection closes
// as a killed process's does) while messages stream in. Every message's
// effect is made, the killed member's partitions move within the TTL, and
// after a graceful stop of the others the checkpoints count every message
// exactly once.
func TestStageSurvivesAKilledMember(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	s := bustest.Server(t)
	ctx := context.Background()
	eff := &effects{ids: map[string]int{}}
	const parts = 8
	start := func(member string) (*stage.Runner, func()) {
		nc, js := bustest.Connect(t, s)
		r, err := stage.Start(ctx, js, stage.Options{Group: "test", Count: parts, Member: member,
			New:  func(p int) stage.Processor { return &counter{part: p, effects: eff} },
			Wait: 50 * time.Millisecond, CheckpointEvery: 100 * time.Millisecond,
			Heartbeat: 100 * time.Millisecond, TTL: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return r, nc.Close
	}
	a, _ := start("ncc-a")
	b, killB := start("ncc-b")
	c, _ := start("ncc-c")

	_, js := bustest.Connect(t, s)
	const total = 3000
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("m%04d", i)
			if _, err := bus.PublishStage(ctx, js, "test", i%parts, id, nil, []byte(id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, total/2)
	proctest.Eventually(t, 10*time.Second, func(context.Context) error {
		if n := eff.distinct(); n < total/2 {
			return fmt.Errorf("%d of %d effects before the kill", n, total/2)
		}
		return nil
	})
	bOwned := b.Owned()
	if len(bOwned) == 0 {
		t.Fatal("member b owned no partition")
	}
	killB()
	killed := time.Now()
	publish(total/2, total)
	proctest.Eventually(t, 20*time.Second, func(context.Context) error {
		if n := eff.distinct(); n < total {
			return fmt.Errorf("%d of %d effects after the kill", n, total)
		}
		return nil
	})
	took := time.Since(killed)
	t.Logf("member b's %d partitions taken over and every message applied %v after the kill", len(bOwned), took.Round(10*time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("takeover took %v, want under 10 s", took)
	}
	for _, r := range []*stage.Runner{a, c} {
		if err := r.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// b's connection is closed: it cannot save or leave, as a killed
	// process would not; its stop ends by its deadline.
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_ = b.Stop(sctx)
	cancel()

	// A member that stops while it backs off after a checkpoint conflict
	// leaves the other's checkpoint in place; whoever owns the partition
	// next replays from it. A fresh member catching up on every partition
	// makes the checkpoints complete again.
	d, _ := start("ncc-d")
	cps, err := bus.OpenCheckpoints(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	total2 := func() int {
		n := 0
		for p := range parts {
			cp, err := cps.Load(ctx, p)
			if err != nil || cp.State == nil {
				continue
			}
			var st struct{ Count int }
			if json.Unmarshal(cp.State, &st) == nil {
				n += st.Count
			}
		}
		return n
	}
	proctest.Eventually(t, 20*time.Second, func(context.Context) error {
		if n := total2(); n < total {
			return fmt.Errorf("the checkpoints cover %d of %d messages", n, total)
		}
		return nil
	})
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	counted, seen := 0, map[string]bool{}
	for p := range parts {
		cp, err := cps.Load(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Count int
			Seen  map[string]bool
		}
		if err := json.Unmarshal(cp.State, &st); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		if st.Count != len(st.Seen) {
			t.Errorf("partition %d counted %d messages but saw %d distinct: a message counted twice", p, st.Count, len(st.Seen))
		}
		counted += st.Count
		for id := range st.Seen {
			seen[id] = true
		}
	}
	if counted != total || len(seen) != total {
		t.Errorf("checkpoints counted %d messages, %d distinct; want %d", counted, len(seen), total)
	}
	replayed := 0
	eff.mu.Lock()
	for _, n := range eff.ids {
		replayed += n - 1
	}
	eff.mu.Unlock()
	t.Logf("effects made again after the takeover (absorbed by idempotent stores): %d", replayed)
}
