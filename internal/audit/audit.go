// Package audit is the API's tamper-evident audit log: the record (who did
// what, when, from where, with which request id), its canonical encoding,
// the hash chain that links each record to the one before, and the check
// that finds the first broken link. It is pure: the store keeps the rows,
// the bus keeps each chain's head, the API writes, `kuzet audit verify`
// reads.
//
// # Chain
//
// Each API instance writes one chain: records numbered 1, 2, 3, ... (Seq),
// each carrying the hash of the one before (PrevHash, "" for the first)
// and its own Hash, the hex SHA-256 of its canonical encoding (Encode),
// which covers every field and PrevHash. After each batch the writer also
// stores the chain's Head (its last Seq and Hash) apart from the rows (a
// JetStream KV bucket), so a row altered, a row deleted in the middle and
// rows cut from the end all show: Verify names the first record where the
// chain breaks.
//
// The hash has no secret: someone who can rewrite the rows can recompute
// the hashes after the row they change, but not the head kept elsewhere,
// so a rewrite shows at the head.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Record is one audit entry.
type Record struct {
	// Instance names the API instance whose chain the record is in.
	Instance string `json:"instance"`
	// Seq is the record's number in its chain, from 1.
	Seq uint64 `json:"seq"`
	// At is when it happened, in whole seconds (UTC).
	At time.Time `json:"at"`
	// ActorName is the key's name (never the key); ActorRole its role.
	ActorName string `json:"actor"`
	ActorRole string `json:"role"`
	// Action is what was done: "incident.list", "apikey.create", ...
	Action string `json:"action"`
	// Resource is the kind of thing acted on ("incident", "apikey");
	// ResourceID its id when one was named.
	Resource   string `json:"resource"`
	ResourceID string `json:"resource_id"`
	// Outcome is the HTTP status of the answer ("200", "404", ...).
	Outcome    string `json:"outcome"`
	RemoteAddr string `json:"remote_addr"`
	RequestID  string `json:"request_id"`
	// Detail is the request's parameters, or what changed (never a secret).
	Detail   string `json:"detail"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Head is the end of a chain: its last record's Seq and Hash.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// encodingTag starts every canonical encoding; a new encoding gets a new tag.
const encodingTag = "kuzet-audit-v1"

// Encode returns the canonical encoding of r without its Hash: the tag, then
// each field in a fixed order as an 8-byte big-endian length and its bytes
// (Seq and At as 8-byte big-endian integers, At in Unix seconds), ending with
// PrevHash. No two different records encode alike.
func Encode(r Record) []byte {
	strs := []string{r.Instance, r.ActorName, r.ActorRole, r.Action, r.Resource, r.ResourceID, r.Outcome,
		r.RemoteAddr, r.RequestID, r.Detail, r.PrevHash}
	n := len(encodingTag) + 16
	for _, s := range strs {
		n += 8 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, encodingTag...)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.Unix()))
	for _, s := range strs {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// Sum returns the hash r should carry: the hex SHA-256 of Encode(r).
func Sum(r Record) string {
	h := sha256.Sum256(Encode(r))
	return hex.EncodeToString(h[:])
}

// Seal links r after head: it sets r's Seq, PrevHash and Hash, and returns
// the new head. r.At is truncated to whole seconds, as it is stored.
func Seal(r Record, head Head) (Record, Head) {
	r.At = r.At.UTC().Truncate(time.Second)
	r.Seq = head.Seq + 1
	r.PrevHash = head.Hash
	r.Hash = Sum(r)
	return r, Head{Seq: r.Seq, Hash: r.Hash}
}

// Problem is the kind of a break in a chain.
type Problem string

// The problems Verify finds.
const (
	// Altered: the record's fields do not hash to its Hash.
	Altered Problem = "altered"
	// Unlinked: the record's PrevHash is not the Hash of the record before
	// (a record replaced or inserted with a recomputed hash).
	Unlinked Problem = "unlinked"
	// Missing: one or more records before this Seq are absent.
	Missing Problem = "missing"
	// Duplicate: a second record with the same Seq.
	Duplicate Problem = "duplicate"
	// Truncated: the chain ends before the head kept apart from it.
	Truncated Problem = "truncated"
	// HeadMismatch: the record at the head's Seq has another hash than the
	// head (the chain was rewritten from there on).
	HeadMismatch Problem = "head_mismatch"
)

// Break is the first place a chain is broken.
type Break struct {
	Instance string
	// Seq is the first broken record (for Missing and Truncated, the first
	// absent one).
	Seq     uint64
	Problem Problem
	Detail  string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain %s broken at seq %d: %s: %s", b.Instance, b.Seq, b.Problem, b.Detail)
}

// Verifier checks one chain record by record, in Seq order. The zero value
// is not usable; use NewVerifier.
type Verifier struct {
	instance string
	head     *Head
	last     Head
	brk      *Break
}

// NewVerifier starts checking the chain of instance from its first record,
// against head, the head kept apart from the rows (nil when there is none).
func NewVerifier(instance string, head *Head) *Verifier {
	return &Verifier{instance: instance, head: head}
}

// Add checks the next record (records must come in ascending Seq, duplicates
// adjacent) and returns the first break found so far, nil while intact.
// After a break, Add ignores further records.
func (v *Verifier) Add(r Record) *Break {
	if v.brk != nil {
		return v.brk
	}
	fail := func(seq uint64, p Problem, format string, args ...any) *Break {
		v.brk = &Break{Instance: v.instance, Seq: seq, Problem: p, Detail: fmt.Sprintf(format, args...)}
		return v.brk
	}
	switch {
	case r.Instance != v.instance:
		return fail(r.Seq, Altered, "record names instance %q", r.Instance)
	case r.Seq == v.last.Seq && r.Seq != 0:
		return fail(r.Seq, Duplicate, "a second record with seq %d", r.Seq)
	case r.Seq != v.last.Seq+1:
		return fail(v.last.Seq+1, Missing, "%s absent (next present: seq %d)", seqRange(v.last.Seq+1, r.Seq-1), r.Seq)
	case Sum(r) != r.Hash:
		return fail(r.Seq, Altered, "its fields do not hash to its hash %s", short(r.Hash))
	case r.PrevHash != v.last.Hash:
		return fail(r.Seq, Unlinked, "prev_hash %s is not the hash %s of seq %d", short(r.PrevHash), short(v.last.Hash), v.last.Seq)
	case v.head != nil && r.Seq == v.head.Seq && r.Hash != v.head.Hash:
		return fail(r.Seq, HeadMismatch, "hash %s, the head says %s (the chain was rewritten up to here)", short(r.Hash), short(v.head.Hash))
	}
	v.last = Head{Seq: r.Seq, Hash: r.Hash}
	return nil
}

// End finishes the check and returns the first break, nil when the chain
// is intact. A chain that ends before its head was cut (Truncated). A chain
// longer than its head is intact: the writer stores the head after the
// rows, so a crash between the two leaves the head behind.
func (v *Verifier) End() *Break {
	if v.brk != nil || v.head == nil {
		return v.brk
	}
	if v.last.Seq < v.head.Seq {
		v.brk = &Break{Instance: v.instance, Seq: v.last.Seq + 1, Problem: Truncated,
			Detail: fmt.Sprintf("the chain ends at seq %d but its head is at seq %d", v.last.Seq, v.head.Seq)}
	}
	return v.brk
}

// Last is the last intact record's Seq and Hash.
func (v *Verifier) Last() Head { return v.last }

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return `""`
	}
	return h
}

func seqRange(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("seq %d", from)
	}
	return fmt.Sprintf("seq %d to %d", from, to)
}
