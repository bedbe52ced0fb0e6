// Package stage runs a partitioned, stateful stage of the ncc (correlation,
// incident grouping) across ncc instances: it joins the stage's partition
// group, and for every partition this instance owns it restores the
// partition's state from its checkpoint, reads the partition's messages in
// stream order after the sequence the checkpoint covers, hands them to the
// partition's Processor, and checkpoints the state with the sequence it
// covers.
//
// # Exactly-once state
//
// A Processor's effects (rows written, messages published) must be durable
// when Process returns, and idempotent by id: after a crash, the next owner
// restores the last checkpoint and processes the messages after it again,
// and since the stages are deterministic it makes the same effects, which
// the stores absorb. The state itself counts each message once: it is the
// checkpoint's state plus exactly the messages after its sequence. When
// ownership moves, two instances may process one partition for a moment;
// the checkpoint's compare-and-set makes the one whose view is stale
// (bus.ErrCheckpointConflict) start again from the other's checkpoint, and
// the one that lost ownership stops at its next membership read.
//
// # Time
//
// Tick is called every Options.Tick with the wall-clock time, for the
// processors' timers (group_wait, closing quiet episodes); processors that
// need event time keep their own watermark.
package stage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/bus"
)

// Processor holds and advances the state of one partition. The runner
// calls it from one goroutine.
type Processor interface {
	// Restore loads a checkpoint's state (nil: none yet).
	Restore(state []byte) error
	// Process applies messages in stream order; its effects must be
	// durable when it returns.
	Process(ctx context.Context, msgs []bus.StageMsg) error
	// Tick runs the processor's timers at now; its effects must be durable
	// when it returns.
	Tick(ctx context.Context, now time.Time) error
	// Snapshot returns the state to checkpoint.
	Snapshot() ([]byte, error)
}

// A Processor that also has a Close method is closed when its partition
// is released (lost, or the runner stopping), after its last checkpoint.

// Options configure a Runner.
type Options struct {
	// Group names the stage; its stream is bus.StageStream(Group).
	Group string
	// Count is the fixed number of partitions.
	Count int
	// Member is this instance's id in the group.
	Member string
	// New makes the processor of a partition.
	New func(part int) Processor
	// Batch is the most messages read at once (default 512).
	Batch int
	// Wait is how long a read waits for the first message (default 200 ms).
	Wait time.Duration
	// Tick is how often processors' timers run (default 1 s).
	Tick time.Duration
	// CheckpointEvery is the time between checkpoints of a partition that
	// processed messages (default 5 s); longer for a state whose checkpoint
	// takes more than a twentieth of it to write (twenty times that).
	CheckpointEvery time.Duration
	// Heartbeat and TTL of the membership (bus.PartitionOptions).
	Heartbeat, TTL time.Duration
	Replicas       int
	Logger         *slog.Logger
	// Now is the clock of Tick (default time.Now).
	Now func() time.Time
}

// Runner runs one instance's share of a stage.
type Runner struct {
	opts  Options
	js    jetstream.JetStream
	log   *slog.Logger
	parts *bus.Partitions
	cps   *bus.Checkpoints
	// snap admits checkpointsAtOnce snapshots at a time: a snapshot holds
	// its state's encoding (and its compressed copy) until saved, so the
	// partitions checkpointing together bound the memory it takes.
	snap chan struct{}

	mu      sync.Mutex
	running map[int]context.CancelFunc
	wg      sync.WaitGroup
	cancel  context.CancelFunc
	done    chan struct{}
	stats   Stats
}

// checkpointsAtOnce is how many partitions of a runner write a checkpoint
// at a time; checkpointShare the least time between two checkpoints of a
// partition, in multiples of the last one's duration.
const (
	checkpointsAtOnce = 2
	checkpointShare   = 20
)

// Stats are a runner's counters.
type Stats struct {
	Messages    uint64
	Checkpoints uint64
	Conflicts   uint64
	Errors      uint64
	// Taken counts partitions this instance started to own.
	Taken uint64
}

