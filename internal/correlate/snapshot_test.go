package correlate_test

import (
	"bytes"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/correlate"
)

const snapRules = mixed + `---
title: Avg
id: avg
correlation: {type: value_avg, rules: b, group-by: [Host], timespan: 10m, condition: {field: Bytes, gt: 0.25}}
---
title: Distinct users
id: users
correlation: {type: value_count, rules: a, group-by: [Host], timespan: 10m, condition: {field: User, gte: 2}}
`

// TestSnapshotWritesWhatEncodingJSONWrote: the hand-written snapshot is,
// byte for byte, encoding/json's encoding of the former snapshot structs
// (without HTML escaping) at every step of a random run over every kind of
// state (windows, episodes with shares, values and fractional metrics,
// strings needing escapes, invalid UTF-8, empty share fields), and an
// engine restored from it writes the same bytes again.
func TestSnapshotWritesWhatEncodingJSONWrote(t *testing.T) {
	set, rej := compile(t, snapRules)
	if len(rej) > 0 {
		t.Fatal(rej)
	}
	rng := rand.New(rand.NewSource(7))
	odd := []string{"alice", `bo"b\`, "<script>&", "é日本\u2028", "bad\xffutf8", "", "tab\there"}
	shares := []correlate.Share{{Org: "altyn-grid", Object: "altyn-scada", Sector: "energy", OISC: "oisc-almaty"},
		{Org: "bank<&>", OISC: "oisc-astana"}, {}, {Sector: "health"}}
	eng := correlate.NewEngine(set, correlate.Options{MaxGroups: 40, MaxBytes: 64 << 10, MaxEventIDs: 5})
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := range 3000 {
		s := correlate.Signal{EventID: "ev-" + strconv.Itoa(i%2500), Time: at.Add(time.Duration(i)*700*time.Millisecond - time.Duration(rng.Intn(200))*time.Second),
			Share: shares[rng.Intn(len(shares))]}
		switch rng.Intn(4) {
		case 0:
			s.Correlation, s.Rule, s.Group = "count", "a", []string{odd[rng.Intn(len(odd))]}
		case 1:
			s.Correlation, s.Rule, s.Group, s.Value = "distinct", "b", []string{odd[rng.Intn(len(odd))]}, "host-"+strconv.Itoa(rng.Intn(4))
		case 2:
			s.Correlation, s.Rule, s.Group, s.Value = "avg", "b", []string{odd[rng.Intn(len(odd))]}, strconv.FormatFloat(rng.Float64()*float64(rng.Intn(3)), 'f', -1, 64)
		default:
			s.Correlation, s.Rule, s.Group, s.Value = "users", "a", []string{"h" + strconv.Itoa(rng.Intn(3))}, odd[rng.Intn(len(odd))]
		}
		_, _ = eng.Apply(s) // late and invalid signals are part of the state too (counters)
		if i%97 != 0 {
			continue
		}
		got, err := eng.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		want, err := correlate.SnapshotReference(eng)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			n := 0
			for n < len(got) && n < len(want) && got[n] == want[n] {
				n++
			}
			t.Fatalf("signal %d: snapshot differs at byte %d:\n got %.200s\nwant %.200s", i, n, got[n:], want[n:])
		}
		again := correlate.NewEngine(set, correlate.Options{MaxGroups: 40, MaxBytes: 64 << 10, MaxEventIDs: 5})
		if err := again.Restore(got); err != nil {
			t.Fatalf("signal %d: restore: %v", i, err)
		}
		// Invalid UTF-8 was written as \ufffd, which reads back as the
		// replacement character itself.
		want = bytes.ReplaceAll(got, []byte(`\ufffd`), []byte("\ufffd"))
		if b, err := again.Snapshot(); err != nil || !bytes.Equal(b, want) {
			n := 0
			for n < len(b) && n < len(want) && b[n] == want[n] {
				n++
			}
			t.Fatalf("signal %d: the restored engine writes another snapshot (%v) at byte %d:\n got %.200s\nwant %.200s", i, err, n, b[n:], want[n:])
		}
	}
	c := eng.Counters()
	if c.Opened == 0 || c.Evicted == 0 || c.Late == 0 {
		t.Errorf("the run did not reach every kind of state: %+v", c)
	}
}
