package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// IncidentsBucket holds the mutable state of every incident, one key per
// incident id, changed only by compare-and-set on the key's revision: the
// grouping stage and analysts (through the API) change the same incident,
// and a stale writer gets ErrRevisionConflict instead of overwriting.
const IncidentsBucket = "kuzet_incidents"

// ErrRevisionConflict reports a compare-and-set on a stale revision.
var ErrRevisionConflict = errors.New("bus: revision conflict")

// IncidentKV is the incidents bucket.
type IncidentKV struct{ kv jetstream.KeyValue }

// OpenIncidentKV creates or opens the incidents bucket.
func OpenIncidentKV(ctx context.Context, js jetstream.JetStream, replicas int) (*IncidentKV, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: IncidentsBucket, History: 1, Replicas: replicas, Storage: jetstream.FileStorage,
		Description: "kuzet incidents: mutable state, compare-and-set by revision",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: incidents bucket: %w", err)
	}
	return &IncidentKV{kv: kv}, nil
}

// Get returns an incident's value and revision; a missing incident has
// revision 0 and no value.
func (k *IncidentKV) Get(ctx context.Context, id string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("bus: get incident %s: %w", id, err)
	}
	return e.Value(), e.Revision(), nil
}

// Put writes an incident if its revision is still rev (0: it must not
// exist yet) and returns the new revision.
func (k *IncidentKV) Put(ctx context.Context, id string, rev uint64, value []byte) (uint64, error) {
	var (
		n   uint64
		err error
	)
	if rev == 0 {
		n, err = k.kv.Create(ctx, id, value)
	} else {
		n, err = k.kv.Update(ctx, id, value, rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSequence(err) {
			return 0, ErrRevisionConflict
		}
		return 0, fmt.Errorf("bus: put incident %s: %w", id, err)
	}
	return n, nil
}
