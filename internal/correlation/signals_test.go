package correlation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kuzet-kz/kuzet/internal/bus"
	"github.com/kuzet-kz/kuzet/internal/correlate"
)

func testSignals(key string, n int) SignalGroup {
	g := SignalGroup{Key: key}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := range n {
		g.Signals = append(g.Signals, correlate.Signal{Correlation: fmt.Sprintf("corr-%d", i%3), Rule: "base",
			EventID: fmt.Sprintf("%s-ev-%04d", key, i), Time: at.Add(time.Duration(i) * time.Second),
			Group: []string{fmt.Sprintf("10.0.0.%d", i%7)}, Value: strings.Repeat("v", i%400),
			Share: correlate.Share{Org: "org", OISC: "oisc-a"}})
	}
	return g
}

// TestSignalMessages: every signal reaches its partition once, in its
// envelope's order, in messages under the bound whose ids name the
// envelope, partition and chunk; encoding again gives the same messages.
func TestSignalMessages(t *testing.T) {
	const parts = 4
	groups := []SignalGroup{testSignals("c1-1", 3000), testSignals("c1-2", 5), {Key: "c1-3"}}
	msgs, err := SignalMessages(groups, parts)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := SignalMessages(groups, parts)
	if fmt.Sprint(again) != fmt.Sprint(msgs) {
		t.Fatal("encoding the same groups twice gave different messages")
	}
	got := map[string][]string{} // subject -> event ids in order
	ids := map[string]bool{}
	chunked := false
	for _, m := range msgs {
		if len(m.Data) > MaxSignalMessage {
			t.Errorf("message %s holds %d bytes, over %d", m.ID, len(m.Data), MaxSignalMessage)
		}
		if ids[m.ID] {
			t.Errorf("message id %s twice", m.ID)
		}
		ids[m.ID] = true
		if strings.HasSuffix(m.ID, "/1") {
			chunked = true
		}
		sigs, err := decodeSignals(m.Data)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		for _, s := range sigs {
			if want := bus.StageSubject(Group, correlate.Partition(s.Correlation, s.Group, parts)); m.Subject != want {
				t.Errorf("signal %s on %s, want %s", s.EventID, m.Subject, want)
			}
			if !strings.HasPrefix(m.ID, strings.SplitN(s.EventID, "-ev-", 2)[0]+"/") {
				t.Errorf("signal %s in message %s of another envelope", s.EventID, m.ID)
			}
			got[m.Subject] = append(got[m.Subject], s.EventID)
		}
	}
	if !chunked {
		t.Error("3,000 signals of up to 400 bytes fit in one message per partition: the split is not exercised")
	}
	want := map[string][]string{}
	for _, g := range groups {
		for _, s := range g.Signals {
			sub := bus.StageSubject(Group, correlate.Partition(s.Correlation, s.Group, parts))
			want[sub] = append(want[sub], s.EventID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("signals per partition differ from the groups' (got %d partitions, want %d)", len(got), len(want))
	}
}

// TestDecodeSignalsOneObject: a message written before batches (one
// signal object) still decodes; garbage does not.
func TestDecodeSignalsOneObject(t *testing.T) {
	data, _ := json.Marshal(testSignals("k", 1).Signals[0])
	sigs, err := decodeSignals(data)
	if err != nil || len(sigs) != 1 || sigs[0].EventID != "k-ev-0000" {
		t.Fatalf("decodeSignals(one) = %v, %v", sigs, err)
	}
	for _, bad := range []string{"", "[", "{", "nope", `[{"Time":"x"}]`} {
		if _, err := decodeSignals([]byte(bad)); err == nil {
			t.Errorf("decodeSignals(%q) succeeded", bad)
		}
	}
}
