package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Partition ownership
//
// A stateful stage (correlation, incident grouping) splits its keys into a
// fixed number of partitions, and each ncc instance owns some of them. The
// members of a group announce themselves in a KV bucket
// (kuzet_members_<group>): each puts its own key every heartbeat, and the
// bucket's MaxAge (the TTL) removes the key of a member that stopped. Every
// member lists the live members each heartbeat and gives partition p to the
// member with the highest rendezvous hash of (member, p), so all members
// agree on the owners without talking to each other, and when a member joins
// or leaves only its share of the partitions moves.
//
// Ownership is advisory: for a short time after a change two members may
// both believe they own a partition (one saw the change a heartbeat before
// the other). The partition consumers use JetStream's pinned priority
// groups, so only one client at a time is served messages of a partition,
// and partition state is checkpointed with the stream sequence it covers, so
// the next owner resumes exactly after what the last one made durable.

// PartitionOptions configure a member of a partition group.
type PartitionOptions struct {
	// Group names the stage ("correlate", "incident").
	Group string
	// Count is the fixed number of partitions.
	Count int
	// Member is this instance's id, unique in the group.
	Member string
	// Heartbeat is how often the member announces itself and re-reads the
	// members (default 1 s).
	Heartbeat time.Duration
	// TTL is how long a member that stopped announcing itself still owns
	// its partitions (default 4 heartbeats). A dead member's partitions
	// move after at most TTL + Heartbeat.
	TTL      time.Duration
	Replicas int
	Logger   *slog.Logger
}

// Partitions is this member's view of a partition group. Its methods are
// safe for concurrent use.
type Partitions struct {
	opts PartitionOptions
	kv   jetstream.KeyValue
	log  *slog.Logger

	mu      sync.Mutex
	members []string
	owned   []int
	changed chan struct{}

	stop chan struct{}
	done chan struct{}
}

// MembersBucket is the KV bucket of a group's members.
func MembersBucket(group string) string { return "kuzet_members_" + group }

// JoinPartitions announces the member and computes its partitions at once;
// it keeps doing so every heartbeat until Leave.
func JoinPartitions(ctx context.Context, js jetstream.JetStream, o PartitionOptions) (*Partitions, error) {
	if o.Count < 1 || o.Group == "" || o.Member == "" {
		return nil, errors.New("bus: partitions need a group, a member and a count")
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.TTL <= 0 {
		o.TTL = 4 * o.Heartbeat
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: MembersBucket(o.Group), TTL: o.TTL, History: 1, Replicas: o.Replicas, Storage: jetstream.MemoryStorage,
		Description: "kuzet ncc members of the " + o.Group + " partition group",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: members bucket: %w", err)
	}
	p := &Partitions{opts: o, kv: kv, log: o.Logger.With("group", o.Group, "member", o.Member),
		changed: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if err := p.beat(ctx); err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

func (p *Partitions) run() {
	defer close(p.done)
	t := time.NewTicker(p.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.Heartbeat)
		if err := p.beat(ctx); err != nil {
			p.log.Warn("partition heartbeat failed", "err", err)
		}
		cancel()
	}
}

// beat announces the member and recomputes the owned partitions.
func (p *Partitions) beat(ctx context.Context) error {
	if _, err := p.kv.Put(ctx, p.opts.Member, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("bus: announce member: %w", err)
	}
	members, err := p.kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return fmt.Errorf("bus: list members: %w", err)
	}
	members = append(members, p.opts.Member)
	sort.Strings(members)
	members = slices.Compact(members) // listing may repeat a key
	owned := OwnedPartitions(p.opts.Member, members, p.opts.Count)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !slices.Equal(owned, p.owned) || !slices.Equal(members, p.members) {
		p.log.Info("partitions", "owned", len(owned), "members", len(members))
		p.owned, p.members = owned, members
		select {
		case p.changed <- struct{}{}:
		default:
		}
	}
	return nil
}

// Owned returns the partitions this member owns now, ascending.
func (p *Partitions) Owned() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.owned)
}

// Members returns the live members as last read, sorted.
func (p *Partitions) Members() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.members)
}

// Changed receives a value when the owned partitions or the members change.
func (p *Partitions) Changed() <-chan struct{} { return p.changed }

// Leave stops announcing and removes the member's key, so its partitions
// move at the other members' next heartbeat instead of after the TTL.
func (p *Partitions) Leave(ctx context.Context) error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	if err := p.kv.Delete(ctx, p.opts.Member); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("bus: leave partitions: %w", err)
	}
	return nil
}

// OwnedPartitions returns the partitions of count that member owns among
// members by rendezvous (highest random weight) hashing: partition p goes to
// the member with the highest FNV-1a 64 hash of "<member>/<p>", ties to the
// smaller member id. It is pure, so every member computes the same owners.
func OwnedPartitions(member string, members []string, count int) []int {
	var out []int
	for part := range count {
		if PartitionOwner(members, part) == member {
			out = append(out, part)
		}
	}
	return out
}

// PartitionOwner returns the owner of partition part among members ("" for
// none).
func PartitionOwner(members []string, part int) string {
	best, bestW := "", uint64(0)
	for _, m := range members {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", m, part)
		w := fmix64(h.Sum64())
		if best == "" || w > bestW || w == bestW && m < best {
			best, bestW = m, w
		}
	}
	return best
}

// fmix64 is MurmurHash3's finaliser: every input bit affects every output
// bit.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
