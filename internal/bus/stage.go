package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Partitioned stages
//
// A stateful stage of the ncc (correlation, incident grouping) reads its
// input from a stream of its own, KUZET_<GROUP>, one subject per partition
// (kuzet.<group>.<partition>). The owner of a partition (see Partitions)
// reads it in stream order with a consumer of its own that starts after the
// sequence its checkpoint covers, so no consumer state is shared between
// members and a new owner needs nothing but the checkpoint: there is no
// ack to lose and no redelivery to split between two readers. While
// ownership moves, the old and the new owner may both read a partition for
// a moment; both compute the same results from the same messages (the
// stages are deterministic and their writes idempotent by id), and the
// checkpoint's compare-and-set stops the one that lost it. The stream's
// limits (age, bytes) bound what is kept; a checkpoint older than the
// oldest message kept may have missed messages, which the reader reports
// (Behind).

// StageStream is the stream of a stage's input.
func StageStream(group string) string { return "KUZET_" + strings.ToUpper(group) }

// StageSubject is the subject of one partition of a stage.
func StageSubject(group string, part int) string {
	return "kuzet." + group + "." + strconv.Itoa(part)
}

// StageMaxBytes bounds a stage's stream. A stage's input is alerts and
// signals, far smaller than the events they come from, and a stage reads
// it within seconds; what the stream keeps beyond that is replay room. The
// server reserves every stream's MaxBytes against its file storage
// (max_file_store; by default three quarters of the free disk), so the
// streams of one NCC (events 8 GiB, alerts 1 GiB, four stages, the
// notifications) must fit it together: NCCReservedBytes.
const StageMaxBytes = 1 << 30

// NCCReservedBytes is what one NCC's streams reserve of their server's
// JetStream file storage with the default limits: events, alerts, the
// correlation, incident, national and outbox stages, and the notifications (13.25
// GiB). A server's max_file_store must be at least this.
const NCCReservedBytes = 8<<30 + 8<<30/8 + 4*StageMaxBytes + NotifyMaxBytes

// DefaultStageStreamOptions are DefaultStreamOptions with StageMaxBytes.
func DefaultStageStreamOptions() StreamOptions {
	o := DefaultStreamOptions()
	o.MaxBytes = StageMaxBytes
	return o
}

// EnsureStageStream creates or updates a stage's stream.
func EnsureStageStream(ctx context.Context, js jetstream.JetStream, group string, o StreamOptions) error {
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: StageStream(group), Subjects: []string{"kuzet." + group + ".*"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld, MaxAge: o.MaxAge, MaxBytes: o.MaxBytes,
		Duplicates: o.Duplicates, Replicas: o.Replicas, MaxMsgSize: 8 << 20,
		Description: "kuzet " + group + " stage input, one subject per partition",
	})
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", StageStream(group), storageHint(err, o.MaxBytes))
	}
	return nil
}

// StageMsg is one message of a partition, in stream order.
type StageMsg struct {
	// Seq is the message's stream sequence, what checkpoints cover.
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	// Time is when the stream stored it.
	Time time.Time
}

// PartitionReader reads one partition of a stage in stream order. It is
// not safe for concurrent use.
//
// It reads with an ephemeral pull consumer of its own (no acks, in memory,
// one replica, removed by the server after partitionIdle without reads)
// that lives across fetches: nats.go's ordered consumer deletes and
// creates its consumer on every Fetch, two JetStream API calls per read of
// every partition (in a load test, the largest part of the NATS server's
// work after storing messages). Like the ordered consumer it checks the
// delivery sequence: after a gap (a message lost on the way), an error, or
// a consumer the server no longer has (found by an occasional check while
// idle), it starts a new one after the last message returned.
type PartitionReader struct {
	st      jetstream.Stream
	subject string
	cons    jetstream.Consumer
	// next is the stream sequence to read from; dseq the delivery sequence
	// of the consumer's last message.
	next, dseq uint64
	idle       int // empty fetches since the last check of the consumer
	// Behind reports that the stream's first message is later than the
	// one after the checkpoint: its limits removed messages the checkpoint
	// did not cover (some may have been this partition's).
	Behind bool
}

// partitionIdle is how long the server keeps a reader's consumer without
// reads (a reader that stopped without Close).
const partitionIdle = time.Minute

