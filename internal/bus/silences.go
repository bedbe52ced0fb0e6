package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kuzet-kz/kuzet/internal/incident"
)

// Silences
//
// A silence mutes the alerts its matchers match in the incident stage
// (incident.Silence): they are stored as alerts and open or update no
// incident. The list of silences, with who made and expired them and why,
// is kept in the KV bucket SilencesBucket (one key per silence, changed by
// compare-and-set); the API lists it from there. The grouping partitions
// do not read the bucket: every change of a silence is published to EVERY
// partition of the incident stage as a control message (header
// KindHeader: KindSilence, the incident.Silence as JSON), which the
// partition's owner applies to its Grouper at that point of its stream. So
// a replay after a takeover applies it at the same point, and a silence
// is part of each partition's checkpointed state.
//
// A silence never changes once made except that it can be expired: its
// ends_at brought forward. A partition keeps, of two versions of one
// silence, the one that ends first, so versions that reach a partition in
// either order (two API instances publishing at once) end the same.
//
// The number of partitions is the ncc's (incidents.partitions): its
// incident stage writes it to the bucket's key PartitionsKey at every
// start (SetPartitions), and publishers read it before each change, so the
// API needs no copy of it that could disagree. Until an ncc has started
// the stage, there is none and silences cannot be changed.

// SilencesBucket holds the silences and the incident stage's partition
// count.
const SilencesBucket = "kuzet_silences"

// IncidentGroup is the incident (grouping) stage's group: its partitions
// are kuzet.incident.<p>, where silence changes are published.
const IncidentGroup = "incident"

// Control messages on a stage's partitions.
const (
	// KindHeader names what a stage message carries when it is not the
	// stage's usual input.
	KindHeader = "Kuzet-Kind"
	// KindSilence: the message is an incident.Silence to set.
	KindSilence = "silence"
)

// PartitionsKey is the key of the incident stage's partition count.
const PartitionsKey = "config.partitions"

const silenceKeyPrefix = "silences."

// ErrNoPartitions reports that no ncc has recorded the incident stage's
// partition count yet.
var ErrNoPartitions = errors.New("bus: the incident stage's partition count is not recorded yet (no ncc has started it)")

// ErrSilenceNotFound reports a silence id the bucket does not hold.
var ErrSilenceNotFound = errors.New("bus: no such silence")

