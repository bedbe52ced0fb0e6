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
// reads it in stream order with an ordered consumer that starts after the
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
type PartitionReader struct {
	cons jetstream.Consumer
	// Behind reports that the stream's first message is later than the
	// one after the checkpoint: its limits removed messages the checkpoint
	// did not cover (some may have been this partition's).
	Behind bool
}

// OpenPartition starts reading partition part of the stage after sequence
// after (0: from the start of the stream).
func OpenPartition(ctx context.Context, js jetstream.JetStream, group string, part int, after uint64) (*PartitionReader, error) {
	// MaxResetAttempts bounds how long a read retries after the connection
	// failed (nats.go retries for ever by default, ignoring the context):
	// the caller then sees the error and decides.
	oc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{StageSubject(group, part)}, DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxResetAttempts: 3}
	if after > 0 {
		oc.DeliverPolicy, oc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	st, err := js.Stream(ctx, StageStream(group))
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", StageSubject(group, part), err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", StageSubject(group, part), err)
	}
	cons, err := st.OrderedConsumer(ctx, oc)
	if err != nil {
		return nil, fmt.Errorf("bus: read %s: %w", StageSubject(group, part), err)
	}
	first := info.State.FirstSeq
	return &PartitionReader{cons: cons, Behind: after > 0 && info.State.Msgs > 0 && after+1 < first}, nil
}

// Fetch returns up to max messages, waiting at most wait for the first.
// No messages and no error means the partition has nothing new.
func (r *PartitionReader) Fetch(ctx context.Context, max int, wait time.Duration) ([]StageMsg, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	batch, err := r.cons.Fetch(max, jetstream.FetchContext(fctx))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return nil, nil
		}
		return nil, err
	}
	var out []StageMsg
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return out, fmt.Errorf("bus: stage message metadata: %w", err)
		}
		out = append(out, StageMsg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Time: md.Timestamp})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return out, err
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, nil
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
