package audit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/audit"
)

func chain(n int) ([]audit.Record, audit.Head) {
	var head audit.Head
	out := make([]audit.Record, 0, n)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		r := audit.Record{Instance: "api-1", At: at.Add(time.Duration(i) * time.Second), ActorName: "ncc", ActorRole: "ncc-analyst",
			Action: "incident.get", Resource: "incident", ResourceID: strconv.Itoa(i), Outcome: "200", RemoteAddr: "127.0.0.1",
			RequestID: "req-" + strconv.Itoa(i)}
		r, head = audit.Seal(r, head)
		out = append(out, r)
	}
	return out, head
}

func verify(rs []audit.Record, head *audit.Head) *audit.Break {
	v := audit.NewVerifier("api-1", head)
	for _, r := range rs {
		if b := v.Add(r); b != nil {
			return b
		}
	}
	return v.End()
}

func TestVerify(t *testing.T) {
	for _, c := range []struct {
		name    string
		tamper  func(rs []audit.Record, head audit.Head) ([]audit.Record, *audit.Head)
		problem audit.Problem
		seq     uint64
	}{
		{"intact", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) { return rs, &h }, "", 0},
		{"intact without head", func(rs []audit.Record, _ audit.Head) ([]audit.Record, *audit.Head) { return rs, nil }, "", 0},
		{"head behind (crash between rows and head)", func(rs []audit.Record, _ audit.Head) ([]audit.Record, *audit.Head) {
			return rs, &audit.Head{Seq: rs[2].Seq, Hash: rs[2].Hash}
		}, "", 0},
		{"altered", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) {
			rs[3].Outcome = "404"
			return rs, &h
		}, audit.Altered, 4},
		{"altered with its hash recomputed", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) {
			rs[3].ActorName = "someone else"
			rs[3].Hash = audit.Sum(rs[3])
			return rs, &h
		}, audit.Unlinked, 5},
		{"rewritten from a record to the end", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) {
			head := audit.Head{Seq: rs[2].Seq, Hash: rs[2].Hash}
			for i := 3; i < len(rs); i++ {
				rs[i].Detail = "forged"
				rs[i], head = audit.Seal(rs[i], head)
			}
			return rs, &h
		}, audit.HeadMismatch, 6},
		{"deleted in the middle", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) {
			return append(rs[:2:2], rs[3:]...), &h
		}, audit.Missing, 3},
		{"first deleted", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) { return rs[1:], &h }, audit.Missing, 1},
		{"duplicate", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) {
			return append(rs[:3:3], rs[2:]...), &h
		}, audit.Duplicate, 3},
		{"last deleted", func(rs []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) { return rs[:len(rs)-1], &h }, audit.Truncated, 6},
		{"all deleted", func(_ []audit.Record, h audit.Head) ([]audit.Record, *audit.Head) { return nil, &h }, audit.Truncated, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, head := chain(6)
			got := verify(c.tamper(rs, head))
			if c.problem == "" {
				if got != nil {
					t.Fatalf("intact chain: %v", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("want %s at seq %d, chain passed", c.problem, c.seq)
			}
			if got.Problem != c.problem || got.Seq != c.seq {
				t.Fatalf("got %s at seq %d (%v), want %s at seq %d", got.Problem, got.Seq, got, c.problem, c.seq)
			}
		})
	}
}

func TestEncodeIsUnambiguous(t *testing.T) {
	a := audit.Record{Instance: "ab", ActorName: "c"}
	b := audit.Record{Instance: "a", ActorName: "bc"}
	if audit.Sum(a) == audit.Sum(b) {
		t.Fatal("fields that shift bytes between them hash alike")
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 999, time.UTC)
	r, _ := audit.Seal(audit.Record{Instance: "x", At: at}, audit.Head{})
	if !r.At.Equal(at.Truncate(time.Second)) || r.Seq != 1 || r.PrevHash != "" || len(r.Hash) != 64 {
		t.Fatalf("sealed first record: %+v", r)
	}
}