func (o *Options) defaults() error {
	if o.Group == "" || o.Member == "" || o.Count < 1 || o.New == nil {
		return errors.New("stage: a group, a member, a count and New are needed")
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Wait <= 0 {
		o.Wait = 200 * time.Millisecond
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Start creates the stage's stream and checkpoint store, joins the group
// and starts the partitions it owns, until Stop. ctx bounds only the
// start.
func Start(ctx context.Context, js jetstream.JetStream, o Options) (*Runner, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	so := bus.DefaultStageStreamOptions()
	so.Replicas = o.Replicas
	if err := bus.EnsureStageStream(ctx, js, o.Group, so); err != nil {
		return nil, err
	}
	cps, err := bus.OpenCheckpoints(ctx, js, o.Group, o.Replicas)
	if err != nil {
		return nil, err
	}
	parts, err := bus.JoinPartitions(ctx, js, bus.PartitionOptions{Group: o.Group, Count: o.Count, Member: o.Member,
		Heartbeat: o.Heartbeat, TTL: o.TTL, Replicas: o.Replicas, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Runner{opts: o, js: js, log: o.Logger.With("stage", o.Group, "member", o.Member), parts: parts, cps: cps,
		running: map[int]context.CancelFunc{}, cancel: cancel, done: make(chan struct{}), snap: make(chan struct{}, checkpointsAtOnce)}
	go func() {
		defer close(r.done)
		r.reconcile(runCtx)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-r.parts.Changed():
				r.reconcile(runCtx)
			}
		}
	}()
	return r, nil
}

// reconcile starts the partitions newly owned and stops the ones lost.
func (r *Runner) reconcile(ctx context.Context) {
	owned := map[int]bool{}
	for _, p := range r.parts.Owned() {
		owned[p] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, cancel := range r.running {
		if !owned[p] {
			cancel()
			delete(r.running, p)
		}
	}
	for p := range owned {
		if _, ok := r.running[p]; ok {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		r.running[p] = cancel
		r.stats.Taken++
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.runPartition(pctx, p)
		}()
	}
}

// Owned returns the partitions running here now.
func (r *Runner) Owned() []int { return r.parts.Owned() }

// Stats returns the counters.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Runner) count(fn func(*Stats)) {
	r.mu.Lock()
	fn(&r.stats)
	r.mu.Unlock()
}

// runPartition owns one partition until ctx ends or the partition is lost
// to another member. Errors (ClickHouse down, NATS away) retry with
// backoff from the last checkpoint.
func (r *Runner) runPartition(ctx context.Context, part int) {
	log := r.log.With("partition", part)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.ownPartition(ctx, part, log)
		if err == nil || ctx.Err() != nil {
			return
		}
		if errors.Is(err, bus.ErrCheckpointConflict) {
			// Another member wrote the checkpoint: while this one still
			// owns the partition (a handover in progress, or a previous
			// owner's last save), start again from that checkpoint.
			r.count(func(s *Stats) { s.Conflicts++ })
			log.Info("partition checkpoint written by another member; reloading")
		} else {
			r.count(func(s *Stats) { s.Errors++ })
			log.Warn("partition failed; restarting from its checkpoint", "err", err, "backoff", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (r *Runner) ownPartition(ctx context.Context, part int, log *slog.Logger) error {
	cp, err := r.cps.Load(ctx, part)
	if err != nil {
		return err
	}
	proc := r.opts.New(part)
	if c, ok := proc.(interface{ Close() }); ok {
		defer c.Close()
	}
	if err := proc.Restore(cp.State); err != nil {
		return fmt.Errorf("stage: restore partition %d at %d: %w", part, cp.Seq, err)
	}
	cp.State = nil // restored: the processor holds it now
	rd, err := bus.OpenPartition(ctx, r.js, r.opts.Group, part, cp.Seq)
	if err != nil {
		return err
	}
	defer rd.Close()
	if rd.Behind {
		log.Warn("the stream dropped messages the checkpoint did not cover", "checkpoint", cp.Seq)
	}
	log.Info("partition owned", "checkpoint", cp.Seq)
	seq, saved := cp.Seq, time.Now()
	// every is the time between checkpoints: CheckpointEvery, or longer
	// for a state that takes long to write, so checkpoints take at most
	// a twentieth of the partition's time (a larger state is replayed from
	// further back by a new owner instead).
	every := r.opts.CheckpointEvery
	lastTick := time.Time{}
	save := func(ctx context.Context) error {
		if seq == cp.Seq && cp.Revision != 0 {
			return nil
		}
		select {
		case r.snap <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-r.snap }()
		began := time.Now()
		state, err := proc.Snapshot()
		if err != nil {
			return err
		}
		next, err := r.cps.Save(ctx, part, cp, seq, state)
		if err != nil {
			return err
		}
		cp, saved = next, time.Now()
		every = max(r.opts.CheckpointEvery, checkpointShare*saved.Sub(began))
		r.count(func(s *Stats) { s.Checkpoints++ })
		return nil
	}
	for {
		if ctx.Err() != nil {
			// Lost or stopping: keep what this owner made durable.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := save(sctx); err != nil && !errors.Is(err, bus.ErrCheckpointConflict) {
				return err
			}
			return nil
		}
		msgs, err := rd.Fetch(ctx, r.opts.Batch, r.opts.Wait)
		if ctx.Err() != nil {
			// Lost or stopping while the read waited (a read is not cut
			// short): what it read is the next owner's, from the
			// checkpoint; processing it here would race that owner.
			continue
		}
		if err != nil {
			return err
		}
		if len(msgs) > 0 {
			if err := proc.Process(ctx, msgs); err != nil {
				return err
			}
			seq = msgs[len(msgs)-1].Seq
			r.count(func(s *Stats) { s.Messages += uint64(len(msgs)) })
		}
		if now := r.opts.Now(); now.Sub(lastTick) >= r.opts.Tick {
			if err := proc.Tick(ctx, now); err != nil {
				return err
			}
			lastTick = now
		}
		if time.Since(saved) >= every {
			if err := save(ctx); err != nil {
				return err
			}
		}
	}
}

// Stop stops every partition (each checkpoints what it processed) and
// leaves the group, so the other members take its partitions at once.
func (r *Runner) Stop(ctx context.Context) error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	for p, cancel := range r.running {
		cancel()
		delete(r.running, p)
	}
	r.mu.Unlock()
	finished := make(chan struct{})
	go func() { r.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.parts.Leave(ctx)
}