// idleChecks is how many empty fetches pass between checks that the
// server still has the consumer.
const idleChecks = 10

// OpenPartition starts reading partition part of the stage after sequence
// after (0: from the start of the stream).
func OpenPartition(ctx context.Context, js jetstream.JetStream, group string, part int, after uint64) (*PartitionReader, error) {
	subject := StageSubject(group, part)
	st, err := js.Stream(ctx, StageStream(group))
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", subject, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", subject, err)
	}
	r := &PartitionReader{st: st, subject: subject, next: after + 1,
		Behind: after > 0 && info.State.Msgs > 0 && after+1 < info.State.FirstSeq}
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *PartitionReader) open(ctx context.Context) error {
	cfg := jetstream.ConsumerConfig{FilterSubject: r.subject, DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq: r.next, AckPolicy: jetstream.AckNonePolicy, MaxDeliver: -1, InactiveThreshold: partitionIdle,
		Replicas: 1, MemoryStorage: true}
	cons, err := r.st.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bus: read %s: %w", r.subject, err)
	}
	r.cons, r.dseq, r.idle = cons, 0, 0
	return nil
}

// reset drops the consumer; the next Fetch starts a new one at r.next.
func (r *PartitionReader) reset() {
	if r.cons != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = r.st.DeleteConsumer(ctx, r.cons.CachedInfo().Name)
		cancel()
	}
	r.cons = nil
}

// Close removes the reader's consumer from the server.
func (r *PartitionReader) Close() { r.reset() }

// Fetch returns up to max messages, waiting at most wait for the first.
// No messages and no error means the partition has nothing new. As with
// Consumer.Fetch the wait is the server's, and ctx does not cut a fetch
// short (that would drop messages in flight, a gap, and a new consumer).
func (r *PartitionReader) Fetch(ctx context.Context, max int, wait time.Duration) ([]StageMsg, error) {
	if r.cons == nil {
		if err := r.open(ctx); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	batch, err := r.cons.Fetch(max, jetstream.FetchMaxWait(atLeastMs(wait)))
	if err != nil {
		if fetchEnded(err) {
			return nil, r.checkIdle(ctx)
		}
		r.reset()
		if consumerLost(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []StageMsg
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			r.reset()
			return out, fmt.Errorf("bus: stage message metadata: %w", err)
		}
		if md.Sequence.Consumer != r.dseq+1 || md.Sequence.Stream < r.next {
			// A gap (or a message from before a reset): read again from
			// after the last message returned.
			r.reset()
			break
		}
		r.dseq, r.next = md.Sequence.Consumer, md.Sequence.Stream+1
		out = append(out, StageMsg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Time: md.Timestamp})
	}
	if r.cons != nil {
		if err := batch.Error(); err != nil && !fetchEnded(err) {
			r.reset()
			if consumerLost(err) {
				return out, nil
			}
			return out, err
		}
	}
	if len(out) == 0 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, r.checkIdle(ctx)
	}
	r.idle = 0
	return out, nil
}

// consumerLost reports a fetch error that means the server no longer has
// the consumer: the next Fetch makes a new one (and reports the error if it
// cannot).
func consumerLost(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound)
}

// checkIdle counts an empty fetch and, every idleChecks of them, checks
// that the server still has the consumer (a restarted server, or a moved
// stream leader, loses it without an error to the fetches).
func (r *PartitionReader) checkIdle(ctx context.Context) error {
	if r.cons == nil {
		return nil
	}
	if r.idle++; r.idle < idleChecks {
		return nil
	}
	r.idle = 0
	if _, err := r.cons.Info(ctx); err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			r.cons = nil
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		r.reset()
		return fmt.Errorf("bus: read %s: %w", r.subject, err)
	}
	return nil
}

// PublishStage stores data on a partition of a stage with id as
// Nats-Msg-Id (a retry within the duplicate window is stored once). It
// returns whether the stream reported a duplicate.
func PublishStage(ctx context.Context, js jetstream.JetStream, group string, part int, id string, h nats.Header, data []byte) (bool, error) {
	msg := &nats.Msg{Subject: StageSubject(group, part), Header: h, Data: data}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return false, fmt.Errorf("bus: publish %s: %w", msg.Subject, err)
	}
	return ack.Duplicate, nil
}
