package bus

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"
)

// Checkpoints keep the state of each partition of a stateful stage together
// with the stream sequence it covers: a new owner loads the state and
// resumes after that sequence, so every signal is applied exactly once to
// the state that survives.
//
// A checkpoint of at most InlineMax bytes is one KV value
// (kuzet_state_<group>, key p<N>). A larger one is written to the object
// store of the same name under "p<N>-<seq>" first, and the KV value then
// points at it; the previous object is removed afterwards. States of 4 KiB
// or more are stored compressed (s2). The KV value is
// written with compare-and-set on its revision, so a member that lost the
// partition (another wrote since it loaded) gets ErrCheckpointConflict
// instead of overwriting the new owner's state.
type Checkpoints struct {
	kv  jetstream.KeyValue
	obs jetstream.ObjectStore
	// InlineMax is the largest state kept inline in the KV value.
	InlineMax int
}

// ErrCheckpointConflict reports that the partition's checkpoint changed
// since this member loaded it: another member owns the partition now.
var ErrCheckpointConflict = errors.New("bus: checkpoint written by another member")

// Checkpoint is one partition's saved state.
type Checkpoint struct {
	// Seq is the last stream sequence the state covers (0: none).
	Seq uint64
	// State is the stage's snapshot, as Load read it; a checkpoint Save
	// returns has none (its caller has the state, and a partition's owner
	// keeps its checkpoint for the next Save: a copy of its whole state
	// held for that alone would double what the partition costs).
	State []byte
	// Revision is the KV revision it was read at (0: none yet), for the
	// next Save.
	Revision uint64
}

// StateBucket is the KV bucket (and object store) of a group's checkpoints.
func StateBucket(group string) string { return "kuzet_state_" + group }

// OpenCheckpoints creates or opens the group's checkpoint bucket and
// object store.
func OpenCheckpoints(ctx context.Context, js jetstream.JetStream, group string, replicas int) (*Checkpoints, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: StateBucket(group), History: 1, Replicas: replicas, Storage: jetstream.FileStorage,
		Description: "kuzet " + group + " partition checkpoints",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: checkpoint bucket: %w", err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: StateBucket(group), Replicas: replicas, Storage: jetstream.FileStorage,
		Description: "kuzet " + group + " partition checkpoints too large for a KV value",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: checkpoint object store: %w", err)
	}
	return &Checkpoints{kv: kv, obs: obs, InlineMax: 512 << 10}, nil
}

func partKey(part int) string { return "p" + strconv.Itoa(part) }

// The KV value: 1 byte kind, 8 bytes sequence, then the state (inline) or
// the object name and the stored bytes' SHA-256 (hex) separated by a NUL.
// A state of compressMin bytes or more is stored s2-compressed (kinds in
// capitals): snapshots are JSON, which compresses several times, and a
// stage checkpoints every few seconds.
const (
	kindInline   = 'i'
	kindObject   = 'o'
	kindInlineS2 = 'I'
	kindObjectS2 = 'O'
	compressMin  = 4 << 10
	// maxState bounds a compressed state's decoded size.
	maxState = 1 << 30
)

// Load returns the partition's checkpoint; a partition never saved has Seq
// and Revision 0 and no state.
func (c *Checkpoints) Load(ctx context.Context, part int) (Checkpoint, error) {
	e, err := c.kv.Get(ctx, partKey(part))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("bus: load checkpoint p%d: %w", part, err)
	}
	v := e.Value()
	if len(v) < 9 {
		return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: %d bytes is too short", part, len(v))
	}
	cp := Checkpoint{Seq: binary.BigEndian.Uint64(v[1:9]), Revision: e.Revision()}
	switch v[0] {
	case kindInline:
		cp.State = append([]byte(nil), v[9:]...)
	case kindInlineS2:
		if cp.State, err = decodeState(v[9:]); err != nil {
			return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: %w", part, err)
		}
	case kindObject, kindObjectS2:
		name, sum, ok := cutNUL(v[9:])
		if !ok {
			return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: bad object reference", part)
		}
		data, err := c.obs.GetBytes(ctx, name)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: object %s: %w", part, name, err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: object %s does not match its digest", part, name)
		}
		cp.State = data
		if v[0] == kindObjectS2 {
			if cp.State, err = decodeState(data); err != nil {
				return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: object %s: %w", part, name, err)
			}
		}
	default:
		return Checkpoint{}, fmt.Errorf("bus: checkpoint p%d: unknown kind %q", part, v[0])
	}
	return cp, nil
}

func decodeState(b []byte) ([]byte, error) {
	n, err := s2.DecodedLen(b)
	if err != nil {
		return nil, fmt.Errorf("compressed state: %w", err)
	}
	if n > maxState {
		return nil, fmt.Errorf("compressed state decodes to %d bytes, over %d", n, maxState)
	}
	out, err := s2.Decode(nil, b)
	if err != nil {
		return nil, fmt.Errorf("compressed state: %w", err)
	}
	return out, nil
}

func cutNUL(b []byte) (string, string, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), string(b[i+1:]), true
		}
	}
	return "", "", false
}

// Save writes the partition's state as covering seq, if the checkpoint is
// still the one at prev.Revision (0: never saved). It returns the saved
// checkpoint, whose Revision the next Save passes back.
func (c *Checkpoints) Save(ctx context.Context, part int, prev Checkpoint, seq uint64, state []byte) (Checkpoint, error) {
	stored, inline, object := state, byte(kindInline), byte(kindObject)
	if len(state) >= compressMin {
		stored, inline, object = s2.Encode(nil, state), kindInlineS2, kindObjectS2
	}
	head := make([]byte, 9, 9+min(len(stored), c.InlineMax)+80)
	binary.BigEndian.PutUint64(head[1:], seq)
	var obj string
	if len(stored) <= c.InlineMax {
		head[0] = inline
		head = append(head, stored...)
	} else {
		head[0] = object
		obj = fmt.Sprintf("%s-%d", partKey(part), seq)
		if _, err := c.obs.PutBytes(ctx, obj, stored); err != nil {
			return prev, fmt.Errorf("bus: checkpoint p%d: object: %w", part, err)
		}
		sum := sha256.Sum256(stored)
		head = append(append(append(head, obj...), 0), hex.EncodeToString(sum[:])...)
	}
	var rev uint64
	var err error
	if prev.Revision == 0 {
		rev, err = c.kv.Create(ctx, partKey(part), head)
	} else {
		rev, err = c.kv.Update(ctx, partKey(part), head, prev.Revision)
	}
	if err != nil {
		if obj != "" {
			_ = c.obs.Delete(ctx, obj)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSequence(err) {
			return prev, ErrCheckpointConflict
		}
		return prev, fmt.Errorf("bus: save checkpoint p%d: %w", part, err)
	}
	// The previous object, if any, is no longer referenced.
	if prev.Seq != seq {
		_ = c.obs.Delete(ctx, fmt.Sprintf("%s-%d", partKey(part), prev.Seq))
	}
	return Checkpoint{Seq: seq, Revision: rev}, nil
}

// isWrongSequence reports the error JetStream gives a Create of an existing
// key on a replicated bucket (API error 10164; 10071 is ErrKeyExists).
func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
