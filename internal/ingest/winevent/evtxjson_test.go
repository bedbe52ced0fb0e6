package winevent_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kuzet-kz/kuzet/internal/conformance"
	"github.com/kuzet-kz/kuzet/internal/ingest/jsonl"
	"github.com/kuzet-kz/kuzet/internal/ingest/winevent"
)

// sameAsFlatten checks FlattenEvtxJSON against decoding then Flatten: when
// it reads a document, the fields and time are Flatten's.
func sameAsFlatten(t *testing.T, s string) bool {
	t.Helper()
	f, tm, ok := winevent.FlattenEvtxJSON(s)
	if !ok {
		return false
	}
	doc, err := jsonl.Decode([]byte(s))
	if err != nil {
		t.Fatalf("FlattenEvtxJSON read %q, which does not decode: %v", s, err)
	}
	want, wt, err := winevent.Flatten(doc)
	if err != nil {
		t.Fatalf("FlattenEvtxJSON read %q, which Flatten rejects: %v", s, err)
	}
	if !reflect.DeepEqual(f, want) || !tm.Equal(wt) {
		t.Fatalf("%q:\n got %#v %v\nwant %#v %v", s, f, tm, want, wt)
	}
	return true
}

var evtxSeeds = []string{
	`{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F"}},"EventID":1,"Keywords":"0x8000000000000000","TimeCreated":{"#attributes":{"SystemTime":"2026-11-24T10:00:01.123456Z"}},"Correlation":null,"Execution":{"#attributes":{"ProcessID":3544}},"Channel":"Sysmon","Computer":"ws-7"},"EventData":{"Image":"C:\\cmd.exe","LogonId":"0x00003E7","Product Name":"x","Nested":{"#text":"t"},"B":[1.0,"0xFF"],"#attributes":{"x":1}}}}`,
	`{"Event":{"System":{"EventID":{"#text":"4625","#attributes":{"Qualifiers":"0"}},"Channel":"Security"},"UserData":{"LogFileCleared":{"SubjectUserName":"bob"}}}}`,
	`{"Event":{"System":{"EventID":"4688","Level":0.5},"EventData":null}}`,
	`{"Event":{"System":{"EventID":1},"EventData":"text"}}`,
	`{"x":1,"Event":{"System":{"EventID":1,"T":{"#attributes":1,"#text":2}}},"y":[1,2]}`,
	`{"Event":{"System":{"EventID":1,"T":{"#attributes":{"a":1},"#attributes":{"b":2}}}}}`,
	// Shapes it leaves to Flatten.
	`{"Event":{"System":{"EventID":1},"EventData":{"Wrap":{"A":1}}}}`,
	`{"Event":{"System":{"EventID":1},"EventData":{"A B":1,"AB":2}}}`,
	`{"Event":{"System":{"EventID":1,"A_b":1,"A":{"#attributes":{"b":2}}}}}`,
	`{"Event":{"EventData":{"A":1},"System":{"EventID":1}}}`,
	`{"Event":{"System":{"EventID":1,"EventID":2}}}`,
	`{"Event":{"System":{"EventID":1}},"Event":{"System":{"EventID":2}}}`,
	`{"Event":{"System":{"Channel":"x"}}}`,
	`{"winlog":{"event_id":1}}`,
	`{"EventID":1}`,
	`{"Event":{"System":{"EventID":1}}`,
	`{"Event":{"System":{"EventID":1}}} x`,
}

func TestFlattenEvtxJSON(t *testing.T) {
	read := 0
	for _, s := range evtxSeeds {
		if sameAsFlatten(t, s) {
			read++
		}
	}
	if read != 6 {
		t.Errorf("read %d of the seeds, want the 6 of evtx_dump's shape", read)
	}
	// Every SigmaHQ regression event (evtx_dump) is read, as Flatten does.
	n := 0
	for _, f := range conformance.RegressionFiles(t) {
		for _, m := range conformance.JSONValues(t, f) {
			var b bytes.Buffer
			_ = json.Compact(&b, m)
			if !sameAsFlatten(t, b.String()) {
				t.Errorf("%s: not read in one pass", f)
			}
			n++
		}
	}
	if n < 200 {
		t.Errorf("%d regression events", n)
	}
}

func FuzzFlattenEvtxJSON(f *testing.F) {
	for _, s := range evtxSeeds {
		f.Add(s)
		f.Add(strings.ReplaceAll(s, ",", ", "))
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		sameAsFlatten(t, s)
	})
}