// SilenceRecord is a silence as the bucket keeps it: the rule the
// partitions apply and who made it, why, when, and who expired it.
type SilenceRecord struct {
	ID       string             `json:"id"`
	Matchers []incident.Matcher `json:"matchers"`
	// CreatedBy is the key (principal) name that made it.
	CreatedBy string    `json:"created_by"`
	Reason    string    `json:"reason"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedAt time.Time `json:"created_at"`
	ExpiredAt time.Time `json:"expired_at,omitzero"`
	ExpiredBy string    `json:"expired_by,omitempty"`
	// Version is the bucket revision the record was read at.
	Version uint64 `json:"version"`
}

// Silence is the rule the grouping partitions apply.
func (r SilenceRecord) Silence() incident.Silence {
	return incident.Silence{ID: r.ID, Matchers: slices.Clone(r.Matchers), Owner: r.CreatedBy, Reason: r.Reason,
		StartsAt: r.StartsAt, EndsAt: r.EndsAt}
}

// State is "pending" before StartsAt, "active" until EndsAt, then
// "expired".
func (r SilenceRecord) State(now time.Time) string {
	switch {
	case now.Before(r.StartsAt):
		return "pending"
	case now.Before(r.EndsAt):
		return "active"
	}
	return "expired"
}

// SilenceKV is the silences bucket. Safe for concurrent use.
type SilenceKV struct{ kv jetstream.KeyValue }

// OpenSilences creates or opens the silences bucket.
func OpenSilences(ctx context.Context, js jetstream.JetStream, replicas int) (*SilenceKV, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: SilencesBucket, History: 1, Replicas: max(replicas, 1), Storage: jetstream.FileStorage,
		Description: "kuzet silences (who, why, until when) and the incident stage's partition count",
	})
	if err != nil {
		return nil, fmt.Errorf("bus: silences bucket: %w", err)
	}
	return &SilenceKV{kv: kv}, nil
}

// LookupSilences opens the silences bucket the ncc made; ErrNoPartitions
// when there is none yet (publishers never create it: its replicas are the
// ncc's).
func LookupSilences(ctx context.Context, js jetstream.JetStream) (*SilenceKV, error) {
	kv, err := js.KeyValue(ctx, SilencesBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoPartitions
	}
	if err != nil {
		return nil, fmt.Errorf("bus: silences bucket: %w", err)
	}
	return &SilenceKV{kv: kv}, nil
}

// SetPartitions records the incident stage's partition count.
func (k *SilenceKV) SetPartitions(ctx context.Context, n int) error {
	if _, err := k.kv.Put(ctx, PartitionsKey, []byte(strconv.Itoa(n))); err != nil {
		return fmt.Errorf("bus: record the incident partitions: %w", err)
	}
	return nil
}

// Partitions returns the incident stage's partition count, or
// ErrNoPartitions.
func (k *SilenceKV) Partitions(ctx context.Context) (int, error) {
	e, err := k.kv.Get(ctx, PartitionsKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNoPartitions
	}
	if err != nil {
		return 0, fmt.Errorf("bus: read the incident partitions: %w", err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bus: the incident partitions key holds %q", e.Value())
	}
	return n, nil
}

// Get returns a silence with its revision, or ErrSilenceNotFound.
func (k *SilenceKV) Get(ctx context.Context, id string) (SilenceRecord, error) {
	if !validSilenceID(id) {
		return SilenceRecord{}, ErrSilenceNotFound
	}
	e, err := k.kv.Get(ctx, silenceKeyPrefix+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return SilenceRecord{}, ErrSilenceNotFound
	}
	if err != nil {
		return SilenceRecord{}, fmt.Errorf("bus: get silence %s: %w", id, err)
	}
	return decodeSilence(e)
}

func decodeSilence(e jetstream.KeyValueEntry) (SilenceRecord, error) {
	var r SilenceRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return SilenceRecord{}, fmt.Errorf("bus: silence %s: %w", e.Key(), err)
	}
	r.Version = e.Revision()
	return r, nil
}

// validSilenceID accepts what can follow the key prefix: KV key tokens.
func validSilenceID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// List returns every silence, newest first.
func (k *SilenceKV) List(ctx context.Context) ([]SilenceRecord, error) {
	keys, err := k.kv.ListKeysFiltered(ctx, silenceKeyPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("bus: list silences: %w", err)
	}
	var out []SilenceRecord
	for key := range keys.Keys() {
		e, err := k.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			_ = keys.Stop()
			return nil, fmt.Errorf("bus: get %s: %w", key, err)
		}
		r, err := decodeSilence(e)
		if err != nil {
			_ = keys.Stop()
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b SilenceRecord) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Put writes r if the silence's revision is still rev (0: it must not
// exist yet) and returns r at its new revision; a stale rev is
// ErrRevisionConflict.
func (k *SilenceKV) Put(ctx context.Context, r SilenceRecord, rev uint64) (SilenceRecord, error) {
	if !validSilenceID(r.ID) {
		return SilenceRecord{}, fmt.Errorf("bus: silence id %q", r.ID)
	}
	r.Version = 0
	data, err := json.Marshal(r)
	if err != nil {
		return SilenceRecord{}, err
	}
	var n uint64
	if rev == 0 {
		n, err = k.kv.Create(ctx, silenceKeyPrefix+r.ID, data)
	} else {
		n, err = k.kv.Update(ctx, silenceKeyPrefix+r.ID, data, rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSequence(err) {
			return SilenceRecord{}, ErrRevisionConflict
		}
		return SilenceRecord{}, fmt.Errorf("bus: put silence %s: %w", r.ID, err)
	}
	r.Version = n
	return r, nil
}

// PublishSilence stores r's silence on every one of the incident stage's
// partitions partitions as a control message, Nats-Msg-Id
// silence/<id>/<version>/<p>, so a retry of the same version is stored
// once per partition. It returns the first error; publishing again is
// harmless.
func PublishSilence(ctx context.Context, js jetstream.JetStream, partitions int, r SilenceRecord) error {
	data, err := json.Marshal(r.Silence())
	if err != nil {
		return err
	}
	acks := make([]jetstream.PubAckFuture, 0, partitions)
	for p := range partitions {
		msg := &nats.Msg{Subject: StageSubject(IncidentGroup, p), Header: nats.Header{}, Data: data}
		msg.Header.Set(KindHeader, KindSilence)
		msg.Header.Set(jetstream.MsgIDHeader, "silence/"+r.ID+"/"+strconv.FormatUint(r.Version, 10)+"/"+strconv.Itoa(p))
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("bus: publish silence %s to %s: %w", r.ID, msg.Subject, err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("bus: publish silence %s to %s: %w", r.ID, f.Msg().Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("bus: publish silence %s: %w", r.ID, ctx.Err())
		}
	}
	return nil
}

// DecodeSilence decodes a silence control message's data.
func DecodeSilence(data []byte) (incident.Silence, error) {
	var s incident.Silence
	if err := json.Unmarshal(data, &s); err != nil {
		return incident.Silence{}, fmt.Errorf("bus: silence message: %w", err)
	}
	return s, nil
}
